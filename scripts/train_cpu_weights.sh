#!/usr/bin/env bash
# The recipe that produced the shipped `cpu` weights under checkpoints/ (2 CPU cores, ~1.5 h).
# Every step is resumable: rerun the script after a kill and each step continues from runs/.
# Phase 1 (JSCC-T) must finish before the rest; independent phases run two at a time, one
# thread each (faster on 2 cores than one 2-thread job).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export OMP_NUM_THREADS=1
T="--config cpu --threads 1 --batch 8 --crop 128 --save-every 100"

semcom-train jscc $T --snr 13 --iters 4500 --lr 3e-4 --val-every 500

semcom-train denoiser $T --alpha 1 --iters 1500 --lr 3e-4 --val-every 500 &
semcom-train cddm $T --iters 1200 --lr 3e-4 --val-every 600 &
wait

semcom-train finetune $T --alpha 1 --iters 500 --lr 1e-4 --val-every 250 &
semcom-train denoiser $T --alpha 0 --iters 1500 --lr 3e-4 --val-every 500 &  # same recipe as alpha 1
wait

semcom-train cddm-finetune $T --iters 300 --lr 1e-4 --val-every 150
