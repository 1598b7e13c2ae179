#!/usr/bin/env bash
# ruff on everything; vermin proves the runtime modules (what runs on a Jetson Nano with
# JetPack 4.6) need nothing newer than Python 3.6.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
RUNTIME_MODULES=(
  litepose_ros/__init__.py litepose_ros/keypoints.py litepose_ros/metadata.py litepose_ros/people.py
  litepose_ros/preprocess.py litepose_ros/image_messages.py litepose_ros/pipeline.py litepose_ros/frame_processor.py litepose_ros/draw.py litepose_ros/files.py litepose_ros/interrupt.py litepose_ros/pose_fields.py litepose_ros/node_settings.py litepose_ros/hints.py
  litepose_ros/depth.py litepose_ros/native
  litepose_ros/backends litepose_ros/decoding litepose_ros/model/__init__.py litepose_ros/model/configs.py
  litepose_ros/ros litepose_ros/launch_config.py launch litepose_ros/engines/__init__.py
  litepose_ros/engines/tensorrt_build.py litepose_ros/verify.py litepose_ros/commands/build_engine_cmd.py
  litepose_ros/commands/verify_cmd.py litepose_ros/tracking litepose_ros/protocols.py
)
existing=()
for path in "${RUNTIME_MODULES[@]}"; do [ -e "$path" ] && existing+=("$path"); done
.venv/bin/vermin --target=3.6- --no-tips --violations --eval-annotations "${existing[@]}"
echo "vermin: runtime modules are Python 3.6 compatible"
