#!/usr/bin/env bash
# Two `qa serve` replicas behind nginx on loopback, with the site's proxy rules
# (deploy/nginx/qa-proxy.conf and the upstream of deploy/nginx/qa, ports rewritten, plain HTTP),
# then the load benchmark through nginx. Everything it starts, it stops.
#
#   deploy/loopback.sh --quick                     # ~10 s: 8 clients, repeated and novel questions, 3 s each
#   deploy/loopback.sh --seconds 20                # the full run: any bench/load.py options
#   QA_REPLICA_PORTS="27861 27862" QA_LB_PORT=28080 deploy/loopback.sh --quick   # other ports
#
# Ports: QA_REPLICA_PORTS (two, default "17861 17862") and QA_LB_PORT (nginx, default 18080).
# Needs nginx (apt-get install nginx), the index (`.venv/bin/qa index`) and the model cache.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
LISTEN=${QA_LB_PORT:-18080}
PORTS=(${QA_REPLICA_PORTS:-17861 17862})
WORK=$(mktemp -d /tmp/qa-loopback.XXXXXX)
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

for i in "${!PORTS[@]}"; do
  QA_HOST=127.0.0.1 QA_PORT=${PORTS[$i]} QA_TRUSTED_PROXIES=127.0.0.1 QA_RATE_LIMIT=0 \
    QA_DB="$WORK/replica$i.sqlite3" "$PY" -m qa.cli serve >"$WORK/replica$i.log" 2>&1 &
  PIDS+=($!)
done

mkdir -p "$WORK/nginx" "$WORK/snippets"
cp deploy/nginx/qa-proxy.conf "$WORK/snippets/qa-proxy.conf"
{
  sed -n '/^upstream qa_replicas/,/^}/p' deploy/nginx/qa |
    sed -e "s/server 127.0.0.1:7861/server 127.0.0.1:${PORTS[0]}/" \
        -e "s/server 127.0.0.1:7862/server 127.0.0.1:${PORTS[1]}/"
  echo "server { listen 127.0.0.1:$LISTEN; server_tokens off; include $WORK/snippets/qa-proxy.conf; }"
} >"$WORK/qa.conf"
cat >"$WORK/nginx.conf" <<EOF
$( [ "$(id -u)" -eq 0 ] && echo "user root;" )
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    include $WORK/qa.conf;
}
EOF
nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" -g "daemon off;" &
PIDS+=($!)

for port in "${PORTS[@]}"; do  # both replicas answering (the model loads in each)
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && break
    sleep 0.1
  done
done
echo "replicas: ${PORTS[*]}  nginx: http://127.0.0.1:$LISTEN/" >&2
ARGS=()
for arg in "$@"; do  # --quick here: a short smoke run, not bench/load.py's 36 s at up to 64 clients
  if [ "$arg" = --quick ]; then ARGS+=(--quick --levels 8 --workloads repeated,novel); else ARGS+=("$arg"); fi
done
"$PY" bench/load.py --url "http://127.0.0.1:$LISTEN/" --spread --pid "${PIDS[0]}" "${ARGS[@]}"
for i in "${!PORTS[@]}"; do
  echo "replica $i answered $("$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from questions').fetchone()[0])" "$WORK/replica$i.sqlite3") questions" >&2
done
