#!/usr/bin/env bash
# Phases 2 and 3 on a finished JSCC-T codec (checkpoints/jscc-t-CONFIG.safetensors): the latent
# denoiser (alpha = 1 and alpha = 0), its phase-3 decoder, CDDM and its decoder, with the recipes
# of the shipped weights (their cards; docs/reproduction.md).  Two lanes run side by side, one
# thread each: denoiser alpha 1 -> its decoder -> denoiser alpha 0, and CDDM -> its decoder.
# A step whose shipped checkpoint already has its iterations and names the shipped codec is
# skipped (scripts/checkpoint_done.py); an interrupted step resumes from runs/.  A failed step
# stops the script.
# Usage: scripts/train_receivers.sh [CONFIG]   (default cpu)
# Issue 23's candidates (continuous-SNR denoisers, SNR-conditioned phase 3, the -3 dB reference decoder,
# jscc-t-sa) train with scripts/train_candidates.sh until one is measured better than these recipes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export OMP_NUM_THREADS=1
config=${1:-cpu}
T="--config $config --threads 1 --batch 8 --crop 128"

# step CHECKPOINT_NAME ITERS SEMCOM_TRAIN_ARGS...: train unless the checkpoint is already done
step() {
  local name=$1 iters=$2; shift 2
  if python3 scripts/checkpoint_done.py "$name" "$iters"; then
    echo "$name: done ($iters iterations, trained behind the shipped codec)"
  else
    semcom-train "$@" --iters "$iters"
  fi
}

(
  step "denoiser-$config-alpha1" 6000 denoiser $T --alpha 1 --lr 3e-4 --val-every 1000 --save-every 200
  step "ours-decoder-$config" 500 finetune $T --alpha 1 --lr 1e-4 --val-every 250 --save-every 100
  step "denoiser-$config-alpha0" 6000 denoiser $T --alpha 0 --lr 3e-4 --val-every 1000 --save-every 200  # same recipe as alpha 1
) & denoiser_lane=$!
(
  step "cddm-$config" 9000 cddm $T --lr 3e-4 --val-every 3000 --save-every 500
  step "cddm-decoder-$config" 250 cddm-finetune $T --lr 1e-4 --val-every 125 --save-every 50
) & cddm_lane=$!
wait "$denoiser_lane"; wait "$cddm_lane"
