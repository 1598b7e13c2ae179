#!/usr/bin/env bash
# GPU check of `litepose train` (not run in CI): a few hundred steps of the default (official,
# fp32) recipe on the shared COCO images, then throughput and the official-protocol validation.
# Usage: scripts/gpu_train_check.sh [STEPS] (default 300); AMP=1 adds --amp, CHANNELS_LAST=1 adds
# --channels-last. Prints the run's images/s (from train_log.csv) and the final validation table.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${1:-300}"
PY="${PYTHON:-.venv/bin/python}"
SHARED="${LITEPOSE_SHARED_DATA:-../shared/data}/coco"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Official COCO layout: val2017 is the 4 shared images; train2017 repeats them 100 times (new image
# ids, same files) so that epochs hold many steps and data-loader start-up does not dominate.
mkdir -p "$WORK/data/annotations"
ln -s "$(realpath "$SHARED")" "$WORK/data/train2017"
ln -s "$(realpath "$SHARED")" "$WORK/data/val2017"
ln -s "$(realpath "$SHARED")/person_keypoints_mmpose_test.json" "$WORK/data/annotations/person_keypoints_val2017.json"
"$PY" - "$SHARED/person_keypoints_mmpose_test.json" "$WORK/data/annotations/person_keypoints_train2017.json" <<'PYEOF'
import copy, json, sys
data = json.load(open(sys.argv[1]))
images, anns = [], []
for copy_index in range(100):
    offset = copy_index * 10 ** 7
    images += [dict(im, id=im["id"] + offset) for im in data["images"]]
    anns += [dict(copy.deepcopy(a), image_id=a["image_id"] + offset, id=a["id"] + offset) for a in data["annotations"]]
json.dump(dict(data, images=images, annotations=anns), open(sys.argv[2], "w"))
PYEOF

"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))"
# 400 images / batch 16 = 25 steps per epoch.
EPOCHS=$(( (STEPS + 24) / 25 ))
EXTRA=()
if [ "${AMP:-0}" = 1 ]; then EXTRA+=(--amp); fi
if [ "${CHANNELS_LAST:-0}" = 1 ]; then EXTRA+=(--channels-last); fi
time "$PY" -m litepose_ros.cli train --arch S --dataset coco --data-root "$WORK/data" --output "$WORK/run" \
  --epochs "$EPOCHS" --batch-size 16 --workers 8 --lr-steps "$((EPOCHS + 1))" \
  --val-every "$EPOCHS" --val-protocol official --log-every 5 --no-progress ${EXTRA[@]+"${EXTRA[@]}"}
"$PY" - "$WORK/run/train_log.csv" <<'PYEOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
rates = [float(r["images_per_s"]) for r in rows[len(rows) // 2:]]  # second half: warmed up
print("loss {} -> {}; training throughput {:.1f} images/s (median of the second half)".format(
    rows[0]["loss"], rows[-1]["loss"], sorted(rates)[len(rates) // 2]))
PYEOF
