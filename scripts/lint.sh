#!/usr/bin/env bash
# ruff on everything; vermin proves the runtime modules (what runs on a Jetson Nano with
# JetPack 4.6) need nothing newer than Python 3.6.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
RUNTIME_MODULES=(
  litepose_ros/__init__.py litepose_ros/common litepose_ros/image litepose_ros/backends litepose_ros/decoding
  litepose_ros/native litepose_ros/tracking litepose_ros/depth litepose_ros/messages litepose_ros/pipeline
  litepose_ros/settings litepose_ros/ros launch
  litepose_ros/engines/__init__.py litepose_ros/engines/tensorrt_build.py litepose_ros/export/__init__.py
  litepose_ros/export/verify.py litepose_ros/commands/build_engine_cmd.py litepose_ros/commands/verify_cmd.py
  litepose_ros/evaluation/__init__.py litepose_ros/evaluation/protocols.py
)
existing=()
for path in "${RUNTIME_MODULES[@]}"; do [ -e "$path" ] && existing+=("$path"); done
.venv/bin/vermin --target=3.6- --no-tips --violations --eval-annotations "${existing[@]}"
echo "vermin: runtime modules are Python 3.6 compatible"
