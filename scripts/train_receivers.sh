#!/usr/bin/env bash
# Phases 2 and 3 on a finished JSCC-T codec (checkpoints/jscc-t-CONFIG.safetensors): the latent
# denoiser (alpha = 1 and alpha = 0), its phase-3 decoder, CDDM and its decoder, with the recipes
# of the shipped weights (their cards; docs/reproduction.md).  Two lanes run side by side, one
# thread each: denoiser alpha 1 -> its decoder -> denoiser alpha 0, and CDDM -> its decoder.
# Each step is resumable (rerun after a kill); a failed step stops the script.
# Usage: scripts/train_receivers.sh [CONFIG]   (default cpu)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export OMP_NUM_THREADS=1
T="--config ${1:-cpu} --threads 1 --batch 8 --crop 128"

(
  semcom-train denoiser $T --alpha 1 --iters 1500 --lr 3e-4 --val-every 500 --save-every 100
  semcom-train finetune $T --alpha 1 --iters 500 --lr 1e-4 --val-every 250 --save-every 100
  semcom-train denoiser $T --alpha 0 --iters 1500 --lr 3e-4 --val-every 500 --save-every 100  # same recipe as alpha 1
) & denoiser_lane=$!
(
  semcom-train cddm $T --iters 9000 --lr 3e-4 --val-every 3000 --save-every 500
  semcom-train cddm-finetune $T --iters 250 --lr 1e-4 --val-every 125 --save-every 50
) & cddm_lane=$!
wait "$denoiser_lane"; wait "$cddm_lane"
