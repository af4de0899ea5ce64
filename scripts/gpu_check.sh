#!/usr/bin/env bash
# GPU acceptance check: run as is on a machine with a CUDA GPU (about 6-8 minutes on one GPU).
#
#   scripts/gpu_check.sh            # writes $OUT/gpu_check.json if $OUT is set, else results/gpu/gpu_check.json
#
# 1. the CUDA-marked tests (pytest -m cuda);
# 2. a 2-image sweep of every scheme (jscc-t, ours, cddm, bpg-ldpc-1/2, bpg-capacity) on cuda and on the
#    cpu: per scheme the largest PSNR difference between the devices and the speed ratio (rows/s);
# 3. 3 minutes of `semcom-train jscc --config paper` (phase 1, 256² crops) on cuda: images/s;
# 4. with two GPUs or more, a 2-process torchrun smoke of phase-1 training (config tiny).
# Images: Kodak (first 2) when found ($SEMCOM_DATA, ../shared/datasets), else two generated 512×768 images;
# training data: $SEMCOM_DATA/train or ../shared/datasets/train (step 3/4 are skipped without it).
# Every step runs even if an earlier one fails; the exit code is 1 if any step failed.
# Dry run of the script itself without a GPU: GPU_CHECK_DEVICE=cpu GPU_CHECK_TRAIN_S=30 scripts/gpu_check.sh
set -u
cd "$(dirname "$0")/.."
if [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi
DEST="${OUT:-results/gpu}"
mkdir -p "$DEST"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
DEVICE="${GPU_CHECK_DEVICE:-cuda}"
TRAIN_S="${GPU_CHECK_TRAIN_S:-180}"
export GPU_CHECK_WORK="$WORK" GPU_CHECK_DEST="$DEST" GPU_CHECK_DEVICE="$DEVICE"
T0=$(date +%s)

if [ "$DEVICE" = cuda ]; then
  python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "gpu_check: CUDA is not available here (nothing to check)" >&2; exit 2; }
fi

echo "== 1. CUDA-marked tests" >&2
timeout 900 python -m pytest -q -m cuda tests/ > "$WORK/pytest.txt" 2>&1
echo $? > "$WORK/pytest.rc"
tail -3 "$WORK/pytest.txt" >&2

echo "== 2. 2-image sweep of every scheme, $DEVICE vs cpu" >&2
timeout 1200 python - <<'EOF' > "$WORK/sweep.json" 2> "$WORK/sweep.err"
import json, os, sys, tempfile, time
from pathlib import Path
import torch
import torch.nn.functional as F
from PIL import Image
import simulator as sim
from simulator.api import prepare
from simulator.data import DataError, find_dataset

SPECS = ["jscc-t", "ours", "cddm", "bpg-ldpc-1/2", "bpg-capacity"]
SNRS = [2.0, 12.0]
try:
    dataset, limit = str(find_dataset("kodak")), 2
except DataError:  # two smooth generated images
    folder = Path(os.environ["GPU_CHECK_WORK"]) / "images"
    folder.mkdir()
    for i in range(2):
        g = torch.Generator().manual_seed(i)
        x = F.interpolate(torch.rand(1, 3, 8, 12, generator=g), size=(512, 768), mode="bicubic")[0].clamp(0, 1)
        Image.fromarray(x.mul(255).round().byte().permute(1, 2, 0).numpy()).save(folder / f"gen{i}.png")
    dataset, limit = str(folder), 2
out = {"dataset": dataset, "images": limit, "snrs": SNRS, "schemes": {}}
for spec in SPECS:
    entry = {}
    try:
        rows = {}
        for device in (os.environ["GPU_CHECK_DEVICE"], "cpu"):
            prepare(spec, SNRS[:1], dataset=dataset, limit=1, device=device).run()  # warm-up: load, compile, autotune
            simulation = prepare(spec, SNRS, dataset=dataset, limit=limit, device=device)
            t0 = time.perf_counter()
            run = simulation.run()
            seconds = time.perf_counter() - t0
            side = "gpu" if len(rows) == 0 else "cpu"  # the device under test first, then the CPU
            rows[side] = {(r["image_id"], r["snr_db"], r["realization"]): r for r in run.rows}
            entry[f"{side}_rows_per_s"] = len(run.rows) / seconds
            entry[f"{side}_receiver_ms_median"] = sorted(r["receiver_ms"] for r in run.rows)[len(run.rows) // 2]
            entry[f"{side}_recorded_device"] = sorted({r["device"]["scheme"] for r in run.rows})
        entry["max_abs_psnr_diff_db"] = max(abs(rows["gpu"][k]["psnr"] - rows["cpu"][k]["psnr"]) for k in rows["cpu"])
        entry["speed_ratio_gpu_over_cpu"] = entry["gpu_rows_per_s"] / entry["cpu_rows_per_s"]
        if "steps" in next(iter(rows["cpu"].values()))["extras"]:
            entry["same_steps"] = all(rows["gpu"][k]["extras"]["steps"] == rows["cpu"][k]["extras"]["steps"]
                                      for k in rows["cpu"])
    except Exception as exc:  # reported, the other schemes still run
        entry["error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:500]}"
    out["schemes"][spec] = entry
    print(spec, json.dumps(entry), file=sys.stderr, flush=True)
json.dump(out, sys.stdout, indent=2)
EOF
echo $? > "$WORK/sweep.rc"
cat "$WORK/sweep.err" | grep -v Warning | tail -6 >&2

DATA=""
for d in "${SEMCOM_DATA:-}" ../shared/datasets shared/datasets; do
  if [ -n "$d" ] && [ -d "$d/train" ]; then DATA="$d"; break; fi
done

echo "== 3. $TRAIN_S s of --config paper phase-1 training" >&2
if [ -n "$DATA" ]; then
  timeout "$TRAIN_S" python -m simulator.train_cli jscc --config paper --device "$DEVICE" --batch 16 --crop 256 --iters 1000000 \
      --save-every 25 --val-every 1000000 --val-count 1 --data-dir "$DATA" --run-dir "$WORK/paper" \
      --out "$WORK/paper/jscc-t-paper.safetensors" > "$WORK/train.txt" 2>&1
  echo $? > "$WORK/train.rc"
else
  echo "no training data (set SEMCOM_DATA)" > "$WORK/train.txt"; echo skipped > "$WORK/train.rc"
fi
tail -2 "$WORK/train.txt" >&2

echo "== 4. 2-GPU torchrun smoke" >&2
GPUS=$(python -c "import torch; print(torch.cuda.device_count())")
if [ "$DEVICE" = cuda ] && [ "$GPUS" -ge 2 ] && [ -n "$DATA" ]; then
  timeout 300 python -m torch.distributed.run --nproc_per_node 2 --master_port 29531 -m simulator.train_cli jscc \
      --config tiny --iters 20 --batch 4 --crop 64 --val-every 20 --val-count 1 --save-every 20 --data-dir "$DATA" \
      --run-dir "$WORK/ddp" --out "$WORK/ddp/jscc-t-tiny.safetensors" > "$WORK/ddp.txt" 2>&1
  echo $? > "$WORK/ddp.rc"
else
  echo "needs 2 GPUs and training data ($GPUS GPU(s))" > "$WORK/ddp.txt"; echo skipped > "$WORK/ddp.rc"
fi
tail -2 "$WORK/ddp.txt" >&2

export GPU_CHECK_SECONDS=$(( $(date +%s) - T0 ))
python - <<'EOF'
import json, os, subprocess
from pathlib import Path
import torch

work, dest = Path(os.environ["GPU_CHECK_WORK"]), Path(os.environ["GPU_CHECK_DEST"])
def rc(name):
    text = (work / f"{name}.rc").read_text().strip()
    return text if text == "skipped" else int(text)
def tail(name, n=15):
    return (work / f"{name}.txt").read_text(errors="replace").splitlines()[-n:]
report = {
    "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
    "torch": torch.__version__, "cuda": torch.version.cuda,
    "git_sha": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "seconds": int(os.environ["GPU_CHECK_SECONDS"]),
    "cuda_tests": {"rc": rc("pytest"), "tail": tail("pytest", 5)},
}
try:
    report["sweep"] = json.loads((work / "sweep.json").read_text()) | {"rc": rc("sweep")}
except (OSError, ValueError):
    report["sweep"] = {"rc": rc("sweep"), "error": (work / "sweep.err").read_text(errors="replace")[-3000:]}
train = {"rc": rc("train"), "tail": tail("train", 5)}
state = work / "paper" / "state.pt"
if state.exists():
    s = torch.load(state, map_location="cpu", weights_only=True)
    train |= {"iterations": s["iteration"], "wall_s": s["wall_s"], "batch": 16, "crop": 256,
              "images_per_s": s["iteration"] * 16 / s["wall_s"]}
report["train_paper_phase1"] = train
report["torchrun_2gpu"] = {"rc": rc("ddp"), "tail": tail("ddp", 5)}
ok = (report["cuda_tests"]["rc"] == 0 and report["sweep"].get("rc") == 0
      and not any("error" in e for e in report["sweep"].get("schemes", {}).values())
      and "images_per_s" in train and rc("ddp") in (0, "skipped"))
report["ok"] = ok
(dest / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
print(json.dumps({k: report[k] for k in ("gpus", "seconds", "ok")}))
print(f"gpu_check: wrote {dest / 'gpu_check.json'}")
raise SystemExit(0 if ok else 1)
EOF
