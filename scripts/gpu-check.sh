#!/usr/bin/env bash
# gpu-check.sh — the one prepared run for a machine with a CUDA GPU, a pip torch,
# CMake and ninja and nothing else (the dependencies come from the bundle that
# scripts/make-bundle.sh made; it travels with the working tree).
#
#   scripts/gpu-check.sh [OUT_DIR]                 # on the GPU machine
#   scripts/gpu-check.sh --cpu-dry-run [OUT_DIR]   # here: same steps against Debian's
#                                                  # LibTorch on the CPU, tiny sizes
#   --no-ctest / --ctest-only   split the run in two (one device call is at most 10 min:
#                               steps 1-3 first, then step 4 on the same warm machine)
#
# Steps, each logged to OUT_DIR (default: $OUT, else gpu-check-out), in this order so
# that the figures come back even if the full test suite runs out of time:
#   1. configure (ANILA_BUNDLE, Torch from the pip torch) and build    configure.log build.log
#   2. the CUDA tests, which must run and pass (a skip is a failure)   cuda-tests.log
#   3. measurements with `anila bench` on configs/cifar10.json (ConvNet n_f = 32,
#      K = 100, batch 64; random stand-in images when CIFAR-10 is absent),
#      Langevin and AniLA: float32 → +TF32 → +CUDA graph → +channels-last → +bf16,
#      then batch 1,024 and a 10k-chain replay bank (uint8, float16)  bench-*.json
#      and the chip's matmul ceiling from the pip torch               ceiling.json
#   4. the whole ctest suite, time-boxed (CTEST_BUDGET_S, default 240)  ctest.log
#   summary.md: one table of ms/step, ms/iteration, GFLOP/s, memory per variant.
# Exit status: non-zero when the build or a CUDA test failed (measurements still run
# when only ctest fails).
set -uo pipefail

dry=0
run_ctest=1
only_ctest=0
while [[ "${1:-}" == --* ]]; do
  case "$1" in
    --cpu-dry-run) dry=1 ;;
    --no-ctest) run_ctest=0 ;;
    --ctest-only) only_ctest=1 ;;
    *)
      echo "gpu-check: unknown option $1 (allowed: --cpu-dry-run, --no-ctest, --ctest-only)" >&2
      exit 2
      ;;
  esac
  shift
done
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${OUT:-$root/gpu-check-out}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
bundle=${ANILA_BUNDLE_DIR:-$root/third_party_bundle}
jobs=${JOBS:-$(nproc)}
ctest_budget=${CTEST_BUDGET_S:-240}
status=0
log() { echo "gpu-check: $*" | tee -a "$out/steps.log"; }
t0=$(date +%s)
elapsed() { echo $(($(date +%s) - t0)); }

if [[ ! -f "$bundle/include/nlohmann/json.hpp" ]]; then
  log "no bundle at $bundle: run scripts/make-bundle.sh on a machine with the packages and carry it"
  exit 2
fi

if ((dry)); then
  build=${BUILD_DIR:-$root/build-bundle}
  device=cpu
  torch_args=()
  # Tiny sizes: the dry run checks the commands, not the speed.
  batch=8
  bench_sizes=(--steps 2 --iterations 1 --repeats 1)
  big_batch=16
  bank=64
else
  build=${BUILD_DIR:-$root/build-cuda}
  device=cuda
  prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)') || {
    log "python3 cannot import torch"
    exit 2
  }
  torch_args=(-DCMAKE_PREFIX_PATH="$prefix" -DTORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"
    -DCMAKE_CUDA_ARCHITECTURES="${CMAKE_CUDA_ARCHITECTURES:-90}")
  batch=64
  bench_sizes=(--steps 100 --iterations 10 --repeats 3)
  big_batch=1024
  bank=10000
  { nvidia-smi || true; python3 -c 'import torch;print(torch.__version__, torch.version.cuda)'; } \
    >"$out/machine.txt" 2>&1
fi
log "device=$device build=$build out=$out jobs=$jobs"

run_suite() {
  if ((dry)); then
    log "dry run: ctest listed only"
    (cd "$build" && ctest -N | tail -1) | tee -a "$out/steps.log"
    return 0
  fi
  (cd "$build" && timeout "$ctest_budget" ctest -j "$jobs" --output-on-failure --timeout 200) \
    >"$out/ctest.log" 2>&1
  local rc=$?
  log "ctest: exit $rc ($(grep -E 'tests passed|tests failed' "$out/ctest.log" | tail -1)) ($(elapsed) s)"
  return $rc
}
if ((only_ctest)); then
  run_suite
  exit $?
fi

# ---- 1. configure + build --------------------------------------------------------
if ! cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DANILA_BUNDLE="$bundle" \
  -DANILA_BUILD_BENCH=OFF "${torch_args[@]}" >"$out/configure.log" 2>&1; then
  log "configure failed (tail of configure.log follows)"
  tail -30 "$out/configure.log"
  exit 1
fi
if ! cmake --build "$build" -j "$jobs" >"$out/build.log" 2>&1; then
  log "build failed (errors follow)"
  grep -E "error|Error" "$out/build.log" | head -30
  exit 1
fi
log "built in $(elapsed) s"
anila=$build/anila

# ---- 2. CUDA tests: must run (not skip) and pass ---------------------------------
"$build/anila_tests" --gtest_filter='Cuda*:CudaGraph*:Precision*' >"$out/cuda-tests.log" 2>&1
rc=$?
skipped=$(grep -c '^\[  SKIPPED \]' "$out/cuda-tests.log" || true)
log "CUDA tests: exit $rc, skipped lines $skipped ($(elapsed) s)"
if ((rc != 0)); then status=1; fi
if ((!dry)) && ((skipped > 0)); then
  log "CUDA tests were skipped on the GPU machine: that is a failure here"
  status=1
fi

# ---- 3. measurements ---------------------------------------------------------------
bench() {  # bench NAME M ARGS...: one anila bench run (M chains) into bench-NAME.json
  local name=$1 m=$2
  shift 2
  if "$anila" bench --config "$root/configs/cifar10.json" --set device=$device --set threads=1 \
    --batch "$m" "${bench_sizes[@]}" --samplers langevin,anila "$@" >"$out/bench-$name.json" \
    2>"$out/bench-$name.err"; then
    log "bench $name done ($(elapsed) s)"
  else
    log "bench $name failed: $(tail -1 "$out/bench-$name.err")"
  fi
}
bench f32 $batch --set tf32=false --set train.cuda_graph=off
bench tf32 $batch --set tf32=true --set train.cuda_graph=off
bench tf32-graph $batch --set tf32=true --set train.cuda_graph=on
bench tf32-graph-cl $batch --set tf32=true --set train.cuda_graph=on \
  --set model.memory_format=channels_last
bench bf16-graph-cl $batch --set tf32=true --set train.cuda_graph=on \
  --set model.memory_format=channels_last --set model.precision=bf16
bench bf16-graph $batch --set tf32=true --set train.cuda_graph=on --set model.precision=bf16
# Point 4: a large batch, and a replay bank of many chains on the device.
bench b1024-bf16-graph "$big_batch" --set tf32=true --set train.cuda_graph=on \
  --set model.precision=bf16
for storage in uint8 float16; do
  bench "bank-$storage" $batch --set tf32=true --set train.cuda_graph=on --set model.precision=bf16 \
    --set chains.type=replay --set chains.bank_size=$bank --set chains.storage=$storage
done
if ((!dry)); then
  # The chip's ceiling: large matrix products in the pip torch, same process.
  python3 - >"$out/ceiling.json" 2>"$out/ceiling.err" <<'EOF'
import json, time, torch
n, out = 8192, {}
for name, dt, tf32 in [("fp32", torch.float32, False), ("tf32", torch.float32, True),
                       ("bf16", torch.bfloat16, False)]:
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a = torch.randn(n, n, device="cuda", dtype=dt); b = torch.randn(n, n, device="cuda", dtype=dt)
    for _ in range(3): a @ b
    torch.cuda.synchronize(); t = time.perf_counter(); reps = 20
    for _ in range(reps): a @ b
    torch.cuda.synchronize(); s = (time.perf_counter() - t) / reps
    out[name + "_tflops"] = 2 * n ** 3 / s / 1e12
print(json.dumps(out))
EOF
  log "ceiling: $(cat "$out/ceiling.json")"
fi

# ---- summary -----------------------------------------------------------------------
python3 - "$out" >"$out/summary.md" <<'EOF'
import glob, json, os, sys
out = sys.argv[1]
ceiling = {}
if os.path.exists(os.path.join(out, "ceiling.json")):
    try: ceiling = json.load(open(os.path.join(out, "ceiling.json")))
    except Exception: pass
print("| variant | sampler | precision | layout | tf32 | graph | M | K | ms/step | ms/iteration | GFLOP/s | CUDA peak MiB | RSS MiB |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for f in sorted(glob.glob(os.path.join(out, "bench-*.json"))):
    try: b = json.load(open(f))
    except Exception: continue
    name = os.path.basename(f)[6:-5]
    for s in ("langevin", "anila"):
        if s not in b: continue
        r = b[s]
        mem = b.get("cuda_memory", {}).get("peak_allocated_mib", float("nan"))
        print(f"| {name} | {s} | {b['precision']} | {b['memory_format']} | {b['tf32']} | "
              f"{r['cuda_graph']} | {b['batch_size']} | {b['mcmc_steps']} | {r['ms_per_step']:.3f} | "
              f"{r['ms_per_iteration']:.2f} | {r.get('gflops', float('nan')):.0f} | {mem:.0f} | "
              f"{b['max_rss_mib']:.0f} |")
    if "anila_overhead_percent" in b:
        o = b["anila_overhead_percent"]
        print(f"| {name} | AniLA vs Langevin | | | | | | | {o['step']:+.1f} % | {o['iteration']:+.1f} % | | | |")
if ceiling: print("\nmatmul ceiling (8192², pip torch):", json.dumps(ceiling))
EOF
cat "$out/summary.md"

# ---- 4. the whole suite, time-boxed ------------------------------------------------
if ((run_ctest)); then
  run_suite || status=1
fi
log "done in $(elapsed) s, status $status"
exit $status
