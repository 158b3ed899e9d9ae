#!/usr/bin/env bash
# vs-reference.sh — anila against the reference PyTorch EBM code, side by side:
# each pair runs concurrently, pinned to separate cores (taskset), one thread
# each, the cores swapped every round, so both see the same machine load.
#
#   rings:  one training iteration of configs/rings.json (K = 100 Langevin
#           steps, M = 100 chains) vs the reference's rings iteration
#           (bench/reference_step.py rings: ToyNet, Adam, same K, M, init)
#   image:  one sampler step of the ConvNet (n_f = 32, 3x32x32, M = 100),
#           `anila bench --config configs/cifar10.json --set device=cpu
#           --set threads=1` in each VARIANT, vs the reference's VanillaNet
#           step in float32 (bench/reference_step.py image)
#
# Ratios are reference / anila (> 1: anila faster), per round on wall time and on
# process CPU time, then their medians over rounds.
#
# Usage: bench/vs-reference.sh REFERENCE [BUILD_DIR] [ROUNDS]
#   REFERENCE  the reference code (a folder with nets.py, or its git directory)
#   VARIANTS   image variants (default "float32 bf16 bf16+channels_last")
#   PYTHON     the Python with torch (default /usr/bin/python3, Debian's python3-torch)
#   CORES      two CPU ids (default "0 1")
#   MALLOC     system (default): both processes with glibc's malloc defaults, as
#              they run out of the box; tuned: both with MALLOC_MMAP_THRESHOLD_=32 MiB
#              and MALLOC_TRIM_THRESHOLD_=256 MiB, which stop glibc from returning
#              freed step buffers to the kernel and faulting them in again (it
#              speeds the Python reference's image step up more than anila's)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
ref=${1:?usage: bench/vs-reference.sh REFERENCE [BUILD_DIR] [ROUNDS]}
build=${2:-$root/build}
rounds=${3:-3}
python=${PYTHON:-/usr/bin/python3}
read -r core_a core_b <<<"${CORES:-0 1}"
variants=${VARIANTS:-"float32 bf16 bf16+channels_last"}
malloc=${MALLOC:-system}
case $malloc in
  system) ;;
  tuned) export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=268435456 ;;
  *) echo "vs-reference.sh: MALLOC must be system or tuned, not '$malloc'" >&2; exit 2 ;;
esac
anila=$build/anila
[[ -x $anila ]] || { echo "vs-reference.sh: $anila not built" >&2; exit 2; }
"$python" -c 'import torch, numpy' 2>/dev/null ||
  { echo "vs-reference.sh: $python lacks torch/numpy (Debian: apt-get install python3-torch)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ ! -f $ref/nets.py ]]; then
  git --git-dir="$ref" archive HEAD nets.py | tar -x -C "$tmp" ||
    { echo "vs-reference.sh: no nets.py in $ref (a checkout or git directory of the reference)" >&2; exit 2; }
  ref=$tmp
fi

# field FILE PATH: a number from a JSON file (PATH like langevin.ms_per_step).
field() { "$python" -c 'import json,sys; j=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): j=j[k]
print(j)' "$1" "$2"; }

# pair NAME REF_ARGS -- ANILA_ARGS: both at once on separate cores; writes $tmp/NAME.{ref,anila}.json
pair() {
  local name=$1 r=$2 cr cn
  shift 2
  local -a ref_args=() anila_args=()
  while [[ $1 != -- ]]; do ref_args+=("$1"); shift; done
  shift
  anila_args=("$@")
  if ((r % 2)); then cr=$core_b cn=$core_a; else cr=$core_a cn=$core_b; fi
  taskset -c "$cr" "$python" "$here/reference_step.py" "$ref" "${ref_args[@]}" >"$tmp/$name.ref.json" &
  local pid=$!
  (cd "$root" && taskset -c "$cn" "$anila" bench "${anila_args[@]}") >"$tmp/$name.anila.json"
  wait "$pid"
}

ratio() { "$python" -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }

declare -A walls cpus
printf '%-5s %-38s %12s %12s %9s %12s %12s %9s\n' round case "ref ms" "anila ms" "x (wall)" \
  "ref cpu ms" "anila cpu" "x (cpu)"
for ((r = 1; r <= rounds; r++)); do
  pair rings "$r" rings --work 10 --repeats 3 -- \
    --config configs/rings.json --samplers langevin --iterations 20 --repeats 5
  rw=$(field "$tmp/rings.ref.json" ms_median) rc=$(field "$tmp/rings.ref.json" cpu_ms_median)
  aw=$(field "$tmp/rings.anila.json" langevin.ms_per_iteration)
  ac=$(field "$tmp/rings.anila.json" langevin.cpu_ms_per_iteration)
  cases=("rings iteration (Langevin)")
  walls["$r ${cases[0]}"]=$(ratio "$rw" "$aw") cpus["$r ${cases[0]}"]=$(ratio "$rc" "$ac")
  printf '%-5s %-38s %12.2f %12.2f %9s %12.2f %12.2f %9s\n' "$r" "${cases[0]}" "$rw" "$aw" \
    "${walls["$r ${cases[0]}"]}" "$rc" "$ac" "${cpus["$r ${cases[0]}"]}"
  for v in $variants; do
    sets=(--set device=cpu --set threads=1)
    [[ $v == *bf16* ]] && sets+=(--set model.precision=bf16)
    [[ $v == *channels_last* ]] && sets+=(--set model.memory_format=channels_last)
    pair image "$r" image --work 5 --repeats 3 -- --config configs/cifar10.json "${sets[@]}" \
      --samplers langevin --steps 5 --iterations 1 --repeats 3
    rw=$(field "$tmp/image.ref.json" ms_median) rc=$(field "$tmp/image.ref.json" cpu_ms_median)
    aw=$(field "$tmp/image.anila.json" langevin.ms_per_step)
    ac=$(field "$tmp/image.anila.json" langevin.cpu_ms_per_step)
    c="image step, anila $v"
    walls["$r $c"]=$(ratio "$rw" "$aw") cpus["$r $c"]=$(ratio "$rc" "$ac")
    printf '%-5s %-38s %12.2f %12.2f %9s %12.2f %12.2f %9s\n' "$r" "$c" "$rw" "$aw" \
      "${walls["$r $c"]}" "$rc" "$ac" "${cpus["$r $c"]}"
  done
done

echo
echo "median over $rounds rounds (reference / anila; the reference image step is float32;" \
  "glibc malloc: $malloc for both):"
median() { "$python" -c 'import sys; v=sorted(map(float, sys.argv[1:])); print("%.2f" % v[len(v)//2])' "$@"; }
all_cases=("rings iteration (Langevin)")
for v in $variants; do all_cases+=("image step, anila $v"); done
for c in "${all_cases[@]}"; do
  w=() p=()
  for ((r = 1; r <= rounds; r++)); do w+=("${walls["$r $c"]}"); p+=("${cpus["$r $c"]}"); done
  printf '  %-38s wall %5sx   cpu %5sx   (rounds: %s)\n' "$c" "$(median "${w[@]}")" \
    "$(median "${p[@]}")" "${w[*]}"
done
