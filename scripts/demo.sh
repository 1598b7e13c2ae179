#!/usr/bin/env bash
# The main job on the shared sample data: export a model, find people in the sample photos and
# video frames (drawn skeletons + COCO results), evaluate on the annotated COCO photos, then run
# pose_node end to end (camera frames over DDS in, PoseArray out).
# Set LITEPOSE_CHECKPOINT to an official-format checkpoint (COCO, arch XS) for meaningful people;
# without it the network has random weights and the run only demonstrates the pipeline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
DATA=${LITEPOSE_SHARED_DATA:-../shared/data}
OUT=${OUT:-out/demo}
ARCH=${ARCH:-XS}
mkdir -p "$OUT"
checkpoint=()
[ -n "${LITEPOSE_CHECKPOINT:-}" ] && checkpoint=(--checkpoint "$LITEPOSE_CHECKPOINT")

.venv/bin/litepose export --arch "$ARCH" --dataset coco "${checkpoint[@]}" --output "$OUT/litepose_${ARCH}_coco.onnx"
.venv/bin/litepose predict --model "$OUT/litepose_${ARCH}_coco.onnx" \
  "$DATA/coco" "$DATA/video/face-demographics-walking_frames" \
  --output "$OUT/predictions.json" --draw "$OUT/drawn"
# The official test protocol runs the network on non-square inputs: an export of any input size.
.venv/bin/litepose export --arch "$ARCH" --dataset coco "${checkpoint[@]}" --dynamic-size \
  --output "$OUT/litepose_${ARCH}_coco_any_size.onnx"
.venv/bin/litepose eval --model "$OUT/litepose_${ARCH}_coco_any_size.onnx" \
  --annotations "$DATA/coco/person_keypoints_mmpose_test.json" --images "$DATA/coco" \
  --output "$OUT/eval_metrics.json"
# The robot path on this machine: pose_node as a process over real DDS, fed the video frames.
.venv/bin/python scripts/run_demo_ros.py --model "$OUT/litepose_${ARCH}_coco.onnx" \
  --frames "$DATA/video/face-demographics-walking_frames" --output "$OUT/ros_demo_poses.jsonl"
echo "demo outputs in $OUT"
