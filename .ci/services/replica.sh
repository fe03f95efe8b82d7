#!/usr/bin/env bash
# A PostgreSQL streaming replica (hot standby) of the local primary, for the replica tests.
#
#   .ci/services/replica.sh start    # base backup of 127.0.0.1:5432, standby on 127.0.0.1:5433
#   .ci/services/replica.sh status
#   .ci/services/replica.sh stop     # stop it and remove its directory
#
# For a machine like CI's: root, Debian, PostgreSQL from the Debian packages, the primary
# running (pg_ctlcluster) with trust on 127.0.0.1. `start` when it already runs and `stop`
# when it does not are no-ops. The standby's data directory is a throwaway under
# REPLICA_BASE; nothing is left on the primary but (if it was missing) one pg_hba.conf line
# letting postgres open replication connections from 127.0.0.1.
#
# Environment: PRIMARY_HOST (127.0.0.1), PRIMARY_PORT (5432), REPLICA_PORT (5433),
# REPLICA_BASE (/var/lib/postgresql/ci-replica-$REPLICA_PORT), PG_USER (postgres).
set -euo pipefail

PRIMARY_HOST=${PRIMARY_HOST:-127.0.0.1}
PRIMARY_PORT=${PRIMARY_PORT:-5432}
REPLICA_PORT=${REPLICA_PORT:-5433}
PG_USER=${PG_USER:-postgres}
REPLICA_BASE=${REPLICA_BASE:-/var/lib/postgresql/ci-replica-$REPLICA_PORT}
DATA="$REPLICA_BASE/data"
LOG="$REPLICA_BASE/postgresql.log"
HBA_MARK="# ci replica (.ci/services/replica.sh)"

say() { echo "replica: $*"; }
die() { echo "replica: ERROR: $*" >&2; exit 1; }
as_pg() { if [ "$(id -un)" = "$PG_USER" ]; then "$@"; else runuser -u "$PG_USER" -- "$@"; fi; }
primary_sql() { psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$PG_USER" -XAtqc "$1" postgres; }
replica_sql() { psql -h 127.0.0.1 -p "$REPLICA_PORT" -U "$PG_USER" -XAtqc "$1" postgres; }

bindir() {
  # The primary's major version picks the binaries (pg_basebackup and pg_ctl must match it);
  # an existing standby's own version, so that `stop` works with the primary down.
  local major
  if [ -f "$DATA/PG_VERSION" ]; then
    major=$(cat "$DATA/PG_VERSION")
  else
    major=$(primary_sql "SHOW server_version_num") || die "primary $PRIMARY_HOST:$PRIMARY_PORT does not answer"
    major=$((major / 10000))
  fi
  local dir="/usr/lib/postgresql/$major/bin"
  [ -x "$dir/pg_ctl" ] || dir=$(pg_config --bindir 2>/dev/null || true)
  [ -x "$dir/pg_ctl" ] || die "no pg_ctl for PostgreSQL $major (looked in /usr/lib/postgresql/$major/bin)"
  echo "$dir"
}

running() { [ -f "$DATA/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

can_replicate() {
  psql "host=$PRIMARY_HOST port=$PRIMARY_PORT user=$PG_USER dbname=replication replication=true" \
    -XAtqc "IDENTIFY_SYSTEM" >/dev/null 2>&1
}

allow_replication() {
  if can_replicate; then
    say "primary accepts replication connections from $PRIMARY_HOST as $PG_USER"
    return
  fi
  local hba
  hba=$(primary_sql "SHOW hba_file")
  [ -w "$hba" ] || die "cannot edit $hba to allow replication connections"
  if ! grep -qF "$HBA_MARK" "$hba"; then
    # First match wins in pg_hba.conf: the line goes before every other rule.
    say "adding to $hba: host replication $PG_USER 127.0.0.1/32 trust"
    local tmp
    tmp=$(mktemp)
    awk -v mark="$HBA_MARK" -v user="$PG_USER" '
      !done && $0 !~ /^[[:space:]]*(#|$)/ {
        print mark; printf "host    replication     %s    127.0.0.1/32    trust\n", user; done = 1
      }
      { print }
      END { if (!done) { print mark; printf "host    replication     %s    127.0.0.1/32    trust\n", user } }
    ' "$hba" >"$tmp"
    cat "$tmp" >"$hba"  # keeps the file's owner and mode
    rm -f "$tmp"
  fi
  say "reloading the primary's configuration"
  primary_sql "SELECT pg_reload_conf()" >/dev/null
  for _ in $(seq 10); do can_replicate && return; sleep 0.5; done
  die "the primary still refuses replication connections (see $hba)"
}

start() {
  pg_isready -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -q || die "primary $PRIMARY_HOST:$PRIMARY_PORT is not running"
  if running; then
    say "already running on port $REPLICA_PORT ($DATA)"
    return
  fi
  if pg_isready -h 127.0.0.1 -p "$REPLICA_PORT" -q; then
    die "port $REPLICA_PORT is taken by another server"
  fi
  local wal_level
  wal_level=$(primary_sql "SHOW wal_level")
  [ "$wal_level" != minimal ] || die "the primary has wal_level=minimal; streaming needs replica"
  allow_replication

  say "base backup of $PRIMARY_HOST:$PRIMARY_PORT into $DATA"
  rm -rf "$REPLICA_BASE"
  install -d -o "$PG_USER" -g "$(id -gn "$PG_USER")" -m 700 "$REPLICA_BASE"
  local started=$SECONDS
  as_pg "$BIN/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$PG_USER" \
    -D "$DATA" -R -X stream -c fast --no-password
  say "base backup done in $((SECONDS - started))s ($(du -sh "$DATA" | cut -f1))"

  # Debian keeps postgresql.conf and pg_hba.conf outside the data directory, so the copy
  # has none: give the standby its own. A hot standby needs these at least as high as on
  # the primary, or it refuses to start.
  local settings=""
  for name in max_connections max_worker_processes max_wal_senders \
    max_prepared_transactions max_locks_per_transaction; do
    settings+="$name = $(primary_sql "SHOW $name")"$'\n'
  done
  as_pg tee "$DATA/postgresql.conf" >/dev/null <<CONF
$HBA_MARK
listen_addresses = '127.0.0.1'
port = $REPLICA_PORT
unix_socket_directories = '$REPLICA_BASE'
hot_standby = on
hot_standby_feedback = on
$settings
CONF
  as_pg tee "$DATA/pg_hba.conf" >/dev/null <<HBA
$HBA_MARK
local   all   all                 trust
host    all   all   127.0.0.1/32  trust
HBA
  as_pg touch "$DATA/pg_ident.conf"

  say "starting the standby on 127.0.0.1:$REPLICA_PORT (log $LOG)"
  as_pg "$BIN/pg_ctl" -D "$DATA" -o "-p $REPLICA_PORT -c hot_standby=on" -l "$LOG" -w -t 60 start >/dev/null \
    || { tail -n 30 "$LOG" >&2; die "the standby did not start"; }
  for _ in $(seq 60); do
    if [ "$(replica_sql "SELECT status FROM pg_stat_wal_receiver" 2>/dev/null)" = streaming ]; then
      break
    fi
    sleep 0.5
  done
  [ "$(replica_sql "SELECT pg_is_in_recovery()")" = t ] || die "port $REPLICA_PORT is not a standby"
  [ "$(replica_sql "SELECT status FROM pg_stat_wal_receiver")" = streaming ] \
    || { tail -n 30 "$LOG" >&2; die "the standby does not stream from the primary"; }
  status
}

status() {
  if ! running; then
    say "not running"
    return 1
  fi
  say "running on 127.0.0.1:$REPLICA_PORT, $(replica_sql "SELECT status FROM pg_stat_wal_receiver"), \
replay lag $(primary_sql "SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0) FROM pg_stat_replication") bytes"
}

stop() {
  if running; then
    say "stopping the standby on port $REPLICA_PORT"
    as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  else
    say "not running"
  fi
  if [ -d "$REPLICA_BASE" ]; then
    say "removing $REPLICA_BASE"
    rm -rf "$REPLICA_BASE"
  fi
}

BIN=""
if [ "${1:-}" = start ] || [ -f "$DATA/PG_VERSION" ]; then BIN=$(bindir); fi
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
