#!/usr/bin/env bash
# An S3-compatible server for the tests: moto's standalone server from the venv.
#   bash .ci/services/s3.sh start   # start (or find) it; prints the endpoint
#   bash .ci/services/s3.sh stop    # stop the one this script started
# Both are idempotent. The tests use it when S3_TEST_ENDPOINT is set to the printed URL.
# S3_HOST / S3_PORT change where it listens (default 127.0.0.1:5055).
set -euo pipefail
cd "$(dirname "$0")/../.."

HOST="${S3_HOST:-127.0.0.1}"
PORT="${S3_PORT:-5055}"
ENDPOINT="http://$HOST:$PORT"
VENV="${VENV:-.venv}"
PIDFILE="var/moto_server-$PORT.pid"
LOGFILE="var/moto_server-$PORT.log"

answers() {
  # moto answers GET / with the (possibly empty) list of buckets.
  "$VENV/bin/python" - "$ENDPOINT" <<'PY' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/", timeout=1).read()
PY
}

ours() {
  # The recorded process is alive and is still moto_server (not a reused pid).
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q moto_server
}

start() {
  if answers; then
    echo "$ENDPOINT"
    return 0
  fi
  if [[ ! -x "$VENV/bin/moto_server" ]]; then
    echo "s3.sh: $VENV/bin/moto_server not found; pip install -r requirements-dev.txt" >&2
    return 1
  fi
  mkdir -p var
  # setsid: its own session, so it outlives this shell and a stop ends it alone.
  setsid "$VENV/bin/moto_server" -H "$HOST" -p "$PORT" >"$LOGFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 100); do
    if answers; then
      echo "$ENDPOINT"
      return 0
    fi
    if ! ours; then
      break
    fi
    sleep 0.2
  done
  echo "s3.sh: moto_server did not answer on $ENDPOINT; see $LOGFILE" >&2
  stop >/dev/null
  return 1
}

stop() {
  if ours; then
    local pid
    pid="$(cat "$PIDFILE")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    echo "stopped moto_server on $ENDPOINT (pid $pid)"
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
