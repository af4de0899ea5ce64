#!/usr/bin/env bash
# The recipe of the shipped `cpu` weights under checkpoints/, from scratch on 2 CPU cores
# (docs/training.md): phase 1 at a constant learning rate on both cores (AdamW 1e-3, EMA 0.999,
# 2 x 8 crops of 128² per iteration, 13 dB; ≈ 4.3 CPU-hours), then scripts/finish_campaign.sh:
# a 5,000-iteration decay at 256² crops, the receivers (scripts/train_receivers.sh) and every
# sweep and figure.  Every step resumes after a kill: rerun the script.
# (The shipped codec itself ran its first 35,000 iterations as one process with 8 crops each;
# 31,000 iterations of 16 crops hold the same number of crops as its 48,500 constant-rate ones.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NICE=${NICE:-5} NPROC=2 scripts/scaling_study.sh cpu-bf16 cpu --schedule constant --iters 31000
scripts/finish_campaign.sh cpu runs/study/cpu-bf16/w.safetensors 5000
