#!/usr/bin/env bash
# Two `qa serve` replicas behind nginx on loopback, with deploy/nginx.conf (ports rewritten),
# then the load benchmark through nginx. Everything it starts, it stops.
#
#   deploy/loopback.sh --quick                     # a short run
#   deploy/loopback.sh --seconds 20                # any bench/load.py options
#
# Needs nginx (apt-get install nginx), the index (`qa index`) and the model cache.
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

sed -e "s/listen 80;/listen 127.0.0.1:$LISTEN;/" \
    -e "s/server 127.0.0.1:7861/server 127.0.0.1:${PORTS[0]}/" \
    -e "s/server 127.0.0.1:7862/server 127.0.0.1:${PORTS[1]}/" deploy/nginx.conf >"$WORK/qa.conf"
mkdir -p "$WORK/nginx"
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
"$PY" bench/load.py --url "http://127.0.0.1:$LISTEN/" --spread --pid "${PIDS[0]}" "$@"
for i in "${!PORTS[@]}"; do
  echo "replica $i answered $("$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from questions').fetchone()[0])" "$WORK/replica$i.sqlite3") questions" >&2
done
