#!/usr/bin/env bash
# End the phase-1 campaign and rebuild every learned number on its codec (docs/training.md).
#   1. decay: continue the campaign's best weights at 256² crops on two torchrun processes (batch 2
#      each: the pixels per step of the campaign's 2 × 8 × 128², and the last stage's shifted
#      windows now shift), the learning rate falling linearly to 0 over DECAY_ITERS (wsd)
#      -> checkpoints/jscc-t-CONFIG.{safetensors,json};
#   2. the receivers on that codec: scripts/train_receivers.sh CONFIG;
#   3. every committed sweep row, paper figure, table and claims check (rows of the old weights
#      are recomputed: the checkpoint hash is part of every row's config hash).
# Each step resumes after a kill: rerun the same command (finished training steps are skipped:
# their shipped checkpoints already hold them, scripts/checkpoint_done.py; sweeps reuse their rows).
# Usage: scripts/finish_campaign.sh CONFIG CAMPAIGN_WEIGHTS DECAY_ITERS
#   e.g. scripts/finish_campaign.sh cpu checkpoints/campaign/cpu-bf16.safetensors 5000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
config=$1 weights=$2 decay=$3
iterations=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['iterations'])" "${weights%.safetensors}.json")
export OMP_NUM_THREADS=1

if python3 scripts/checkpoint_done.py "jscc-t-$config" $((iterations + decay)); then
  echo "jscc-t-$config: done ($((iterations + decay)) iterations)"
else
  torchrun --standalone --nproc_per_node 2 -m simulator.train_cli jscc --config "$config" --threads 1 --snr 13 \
    --batch 2 --crop 256 --optimizer adamw --lr 1e-3 --warmup 200 --schedule wsd \
    --iters $((iterations + decay)) --decay-iters "$decay" --ema 0.999 --val-every 500 --save-every 250 --keep-best \
    --init "$weights" --run-dir "runs/finish/jscc-$config" --out "checkpoints/jscc-t-$config.safetensors"
fi

scripts/train_receivers.sh "$config"

figures="--config $config"
semcom-figures all $figures
semcom-figures fading $figures --realizations 4
semcom-figures mcs $figures
semcom-figures claims $figures
semcom-figures claims $figures --dataset train/bsds500/test --limit 24 --snr -3,2,7,12 --out results/paper/bsds500-test
simulate --scheme "ours:config=$config,jscc-t:config=$config,cddm:config=$config,bpg-ldpc,bpg-capacity" --snr -3:12 --plot
