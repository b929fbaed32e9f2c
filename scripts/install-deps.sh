#!/usr/bin/env bash
# Installs everything argen needs on a fresh Debian bookworm machine: Debian packages and npm only.
# Idempotent: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  cmake g++ make pkg-config
  clang libclang-rt-14-dev
  emscripten
  libhwy-dev libeigen3-dev doctest-dev nlohmann-json3-dev
  python3-torch python3-numpy libopenblas0-serial
  bible-kjv bible-kjv-text
  chromium
)
command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages (benchmark peers, playwright-core to drive Debian's chromium) come from package-lock.json.
if [ -f package.json ] && { [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  npm ci --ignore-scripts --no-audit --no-fund
fi
