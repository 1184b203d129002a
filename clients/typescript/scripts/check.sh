#!/usr/bin/env bash
# CI for the contracts frontend and ERP teams use (`make clients`):
# the TypeScript types are not stale, the client and examples type-check, and the AsyncAPI
# document passes the official parser.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --silent
fresh=$(mktemp --suffix=.d.ts)
trap 'rm -f "$fresh"' EXIT
npx --no-install openapi-typescript ../../docs/openapi/crm.json -o "$fresh" --silent
if ! diff -q src/schema.d.ts "$fresh" >/dev/null; then
  echo "clients/typescript/src/schema.d.ts is stale: run 'make docs' and commit it" >&2
  exit 1
fi
npx --no-install tsc --noEmit -p tsconfig.json
node scripts/validate-asyncapi.mjs ../../docs/asyncapi.json
