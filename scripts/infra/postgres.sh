#!/usr/bin/env bash
# Local PostgreSQL for development and tests: Debian's cluster 15/main on 127.0.0.1:5432, with the
# roles and databases the services expect (README, configuration). Idempotent: a second `up` changes nothing and is quick.
#
# usage: postgres.sh up|down|status      (as root: installs packages, runs psql as `postgres`)
set -euo pipefail

SERVICES="${CRM_SERVICES:-contacts opportunities campaigns tickets analytics}"
PG_VERSION=15
PG_CLUSTER=main
HOST=127.0.0.1
PORT=5432
MIN_MAX_CONNECTIONS=300 # many parallel test processes, each with its own pool
LOCK_FILE="${TMPDIR:-/tmp}/crm-infra-postgres.lock"
LOCK_FD=""

log() { echo "postgres: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- install and run the cluster ------------------------------------------------------------

# Parallel callers (test workers) would race on CREATE DATABASE: serialise up/down.
lock() {
  exec {LOCK_FD}>"$LOCK_FILE"
  flock "$LOCK_FD"
}

# Runs a command that may leave a server behind, without the lock's fd: a postmaster that
# inherited it would hold the lock for its whole life.
unlocked() {
  "$@" {LOCK_FD}>&-
}

cluster_exists() {
  command -v pg_lsclusters >/dev/null &&
    pg_lsclusters -h 2>/dev/null | awk '{print $1"/"$2}' | grep -qx "$PG_VERSION/$PG_CLUSTER"
}

cluster_online() {
  pg_lsclusters -h 2>/dev/null | awk -v c="$PG_VERSION/$PG_CLUSTER" '$1"/"$2 == c {print $4}' |
    grep -q online
}

# A fresh machine has no PostgreSQL; Debian's package creates and starts cluster 15/main itself,
# but may not start it where there is no init system, and not create it if told not to.
ensure_installed() {
  if [[ ! -x /usr/lib/postgresql/$PG_VERSION/bin/postgres ]]; then
    [[ $EUID -eq 0 ]] || die "PostgreSQL $PG_VERSION is not installed and installing needs root"
    log "installing PostgreSQL $PG_VERSION (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    unlocked apt-get install -y -qq postgresql postgresql-contrib >/dev/null
    # Debian's `postgresql` follows the release (15 on Debian 12); say so rather than fail later.
    [[ -x /usr/lib/postgresql/$PG_VERSION/bin/postgres ]] ||
      die "apt installed another PostgreSQL major version; set PG_VERSION in $0"
  fi
  cluster_exists || unlocked pg_createcluster "$PG_VERSION" "$PG_CLUSTER" >/dev/null
}

start_cluster() {
  cluster_online || unlocked pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start
  wait_ready
}

wait_ready() {
  local deadline=$((SECONDS + 30))
  until pg_isready -q -h "$HOST" -p "$PORT"; do
    ((SECONDS < deadline)) || die "not accepting connections on $HOST:$PORT after 30s"
    sleep 0.2
  done
}

# Sized for this machine's work (parallel test pools, million-row imports, ten-million-row
# measures) instead of the stock 128 MB cache and 1 GB of WAL between checkpoints, which made
# a bulk load checkpoint every few seconds. RESTART_SETTINGS only change with a restart: done
# once, on the first `up` that sees one of them differ; the others need a reload only.
RESTART_SETTINGS="max_connections=$MIN_MAX_CONNECTIONS shared_buffers=2GB"
RELOAD_SETTINGS="max_wal_size=8GB checkpoint_timeout=15min wal_compression=lz4"

ensure_server_settings() {
  local pair name value restart=0
  for pair in $RESTART_SETTINGS $RELOAD_SETTINGS; do
    name="${pair%%=*}" value="${pair#*=}"
    [[ $(psql_admin postgres -tAc "SHOW $name") == "$value" ]] && continue
    log "setting $name = $value"
    psql_admin postgres -c "ALTER SYSTEM SET $name = '$value'" >/dev/null
    [[ " $RESTART_SETTINGS " == *" $pair "* ]] && restart=1
  done
  if ((restart)); then
    log "restarting once for the new settings"
    unlocked pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart
    wait_ready
  else
    psql_admin postgres -c "SELECT pg_reload_conf()" >/dev/null
  fi
}

# Debian turns TLS on with a snakeoil certificate; this cluster listens on the loopback only,
# where TLS buys nothing and costs clients about a third of their CPU per statement.
ensure_plaintext_loopback() {
  [[ $(psql_admin postgres -tAc 'SHOW ssl') == off ]] && return 0
  log "turning TLS off (loopback only)"
  psql_admin postgres -c "ALTER SYSTEM SET ssl = off" -c "SELECT pg_reload_conf()" >/dev/null
}

# --- roles, databases, grants ---------------------------------------------------------------

# psql as the postgres superuser over the Unix socket (peer auth), quiet: notices such as
# "extension already exists" are not news on a re-run. cd / because the postgres user may not
# be allowed into the caller's directory.
psql_admin() {
  local db="$1"
  shift
  (cd / && runuser -u postgres -- env PGOPTIONS='-c client_min_messages=warning' \
    psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" -d "$db" "$@")
}

# crm_owner owns and migrates everything; crm_app only reads and writes rows, owns nothing and
# cannot bypass row-level security. ALTER ROLE re-asserts the attributes on every run.
ensure_roles() {
  psql_admin postgres <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crm_owner') THEN
    CREATE ROLE crm_owner;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crm_app') THEN
    CREATE ROLE crm_app;
  END IF;
END
$$;
ALTER ROLE crm_owner LOGIN PASSWORD 'crm_owner' NOSUPERUSER NOBYPASSRLS;
ALTER ROLE crm_app LOGIN PASSWORD 'crm_app' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
SQL
}

database_names() {
  local svc
  for svc in $SERVICES; do
    echo "crm_$svc" "crm_${svc}_test"
  done
}

# CREATE DATABASE cannot run in a transaction or a DO block: \gexec runs each generated statement
# on its own, and only for the databases that are missing.
ensure_databases() {
  local names
  names="$(database_names | tr ' ' '\n' | paste -sd, -)"
  psql_admin postgres -v names="$names" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER crm_owner', d)
FROM unnest(string_to_array(:'names', ',')) AS d
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d)
\gexec
SELECT format('ALTER DATABASE %I OWNER TO crm_owner', d)
FROM unnest(string_to_array(:'names', ',')) AS d
\gexec
SQL
}

# One psql session for all databases (\connect between them) keeps a re-run fast. No default
# privileges: each migration grants crm_app exactly what it needs per table (append-only tables
# get SELECT, INSERT only), so the grants are the same here, in CI and on a managed server; the
# REVOKEs undo the blanket defaults an earlier version of this script set.
ensure_grants() {
  local db
  for db in $(database_names); do
    cat <<SQL
\\connect $db
CREATE EXTENSION IF NOT EXISTS pg_trgm;
GRANT CONNECT ON DATABASE $db TO crm_app;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO crm_owner;
GRANT USAGE ON SCHEMA public TO crm_app;
ALTER DEFAULT PRIVILEGES FOR ROLE crm_owner IN SCHEMA public
  REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM crm_app;
ALTER DEFAULT PRIVILEGES FOR ROLE crm_owner IN SCHEMA public
  REVOKE USAGE, SELECT ON SEQUENCES FROM crm_app;
SQL
  done | psql_admin postgres
}

# --- commands ---------------------------------------------------------------------------------

cmd_up() {
  ensure_installed
  start_cluster
  ensure_server_settings
  ensure_plaintext_loopback
  ensure_roles
  ensure_databases
  ensure_grants
}

cmd_down() {
  cluster_exists || return 0
  cluster_online && pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop
  return 0
}

cmd_status() {
  if cluster_exists && pg_isready -q -h "$HOST" -p "$PORT"; then
    echo "postgres: running ($PG_VERSION/$PG_CLUSTER, $HOST:$PORT)"
  else
    echo "postgres: stopped"
    return 1
  fi
}

main() {
  case "${1:-}" in
    up) lock && cmd_up ;;
    down) lock && cmd_down ;;
    status) cmd_status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
  esac
}

main "$@"
