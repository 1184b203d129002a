#!/usr/bin/env bash
# Start the local infrastructure (what `make infra-up` runs). Idempotent: when both are already
# up this returns in well under a second.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

"$HERE/postgres.sh" up
"$HERE/kafka.sh" up
