#!/usr/bin/env bash
# Run a command with a throwaway Redis server (REDIS_URL exported), installing Debian's redis-server if absent.
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server not found: installing Debian's redis-server" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
WORK=$(mktemp -d /tmp/parcours-redis.XXXXXX)
PORT=${REDIS_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" --daemonize yes \
  --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log"
# Stop Redis and wait for it to be gone before removing its directory (it still writes its log and pid file while
# stopping: an early rm failed with "Directory not empty" and turned a green run red). Never changes the exit status.
cleanup() {
  local pid=""
  [ -f "$WORK/redis.pid" ] && pid=$(cat "$WORK/redis.pid" 2>/dev/null || true)
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$WORK" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
echo "Redis running on 127.0.0.1:$PORT" >&2
export REDIS_URL="redis://127.0.0.1:$PORT/0"
"$@"
