#!/usr/bin/env bash
# Stop the local infrastructure (what `make infra-down` runs). Data is kept: PostgreSQL's in its
# Debian cluster, Kafka's under .local/kafka; the next `up` brings it back.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

"$HERE/postgres.sh" down
"$HERE/kafka.sh" down
# the tests' broker (tests/conftest.py: TEST_KAFKA_ENV)
KAFKA_PORT=9192 KAFKA_INSTANCE=kafka-test CRM_STATE_DIR="$HOME/.local/state/crm" "$HERE/kafka.sh" down
