#!/usr/bin/env bash
# bench-dist.sh — training throughput of data-parallel runs with 1 and 2 ranks
# (or the counts given), one intra-op thread per rank, and the scaling efficiency.
#
#   scripts/bench-dist.sh [CONFIG] [ITERATIONS] [RANKS...]
#   scripts/bench-dist.sh configs/fashion_mnist.json 30 1 2     # the defaults
#
# Each count trains CONFIG for ITERATIONS iterations with ConvNet n_f = 32, evaluation
# off, and reads the iterations per second from the run's metrics.csv (the timer starts
# after set-up, so process start and rendezvous are not counted). Images per second =
# it/s × batch size (the global batch: each of N ranks handles batch/N of it).
# Efficiency = throughput(N) / (N × throughput(1)).
#
# For each N > 1 a control row follows: N independent single-process runs with batch
# M/N each, started together — what the machine gives N processes of that size
# without any communication. throughput(N ranks) / throughput(control) isolates the
# cost of data parallelism (allreduce, replica checks) from how many cores are free.
# Extra --set arguments: ANILA_BENCH_SET="--set train.batch_size=128".
set -euo pipefail
config=${1:-configs/fashion_mnist.json}
iterations=${2:-30}
shift $(( $# > 2 ? 2 : $# )) || true
ranks=("$@")
[[ ${#ranks[@]} -eq 0 ]] && ranks=(1 2)
anila=${ANILA:-build/anila}
out=$(mktemp -d /tmp/anila-bench-dist.XXXXXX)
trap 'rm -rf "$out"' EXIT

sets=(--set device=cpu --set threads=1 --set model.n_f=32 --set train.iterations="$iterations"
      --set train.log_every="$iterations" --set train.checkpoint_every=100000
      --set eval.every=0 --set eval.features= --set eval.long_run_steps=0 --set eval.samples=16)
# shellcheck disable=SC2206
extra=(${ANILA_BENCH_SET:-})

base=""
printf '%-6s %-12s %-12s %s\n' ranks "it/s" "images/s" efficiency
for n in "${ranks[@]}"; do
  "$anila" train --quiet --config "$config" "${sets[@]}" "${extra[@]}" --nproc "$n" \
    --out "$out/n$n" >/dev/null
  # The last metrics row with it_per_s, and the batch size from the resolved config.
  row=$(awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i=="it_per_s") c=i; next} $c!=""{v=$c} END{print v}' \
        "$out/n$n/metrics.csv")
  batch=$(grep -o '"batch_size": [0-9]*' "$out/n$n/config.json" | head -1 | grep -o '[0-9]*$')
  ips=$(awk -v r="$row" -v b="$batch" 'BEGIN{printf "%.1f", r*b}')
  [[ -z $base ]] && base=$ips
  eff=$(awk -v t="$ips" -v b="$base" -v n="$n" 'BEGIN{printf "%.2f", t/(n*b)}')
  printf '%-6s %-12.3f %-12s %s\n' "$n" "$row" "$ips" "$eff"
  if (( n > 1 )); then
    for ((i = 0; i < n; i++)); do
      "$anila" train --quiet --config "$config" "${sets[@]}" "${extra[@]}" \
        --set train.batch_size=$((batch / n)) --out "$out/c$n-$i" >/dev/null &
    done
    wait
    total=0
    for ((i = 0; i < n; i++)); do
      r=$(awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i=="it_per_s") c=i; next} $c!=""{v=$c} END{print v}' \
          "$out/c$n-$i/metrics.csv")
      total=$(awk -v t="$total" -v r="$r" -v b="$((batch / n))" 'BEGIN{printf "%.1f", t + r*b}')
    done
    ratio=$(awk -v t="$ips" -v c="$total" 'BEGIN{printf "%.2f", t/c}')
    printf '%-6s %-12s %-12s %s\n' "${n}x1" "-" "$total" "control: $n independent runs of batch $((batch / n)); ranks/control $ratio"
  fi
done
