#!/usr/bin/env bash
# install-deps.sh — install the Debian packages anila builds and runs with.
#
# python3 writes the fuzz seed corpora (make test); clang and libfuzzer-14-dev
# build the fuzz targets (make fuzz).
#
# Idempotent: packages already installed are skipped, and apt-get is not
# called at all when nothing is missing. Needs root (or sudo) only when
# something is missing.
#
#   scripts/install-deps.sh          # install what is missing
#   scripts/install-deps.sh --check  # list what is missing, exit 1 if any
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libgloo-dev libopenblas0-pthread
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev libstb-dev zlib1g-dev
  dataset-fashion-mnist
  python3 clang libfuzzer-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
  echo "install-deps: missing: ${missing[*]}"
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 2; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
