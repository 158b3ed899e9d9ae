#!/usr/bin/env bash
# make-bundle.sh — copy what a build needs besides LibTorch, the compiler, CMake
# and ninja into one folder that travels with the working tree, for a machine
# without anila's Debian packages (a GPU box with only CUDA and a pip torch).
#
#   scripts/make-bundle.sh [DIR]        # default DIR: third_party_bundle (git-ignored)
#   cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DANILA_BUNDLE="$PWD/DIR" \
#         -DCMAKE_PREFIX_PATH="$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')"
#
# DIR/include   nlohmann-json, CLI11, fmt (used header-only: FMT_HEADER_ONLY),
#               stb (stb_image, stb_image_write, stb_easy_font: compiled into anila),
#               zlib.h + zconf.h (linked against the system's runtime libz.so.1)
# DIR/googletest  GoogleTest's source (built with the tests)
# DIR/licenses  the packages' copyright files
# DIR/MANIFEST  package versions
# Google Benchmark is not bundled: bench/ is off in a bundle build (anila bench is not).
# Runs on a machine with the packages installed (scripts/install-deps.sh).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/third_party_bundle}
packages=(nlohmann-json3-dev libcli11-dev libfmt-dev libstb-dev zlib1g-dev googletest)

for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
    echo "make-bundle: package $p is not installed (run scripts/install-deps.sh)" >&2
    exit 2
  }
done

rm -rf "$dir"
mkdir -p "$dir/include/stb" "$dir/licenses"
cp -r /usr/include/nlohmann /usr/include/CLI /usr/include/fmt "$dir/include/"
cp /usr/include/stb/stb_image.h /usr/include/stb/stb_image_write.h \
  /usr/include/stb/stb_easy_font.h "$dir/include/stb/"
cp /usr/include/zlib.h /usr/include/zconf.h "$dir/include/"
cp -r /usr/src/googletest "$dir/googletest"
{
  echo "# anila dependency bundle, made $(date -u +%Y-%m-%dT%H:%MZ) by scripts/make-bundle.sh"
  for p in "${packages[@]}"; do
    echo "$p $(dpkg-query -W -f='${Version}' "$p")"
    cp "/usr/share/doc/$p/copyright" "$dir/licenses/$p.copyright" 2>/dev/null || true
  done
} >"$dir/MANIFEST"
echo "make-bundle: $(du -sh "$dir" | cut -f1) in $dir"
