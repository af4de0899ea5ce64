#!/usr/bin/env bash
# Phases 2 and 3 on a finished JSCC-T codec (checkpoints/jscc-t-CONFIG.safetensors): the latent
# denoiser (alpha = 1 and alpha = 0), its phase-3 decoder, CDDM and its decoder.  Each step is
# resumable (rerun after a kill); independent steps run two at a time, one thread each.
# Usage: scripts/train_receivers.sh [CONFIG]   (default cpu)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export OMP_NUM_THREADS=1
T="--config ${1:-cpu} --threads 1 --batch 8 --crop 128 --save-every 100"

semcom-train denoiser $T --alpha 1 --iters 1500 --lr 3e-4 --val-every 500 & a=$!
semcom-train cddm $T --iters 1200 --lr 3e-4 --val-every 600 & b=$!
wait "$a"; wait "$b"  # a failed step stops the script

semcom-train finetune $T --alpha 1 --iters 500 --lr 1e-4 --val-every 250 & a=$!
semcom-train denoiser $T --alpha 0 --iters 1500 --lr 3e-4 --val-every 500 & b=$!  # same recipe as alpha 1
wait "$a"; wait "$b"

semcom-train cddm-finetune $T --iters 300 --lr 1e-4 --val-every 150
