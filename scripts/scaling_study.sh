#!/usr/bin/env bash
# Phase-1 scaling study (docs/training.md): one run per JSCC config (and the fp32 arm of the
# bf16 A/B), all on the same recipe, each one process × 1 thread at nice $NICE (default 19); the curves are
# compared against CPU-hours (runs/study/<name>/w.json: validation_history).
# NPROC=2 runs the chosen size data-parallel on both cores (torchrun, batch 8 per process).
# Usage: [NICE=n] [NPROC=n] scripts/scaling_study.sh NAME CONFIG [extra semcom-train flags]   (resumable)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
name=$1 config=$2; shift 2
export OMP_NUM_THREADS=1
if [ "${NPROC:-1}" -gt 1 ]; then
  train=(torchrun --standalone --nproc_per_node "$NPROC" -m simulator.train_cli)
else
  train=(semcom-train)
fi
exec nice -n "${NICE:-19}" "${train[@]}" jscc --config "$config" --threads 1 --snr 13 --batch 8 --crop 128 \
  --optimizer adamw --lr 1e-3 --warmup 200 --schedule wsd --iters 1000000 --decay-iters 100000 --ema 0.999 \
  --val-every 500 --save-every 250 --keep-best \
  --run-dir "runs/study/$name" --out "runs/study/$name/w.safetensors" "$@"
