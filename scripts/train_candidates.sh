#!/usr/bin/env bash
# Issue 23's candidate receivers on the shipped codec (checkpoints/jscc-t-CONFIG), each a resumable
# background-sized run at nice 19 on one thread (docs/training.md, "Issue 23").  The outputs go to
# runs/<step>/ (best weights + card with --keep-best), never over the shipped checkpoints; a step
# killed at any point resumes from runs/<step>/state.pt when rerun with the same arguments.
# Usage: scripts/train_candidates.sh STEP [CONFIG]      (venv active: semcom-train on PATH; DRY=1: print the command only)
#   den-cont-a1   phase 2, alpha = 1, SNR uniform in dB over 0..10 (the paper's phase-2 range),
#                 wsd at 3e-4 + EMA 0.999, 5,600 it (the shipped run: constant to 2,600, decayed over
#                 the last 3,000); extendable (raise ITERS and resume with --init)
#   den-cont-a0   the same with alpha = 0 (Fig. 7)
#   ref-decoder-m3 the -3 dB upper reference: the decoder finetuned on noisy latents, no denoiser
#   dec-snr       phase 3, SNR-conditioned decoder over -3..12 dB behind DENOISER (default shipped)
#   dec-wide      phase 3, plain decoder over -3..12 dB behind DENOISER (the A/B of dec-snr)
#   dec-low       phase 3, plain decoder over the low band -3..6 dB behind DENOISER; then
#                 scripts/decoder_switch.py picks the SNR where ours hands over to the phase-1 decoder
#   dec-mid       phase 3, plain decoder over the mid band 2..8 dB behind DENOISER (ours-decoder-mid); then
#                 scripts/decoder_switch.py picks the bands low / mid / phase 1 (docs/training.md)
#   jscc-sa       jscc-t-sa from the shipped JSCC-T over -3..12 dB (wsd 1e-4 + EMA, fp32: 5x bf16 on a CPU)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export OMP_NUM_THREADS=1
step=${1:?usage: scripts/train_candidates.sh STEP [CONFIG]}
config=${2:-cpu}
iters=${ITERS:-5600}
denoiser=${DENOISER:-checkpoints/denoiser-$config-alpha1.safetensors}
T="--config $config --threads 1 --batch 8 --crop 128 --run-dir runs/$step"
out() { echo "--out runs/$step/$1.safetensors"; }
run() { if [[ -n ${DRY:-} ]]; then echo semcom-train "$@"; return; fi; mkdir -p "runs/$step"; exec nice -n 19 semcom-train "$@"; }
case $step in
  den-cont-a1|den-cont-a0)
    alpha=${step: -1}
    run denoiser $T --alpha "$alpha" --lr 3e-4 --snr-range 0:10 --schedule wsd --warmup 200 --iters "$iters" \
      --decay-iters 3000 --ema 0.999 --keep-best --val-every 1000 --save-every 200 $(out "denoiser-$config-alpha$alpha") ;;
  ref-decoder-m3)
    run decoder $T --snr=-3 --lr 1e-4 --iters 2000 --val-every 500 --save-every 100 $(out "reference-decoder-$config") ;;
  dec-snr)
    run finetune-snr $T --denoiser "$denoiser" --lr 1e-4 --iters 500 --val-every 250 --save-every 100 $(out "ours-decoder-snr-$config") ;;
  dec-wide)
    run finetune $T --denoiser "$denoiser" --snr-range=-3:12 --lr 1e-4 --iters 500 --val-every 250 --save-every 100 \
      $(out "ours-decoder-$config") ;;
  dec-low)
    run finetune $T --denoiser "$denoiser" --snr-range=-3:6 --lr 1e-4 --iters "${ITERS:-1200}" --val-every 400 \
      --save-every 100 $(out "ours-decoder-$config") ;;
  dec-mid)
    run finetune $T --denoiser "$denoiser" --snr-range=2:8 --lr 1e-4 --iters "${ITERS:-1200}" --val-every 400 \
      --save-every 100 $(out "ours-decoder-mid-$config") ;;
  jscc-sa)
    run jscc-sa $T --lr 1e-4 --schedule wsd --warmup 200 --iters "${ITERS:-3000}" --decay-iters 1000 --ema 0.999 \
      --keep-best --val-every 500 --save-every 100 --precision fp32 $(out "jscc-t-sa-$config") ;;
  *) echo "train_candidates.sh: unknown step '$step'; accepted: den-cont-a1 den-cont-a0 ref-decoder-m3 dec-snr dec-wide dec-low dec-mid jscc-sa" >&2
     exit 2 ;;
esac
