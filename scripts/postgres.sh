#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test-suite (never for production data).
#   scripts/postgres.sh start   start it if it is not running (idempotent); prints its URL
#   scripts/postgres.sh stop    stop it
#   scripts/postgres.sh url     print the URL
# Data under ${HALOSCOPE_PG_DIR:-/tmp/haloscope-pg}; listens on 127.0.0.1:${HALOSCOPE_PG_PORT:-55432}
# with trust authentication on loopback; durability is switched off for speed.
set -euo pipefail

PG_DIR=${HALOSCOPE_PG_DIR:-/tmp/haloscope-pg}
PG_PORT=${HALOSCOPE_PG_PORT:-55432}
PG_DB=haloscope_test
DATA="$PG_DIR/data"
URL="postgresql://postgres@127.0.0.1:$PG_PORT/$PG_DB"

log() { echo "postgres.sh: $*" >&2; }

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

find_bindir() {
  local dirs
  dirs=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$dirs" ]; then
    log "PostgreSQL binaries not found; installing the Debian package 'postgresql'"
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 \
      || { sudo_if_needed apt-get update -qq >&2 \
        && sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2; }
    dirs=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  fi
  [ -n "$dirs" ] || { log "PostgreSQL binaries still missing after apt-get install"; exit 1; }
  echo "$dirs"
}

# initdb and the server refuse to run as root: run them as the 'postgres' user then.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

is_running() { as_owner "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1; }

start() {
  mkdir -p "$PG_DIR"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$PG_DIR"
  if [ ! -f "$DATA/PG_VERSION" ]; then
    as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      --no-sync >"$PG_DIR/initdb.log" 2>&1 \
      || { log "initdb failed:"; cat "$PG_DIR/initdb.log" >&2; exit 1; }
  fi
  if ! is_running; then
    if ! as_owner "$BIN/pg_ctl" start -D "$DATA" -l "$PG_DIR/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off \
          -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      >&2 9>&-; then  # the server must not inherit (and hold) the lock
      log "the server did not start; end of $PG_DIR/server.log:"
      tail -n 20 "$PG_DIR/server.log" >&2
      exit 1
    fi
  fi
  local psql=("$BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != "1" ]; then
    "${psql[@]}" -c "CREATE DATABASE $PG_DB" >/dev/null
  fi
  echo "$URL"
}

stop() {
  if [ -f "$DATA/PG_VERSION" ] && is_running; then
    as_owner "$BIN/pg_ctl" stop -D "$DATA" -m fast -w >&2
  fi
}

case "${1:-}" in
  start | stop)
    BIN=$(find_bindir)
    mkdir -p "$PG_DIR"
    exec 9>"$PG_DIR/.lock"
    flock 9  # concurrent callers (make test, pytest fixtures) start it once
    "$1"
    ;;
  url) echo "$URL" ;;
  *)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
