#!/usr/bin/env bash
# Local single-node Kafka (KRaft, broker + controller in one JVM) without Docker or a tarball:
# the broker's jars come from Maven Central through Maven, the state lives under .local/kafka.
#
# usage: kafka.sh up|down|status|restart
#   env: KAFKA_VERSION (4.3.1), CRM_CACHE_DIR (~/.cache/crm), CRM_STATE_DIR (<repo>/.local),
#        KAFKA_HEAP_OPTS (-Xms256m -Xmx512m), KAFKA_START_TIMEOUT (60 s),
#        KAFKA_PORT (9092; the controller listens on the next port), KAFKA_INSTANCE (kafka: the
#        state folder's name, so the tests' broker on 9192 and `make dev`'s never share state)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"

KAFKA_VERSION="${KAFKA_VERSION:-4.3.1}"
CACHE_DIR="${CRM_CACHE_DIR:-$HOME/.cache/crm}/kafka-$KAFKA_VERSION"
LIBS="$CACHE_DIR/libs"
STATE_ROOT="${CRM_STATE_DIR:-$REPO_ROOT/.local}"
STATE_DIR="$STATE_ROOT/${KAFKA_INSTANCE:-kafka}"
DATA_DIR="$STATE_DIR/data"
LOG_DIR="$STATE_DIR/logs"
CONFIG="$STATE_DIR/server.properties"
PID_FILE="$STATE_DIR/kafka.pid"
CLUSTER_ID_FILE="$STATE_DIR/cluster-id"
HOST=127.0.0.1
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT=$((PORT + 1))
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
STOP_TIMEOUT=30
FETCH_TMP=""
LOCK_FD=""

log() { echo "kafka: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- process state ---------------------------------------------------------------------------

# Pid of our broker, or nothing. The cmdline check guards against a recycled pid (after a reboot
# the pid file survives but the number may now belong to anything).
broker_pid() {
  local pid
  [[ -f $PID_FILE ]] || return 0
  pid="$(<"$PID_FILE")"
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *" kafka.Kafka "* ]] && echo "$pid"
  return 0
}

# Cheap check that something listens; bash's /dev/tcp avoids needing nc.
port_open() {
  (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
}

# Real check: the broker answers a Metadata request (see kafka/probe.py for why TCP is not enough).
broker_ready() {
  python3 "$HERE/kafka/probe.py" "$HOST:$PORT" 2>/dev/null
}

# --- preparing jars, config and storage -----------------------------------------------------

# Download kafka_2.13 and its runtime dependencies once per version. Maven writes into a
# temporary directory that is renamed at the end, so an interrupted run never leaves half a cache.
fetch_libs() {
  [[ -d $LIBS ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
  mkdir -p "$CACHE_DIR"
  FETCH_TMP="$(mktemp -d "$CACHE_DIR/libs.tmp.XXXXXX")"
  trap 'rm -rf "$FETCH_TMP"' EXIT # also on Ctrl-C (see the INT trap): no leftovers
  trap 'exit 130' INT TERM
  local out="$FETCH_TMP/mvn.log"
  log "downloading Kafka $KAFKA_VERSION jars into $LIBS (once)"
  if ! mvn -q -B -f "$HERE/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$FETCH_TMP/libs" \
      >"$out" 2>&1; then
    sed 's/\x1b\[[0-9;]*m//g' "$out" >&2 # Debian's Maven 3.8 emits colour codes even with -B
    die "mvn could not fetch Kafka $KAFKA_VERSION (output above)"
  fi
  # A concurrent run may have won the race; theirs is as good as ours.
  mv -T "$FETCH_TMP/libs" "$LIBS" 2>/dev/null || true
  [[ -f $LIBS/kafka_2.13-$KAFKA_VERSION.jar ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing in $LIBS"
}

kafka_java() {
  java -cp "$LIBS/*" "$@"
}

# The state root is inside the repo by default: keep git from ever seeing it.
init_state_dir() {
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  [[ -e $STATE_ROOT/.gitignore ]] || echo '*' >"$STATE_ROOT/.gitignore"
}

# Parallel test workers may all run `up` at once: one starts the broker, the others wait for
# it and find it running. The broker must not inherit the lock's fd (see start_broker).
lock_state() {
  init_state_dir
  exec {LOCK_FD}>"$STATE_DIR/lock"
  flock "$LOCK_FD"
}

# Rendered on every start so a template change takes effect at the next restart.
write_config() {
  sed -e "s|@DATA_DIR@|$DATA_DIR|g" -e "s|@PORT@|$PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
    "$HERE/kafka/server.properties.template" >"$CONFIG.tmp"
  mv "$CONFIG.tmp" "$CONFIG"
}

# KRaft refuses to start on an unformatted log dir. The cluster id is kept so that the format,
# if ever repeated, matches the data already there.
format_storage() {
  [[ -f $DATA_DIR/meta.properties ]] && return 0
  if [[ ! -s $CLUSTER_ID_FILE ]]; then
    kafka_java kafka.tools.StorageTool random-uuid >"$CLUSTER_ID_FILE.tmp"
    mv "$CLUSTER_ID_FILE.tmp" "$CLUSTER_ID_FILE"
  fi
  kafka_java kafka.tools.StorageTool format -t "$(<"$CLUSTER_ID_FILE")" -c "$CONFIG" \
    --standalone --ignore-formatted >"$LOG_DIR/format.log" 2>&1 \
    || { cat "$LOG_DIR/format.log" >&2; die "storage format failed"; }
}

# --- start and stop ---------------------------------------------------------------------------

# setsid detaches the broker from the caller's session, so a Ctrl-C in `make` does not kill it;
# the lock's fd is closed for it, or the broker would hold the lock for its whole life.
start_broker() {
  local -a heap
  read -r -a heap <<<"$HEAP_OPTS"
  log "starting broker on $HOST:$PORT (state: $STATE_DIR)"
  echo "--- kafka.sh: starting broker at $(date -Is)" >>"$LOG_DIR/kafka.out"
  setsid nohup java "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dkafka.logs.dir="$LOG_DIR" -Dlog4j2.configurationFile="$HERE/kafka/log4j2.properties" \
    -cp "$LIBS/*" kafka.Kafka "$CONFIG" >>"$LOG_DIR/kafka.out" 2>&1 </dev/null {LOCK_FD}>&- &
  echo $! >"$PID_FILE"
}

wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT))
  until broker_ready; do
    if [[ -z $(broker_pid) ]]; then
      show_logs
      die "broker exited during startup"
    fi
    if ((SECONDS >= deadline)); then
      show_logs
      die "broker not ready after ${START_TIMEOUT}s"
    fi
    sleep 0.3
  done
}

show_logs() {
  log "last lines of $LOG_DIR/kafka.out and server.log:"
  tail -n 20 "$LOG_DIR/kafka.out" >&2 2>/dev/null || true
  tail -n 30 "$LOG_DIR/server.log" >&2 2>/dev/null || true
}

# SIGTERM lets Kafka flush and close its logs cleanly (a faster restart: no log recovery).
stop_broker() {
  local pid="$1" deadline=$((SECONDS + STOP_TIMEOUT))
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "no exit after ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  # Wait for the kernel to reap it, so the ports are free for an immediate `up`.
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

# --- commands ---------------------------------------------------------------------------------

cmd_up() {
  local pid
  pid="$(broker_pid)"
  if [[ -n $pid ]]; then
    port_open && return 0 # already running: the fast no-op path
    wait_ready            # started by a concurrent `up`, still booting
    return 0
  fi
  port_open && die "$HOST:$PORT is taken by a process not started by this script (pid file $PID_FILE)"
  command -v java >/dev/null || die "java not found (Kafka needs Java 17+)"
  command -v python3 >/dev/null || die "python3 not found (needed for the readiness probe)"
  fetch_libs
  write_config
  format_storage
  start_broker
  wait_ready
  log "ready on $HOST:$PORT"
}

cmd_down() {
  local pid
  pid="$(broker_pid)"
  if [[ -n $pid ]]; then
    stop_broker "$pid"
    log "stopped"
  fi
  rm -f "$PID_FILE"
}

cmd_status() {
  local pid
  pid="$(broker_pid)"
  if [[ -n $pid ]] && broker_ready; then
    echo "kafka: running (pid $pid, $HOST:$PORT)"
  elif [[ -n $pid ]]; then
    echo "kafka: starting or unresponsive (pid $pid)"
    return 1
  else
    echo "kafka: stopped"
    return 1
  fi
}

main() {
  case "${1:-}" in
    up) lock_state && cmd_up ;;
    down) lock_state && cmd_down ;;
    status) cmd_status ;;
    restart) lock_state && cmd_down && cmd_up ;;
    *) echo "usage: $0 up|down|status|restart" >&2; exit 2 ;;
  esac
}

main "$@"
