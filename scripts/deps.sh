#!/usr/bin/env bash
# Installs the Debian packages that building and testing Floe need, only those missing.
# Idempotent: a machine that has them all runs no apt command at all.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config python3
  libasio-dev libssl-dev zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  kcat librdkafka-dev python3-confluent-kafka python3-kafka nodejs npm etcd-server etcd-client
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # A tool installed outside Debian (node, npm) counts as present.
    case "$p" in nodejs) command -v node >/dev/null && continue ;; npm) command -v npm >/dev/null && continue ;; esac
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# JavaScript test clients (kafkajs) come from the npm registry, pinned by package-lock.json.
# npm ci writes node_modules/.package-lock.json; reinstall when it is missing or older than the lock file.
lock=tests/clients/package-lock.json installed=tests/clients/node_modules/.package-lock.json
if [ -f "$lock" ] && { [ ! -f "$installed" ] || [ "$lock" -nt "$installed" ]; }; then
  echo "deps: installing npm test clients"
  (cd tests/clients && npm ci --no-audit --no-fund --loglevel=error)
fi
