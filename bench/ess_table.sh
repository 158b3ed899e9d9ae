#!/usr/bin/env bash
# ess_table.sh — the ESS-per-gradient table of docs/samplers.md: every sampler on
# the ill-conditioned Gaussian, Neal's funnel and the two-component mixture,
# same chains, seeds and budget. Usage: bench/ess_table.sh [BUILD_DIR] [OUT_DIR]
set -euo pipefail
build=${1:-build}
out=${2:-runs/ess-table}
samplers=mala,anila-mh,hmc,langevin,anila,gd
# --threshold-quantile 0: the table was measured with AniLA's fixed default b = 0.01
# (before threshold adaptation; docs/samplers.md).
common=(--samplers "$samplers" --chains 32 --steps 10000 --warmup 2000 --seed 123 --force --quiet
        --threshold-quantile 0)
"$build/anila" sample --target gaussian-ill --dim 100 --set target.condition=1000 \
  --out "$out/gaussian-ill" "${common[@]}"
"$build/anila" sample --target funnel --dim 10 --out "$out/funnel" "${common[@]}"
"$build/anila" sample --target mixture --dim 2 --out "$out/mixture" "${common[@]}"
for t in gaussian-ill funnel mixture; do
  echo
  cat "$out/$t/summary.md"
done
