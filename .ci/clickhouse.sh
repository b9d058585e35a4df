# shellcheck shell=bash
# ClickHouse test server for CI and local runs. Source this file, then:
#
#   ch_install   install Debian's clickhouse-server and clickhouse-client if missing
#   ch_start     start a private server (config deploy/clickhouse/ci/), wait for
#                its ping, export FOLIO_CLICKHOUSE_TEST_DSN; fails loudly
#   ch_stop      stop that server by its PID and delete its data
#
# The server is our own process, never Debian's service: the init script
# stops every clickhouse-server on the machine. It listens on loopback only,
# on non-default ports (native 19000, HTTP 18123; override with
# CH_TCP_PORT / CH_HTTP_PORT), and keeps its data and logs in a fresh run
# directory (CH_RUN_DIR, default .ci/clickhouse-run/ in the checkout, ignored
# by git). Locally:
#
#   source .ci/clickhouse.sh && ch_start && go test ./internal/store/clickhouse/...; ch_stop

CH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CH_CONFIG="$CH_ROOT/deploy/clickhouse/ci/config.xml"
CH_RUN_DIR="${CH_RUN_DIR:-$CH_ROOT/.ci/clickhouse-run}"
CH_TCP_PORT="${CH_TCP_PORT:-19000}"
CH_HTTP_PORT="${CH_HTTP_PORT:-18123}"
CH_START_TIMEOUT="${CH_START_TIMEOUT:-60}"

ch_log() { echo "clickhouse: $*" >&2; }

# ch_install installs the server and client from Debian when either is missing.
ch_install() {
  if command -v clickhouse-server >/dev/null 2>&1 && command -v clickhouse-client >/dev/null 2>&1; then
    return 0
  fi
  ch_log "installing clickhouse-server and clickhouse-client"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y clickhouse-server clickhouse-client
}

# ch_ping succeeds when the server answers a query on the native port.
ch_ping() {
  clickhouse-client --host 127.0.0.1 --port "$CH_TCP_PORT" --query 'SELECT 1' >/dev/null 2>&1
}

# ch_pid prints the PID of the server ch_start started, if it still runs.
ch_pid() {
  local pid
  [ -f "$CH_RUN_DIR/pid" ] || return 1
  pid="$(cat "$CH_RUN_DIR/pid")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # Only ever our server: the PID must still be a clickhouse-server.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "clickhouse-server .*$CH_CONFIG" || return 1
  echo "$pid"
}

# ch_start starts the server and waits for its ping; it returns non-zero,
# with the server's logs, when the server does not come up.
ch_start() {
  local pid
  if pid="$(ch_pid)"; then
    ch_log "stopping the server a previous run left (pid $pid)"
    ch_stop
  fi
  if ch_ping; then
    ch_log "FAILED: something already answers on 127.0.0.1:$CH_TCP_PORT (set CH_TCP_PORT/CH_HTTP_PORT)"
    return 1
  fi
  command -v clickhouse-server >/dev/null 2>&1 || { ch_log "FAILED: clickhouse-server is not installed (ch_install)"; return 1; }
  rm -rf "$CH_RUN_DIR"
  mkdir -p "$CH_RUN_DIR"
  # Every path in the config is relative to the run directory.
  (
    cd "$CH_RUN_DIR" &&
      exec clickhouse-server --config-file="$CH_CONFIG" -- \
        --tcp_port="$CH_TCP_PORT" --http_port="$CH_HTTP_PORT" >stdout.log 2>&1
  ) &
  pid=$!
  echo "$pid" >"$CH_RUN_DIR/pid"
  local waited=0
  until ch_ping; do
    if ! kill -0 "$pid" 2>/dev/null; then
      ch_log "FAILED: the server (pid $pid) exited during start-up; its logs:"
      tail -n 50 "$CH_RUN_DIR"/stdout.log "$CH_RUN_DIR"/server.err.log >&2 2>/dev/null || true
      return 1
    fi
    if [ "$waited" -ge $((CH_START_TIMEOUT * 5)) ]; then
      ch_log "FAILED: no answer on 127.0.0.1:$CH_TCP_PORT after ${CH_START_TIMEOUT}s; its logs:"
      tail -n 50 "$CH_RUN_DIR"/stdout.log "$CH_RUN_DIR"/server.err.log >&2 2>/dev/null || true
      ch_stop
      return 1
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
  export FOLIO_CLICKHOUSE_TEST_DSN="clickhouse://127.0.0.1:$CH_TCP_PORT/default"
  ch_log "server $(clickhouse-client --host 127.0.0.1 --port "$CH_TCP_PORT" --query 'SELECT version()') up (pid $pid), FOLIO_CLICKHOUSE_TEST_DSN=$FOLIO_CLICKHOUSE_TEST_DSN"
}

# ch_stop stops the server ch_start started (SIGTERM, then SIGKILL after 30 s)
# and deletes its data; the logs stay in the run directory.
ch_stop() {
  local pid i
  pid="$(ch_pid)" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    ch_log "server (pid $pid) ignored SIGTERM for 30s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$CH_RUN_DIR/pid"
  rm -rf "$CH_RUN_DIR/data"
  ch_log "server (pid $pid) stopped"
}
