#!/usr/bin/env bash
# Installs what the browser tests (Chromium, CJK fonts) and the deployment test (nginx, openssl) need
# from Debian, once. Safe to re-run.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)  # tests/test_deploy.py
command -v openssl >/dev/null 2>&1 || need+=(openssl)  # tests/test_deploy.py: the doc's self-signed certificate
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Browser and deployment tests need: ${need[*]} (apt-get install as root); they will be skipped." >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
