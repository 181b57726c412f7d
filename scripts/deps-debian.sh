#!/usr/bin/env bash
# Installs pushgate's build and test dependencies from Debian 12's packages.
# Skips apt entirely when everything is already installed (unless --force).
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang-format
      libwebsockets-dev libmicrohttpd-dev libsodium-dev libjson-c-dev libssl-dev libcmocka-dev libcurl4-openssl-dev
      libhiredis-dev # cluster mode (gateway/srv_redis.c)
      redis-server   # the cluster e2e test (tests/e2e/17-cluster.test.js)
      chromium) # chromium: the debug console's browser test (tests/e2e/13-console.test.js)
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${1:-}" = "--force" ] || [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${PKGS[@]}"
fi
