#!/usr/bin/env bash
# `make serve`: Parcours as in production, on one machine. Run inside scripts/with-redis.sh and
# scripts/with-postgres.sh (throwaway Redis and PostgreSQL: REDIS_URL and DATABASE_URL are exported by them).
#
#   PostgreSQL roles: parcours_owner (migrations) and parcours_app (everything else), as docs/deploy.md says;
#   release step (deploy/bin/parcours-release): collectstatic, migrate, grants, deployment checks; the demo seed;
#   WORKERS ASGI workers (deploy/bin/parcours-web) on free loopback ports; the timer worker
#   (deploy/bin/parcours-worker); nginx (deploy/nginx/parcours.conf) on SERVE_HOST:SERVE_PORT balancing them, run
#   unprivileged from a generated configuration in a temporary directory. DEBUG=0, e-mails on the console.
#
# Ctrl-C (or SIGTERM) stops every process started here, removes the temporary directory, and the wrappers stop
# Redis and PostgreSQL: nothing is left running.
#
# With arguments (`make soak`: scripts/serve.sh <command…>), the command runs once the stack is ready, with its
# environment and SERVE_WEB_PORTS, SERVE_WEB_PIDS, SERVE_WORKER_PID; then everything stops and its status is ours.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PARCOURS_VENV=${PARCOURS_VENV:-$ROOT/.venv}
PY="$PARCOURS_VENV/bin/python"
SERVE_HOST=${SERVE_HOST:-127.0.0.1}
SERVE_PORT=${SERVE_PORT:-8000}
WORKERS=${WORKERS:-2}
NGINX=${NGINX:-/usr/sbin/nginx}
: "${DATABASE_URL:?run through scripts/with-postgres.sh}" "${REDIS_URL:?run through scripts/with-redis.sh}"

if [ ! -x "$NGINX" ]; then
  echo "nginx not found: installing Debian's nginx" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx >/dev/null
fi

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
secret() { "$PY" -c 'import secrets; print(secrets.token_urlsafe(48))'; }

WORK=$(mktemp -d /tmp/parcours-serve.XXXXXX)
chmod 755 "$WORK"
PIDS=()
stopping=0
stop() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap - INT TERM
  echo "Parcours : arrêt…" >&2
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 150); do
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap stop EXIT
trap 'stop; exit 130' INT TERM

# --- Database roles: the owner runs the migrations, the application owns nothing ----------------------------------
ADMIN_URL=$DATABASE_URL
DB_HOSTPORT=${ADMIN_URL#*@}; DB_HOSTPORT=${DB_HOSTPORT%%/*}
OWNER_PASSWORD=$(secret | tr -dc 'A-Za-z0-9' | head -c 24)
APP_PASSWORD=$(secret | tr -dc 'A-Za-z0-9' | head -c 24)
"$PY" - "$ADMIN_URL" "$OWNER_PASSWORD" "$APP_PASSWORD" <<'EOF'
import sys

import psycopg

url, owner_password, app_password = sys.argv[1:]
with psycopg.connect(url, autocommit=True) as connection:
    connection.execute(f"CREATE ROLE parcours_owner LOGIN PASSWORD '{owner_password}'")
    connection.execute(f"CREATE ROLE parcours_app LOGIN PASSWORD '{app_password}'")
    connection.execute("ALTER DATABASE parcours OWNER TO parcours_owner")
    connection.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    connection.execute("GRANT ALL ON SCHEMA public TO parcours_owner")
EOF
OWNER_URL="postgres://parcours_owner:$OWNER_PASSWORD@$DB_HOSTPORT/parcours"
APP_URL="postgres://parcours_app:$APP_PASSWORD@$DB_HOSTPORT/parcours"

# --- The environment of every process (docs/deploy.md lists it) ----------------------------------------------------
export DEBUG=0
export SECRET_KEY="serve-$(secret)"
export PARCOURS_JOURNAL_KEYS="serve-$(date +%Y%m%d):$(secret)"
export ALLOWED_HOSTS="$SERVE_HOST,localhost,127.0.0.1"
export PARCOURS_BASE_URL="http://$SERVE_HOST:$SERVE_PORT"
export PARCOURS_VAR_DIR="$WORK/var"
export PARCOURS_STATIC_ROOT="$WORK/static"
# Plain HTTP on the loopback (production serves HTTPS: secure cookies, redirect and HSTS stay on there).
export SECURE_COOKIES=0 SECURE_SSL_REDIRECT=0 SECURE_HSTS_SECONDS=0
export PARCOURS_TIMER_INTERVAL=${PARCOURS_TIMER_INTERVAL:-5}
export EMAIL_BACKEND=${EMAIL_BACKEND:-parcours.mail_console.EmailBackend}
export LOG_LEVEL=${LOG_LEVEL:-INFO}
export PYTHONUNBUFFERED=1
mkdir -p "$PARCOURS_VAR_DIR"

# Output of each process, prefixed with its name.
prefixed() {
  local name=$1; shift
  "$@" > >(sed -u "s/^/[$name] /") 2> >(sed -u "s/^/[$name] /" >&2) &
  PIDS+=($!)
}

cd "$ROOT"
echo "Parcours : migrations et fichiers statiques (rôle parcours_owner)…" >&2
# HTTPS is off on purpose here (no certificate): the release's deployment check stops on errors only.
DATABASE_URL=$OWNER_URL PARCOURS_APP_DB_ROLE=parcours_app PARCOURS_RELEASE_CHECK_FAIL_LEVEL=ERROR \
  deploy/bin/parcours-release
chmod -R a+rX "$PARCOURS_STATIC_ROOT"
echo "Parcours : données de démonstration (rôle parcours_app)…" >&2
export DATABASE_URL=$APP_URL
"$PY" manage.py seed_demo -v 0

# --- The ASGI workers, then the timer worker ------------------------------------------------------------------------
UPSTREAMS=""
WEB_PORTS=()
WEB_PIDS=()
for i in $(seq "$WORKERS"); do
  port=$(free_port)
  WEB_PORTS+=("$port")
  prefixed "web-$i" deploy/bin/parcours-web "$port"
  WEB_PIDS+=("${PIDS[-1]}")
  UPSTREAMS+="    server 127.0.0.1:$port max_fails=0;"$'\n'
done
for port in "${WEB_PORTS[@]}"; do
  for _ in $(seq 200); do
    "$PY" -c "import urllib.request, sys; urllib.request.urlopen('http://127.0.0.1:$port/health/ready/', timeout=1)" \
      2>/dev/null && break
    sleep 0.1
  done
done
prefixed worker deploy/bin/parcours-worker
WORKER_PID=${PIDS[-1]}

# --- nginx, unprivileged, from a configuration generated here ------------------------------------------------------
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
python3 - "$ROOT/deploy/nginx/parcours.conf" "$WORK/nginx/parcours.conf" <<EOF
import sys
source, target = sys.argv[1:]
text = open(source).read()
for key, value in {
    "@UPSTREAM_SERVERS@": """$UPSTREAMS""".rstrip("\n"),
    "@LISTEN@": "$SERVE_HOST:$SERVE_PORT",
    "@SERVER_NAME@": "$SERVE_HOST localhost",
    "@ACCESS_LOG@": "${SERVE_ACCESS_LOG:-/dev/stdout}",
    "@STATIC_ROOT@": "$PARCOURS_STATIC_ROOT",
}.items():
    text = text.replace(key, value)
open(target, "w").write(text)
EOF
cat > "$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    include $WORK/nginx/parcours.conf;
}
EOF
if [ "$(id -u)" -eq 0 ]; then
  # As Debian runs it: the master opens the logs, the worker that handles requests is `nobody`.
  sed -i '1i user nobody nogroup;' "$WORK/nginx/nginx.conf"
  chown -R nobody "$WORK/nginx/tmp"
fi
NGINX_RUN=("$NGINX")
"${NGINX_RUN[@]}" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -t -q
prefixed nginx "${NGINX_RUN[@]}" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g "daemon off;"

# Ready when /health/ says so through nginx: database, Redis and the timer worker's first heartbeat.
for _ in $(seq 300); do
  "$PY" -c "import urllib.request; urllib.request.urlopen('$PARCOURS_BASE_URL/health/', timeout=1)" 2>/dev/null && break
  sleep 0.2
done
cat >&2 <<EOF

Parcours : $PARCOURS_BASE_URL/  (DEBUG=0 ; nginx → $WORKERS worker(s) ASGI sur ${WEB_PORTS[*]} ; worker de minuteurs)
  Identifiants (mot de passe « demo ») : conseillere, conseiller.b, facilitateur, employeur, employeur.b, auditeur, admin
  Santé : $PARCOURS_BASE_URL/health/   Courriels : affichés ici, préfixés [worker]
  PostgreSQL : $DB_HOSTPORT   Redis : ${REDIS_URL#redis://}   Fichiers : $WORK
  Ctrl-C pour tout arrêter.

EOF

if [ $# -gt 0 ]; then
  export SERVE_WEB_PORTS="${WEB_PORTS[*]}" SERVE_WEB_PIDS="${WEB_PIDS[*]}" SERVE_WORKER_PID=$WORKER_PID
  set +e
  "$@"
  exit $?
fi

# Until Ctrl-C, or until one process dies (then everything stops: a half-running stack is no demo).
set +e
wait -n "${PIDS[@]}"
status=$?
echo "Parcours : un processus s'est arrêté (code $status) : arrêt de tous." >&2
exit "$status"
