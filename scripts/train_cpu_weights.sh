#!/usr/bin/env bash
# The recipe that produced the shipped `cpu` weights under checkpoints/ (2 CPU cores, ~1.5 h).
# Every step is resumable: rerun the script after a kill and each step continues from runs/.
# Phase 1 (JSCC-T) must finish before the rest (scripts/train_receivers.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export OMP_NUM_THREADS=1
T="--config cpu --threads 1 --batch 8 --crop 128 --save-every 100"

semcom-train jscc $T --snr 13 --iters 4500 --lr 3e-4 --val-every 500

scripts/train_receivers.sh cpu
