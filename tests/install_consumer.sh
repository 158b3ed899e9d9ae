#!/usr/bin/env bash
# install_consumer.sh BUILD_DIR SOURCE_DIR [CMAKE_ARG...] — installs anila into a
# temporary prefix, builds examples/consumer against it with find_package(anila)
# (extra arguments go to its cmake, e.g. -DTorch_DIR=...), runs it.
set -euo pipefail
build=$1; src=$2; shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$src/examples/consumer" -B "$tmp/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" "${launcher[@]}" "$@" >/dev/null
cmake --build "$tmp/build" >/dev/null
"$tmp/build/consumer"
