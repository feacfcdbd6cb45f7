#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster started in a temporary directory.
# Usage: scripts/with-postgres.sh <command...>   (DATABASE_URL is exported for the command)
# Installs Debian's postgresql if no PostgreSQL binaries are found. Non-durable settings for speed, unless
# PG_DURABLE=1 (the benchmarks: fsync, synchronous commit and full-page writes as in production).
# PG_OPTIONS: more server settings, e.g. "-c shared_preload_libraries=pg_stat_statements" (bench --server-statements).
set -euo pipefail

find_bin() {
  if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

PG_BIN=$(find_bin || true)
if [ -z "${PG_BIN}" ] || [ ! -x "${PG_BIN}/initdb" ]; then
  echo "PostgreSQL binaries not found: installing Debian's postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq postgresql >/dev/null
  PG_BIN=$(find_bin)
fi

WORK=$(mktemp -d /tmp/parcours-pg.XXXXXX)
PORT=${PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

# PostgreSQL refuses to run as root: run the server as an unprivileged account.
RUN=()
if [ "$(id -u)" -eq 0 ]; then
  id parcours-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin parcours-pg
  chown parcours-pg "$WORK"
  RUN=(runuser -u parcours-pg --)
fi

cleanup() {
  "${RUN[@]}" "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"${RUN[@]}" "$PG_BIN/initdb" -D "$WORK/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
SPEED="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
[ "${PG_DURABLE:-0}" = "1" ] && SPEED="-c shared_buffers=${PG_SHARED_BUFFERS:-512MB} -c max_wal_size=4GB"
"${RUN[@]}" "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w \
  -o "-p $PORT -k $WORK -c listen_addresses=127.0.0.1 -c max_connections=200 $SPEED ${PG_OPTIONS:-}" \
  start >/dev/null
echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') running on 127.0.0.1:$PORT" >&2

"${RUN[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres parcours
export DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/parcours"
"$@"
