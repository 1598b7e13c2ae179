#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv with everything the CLI,
# the ROS node and the tests need on a CPU-only machine. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(cat requirements/*.txt setup.py scripts/setup_env.sh | sha256sum | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip wheel setuptools
  "$VENV/bin/python" -m pip install -q -r requirements/dev.txt
  "$VENV/bin/python" -m pip install -q --no-deps -r requirements/engines-nodeps.txt
  # peer trackers for bench/bench_tracking_peers.py: their metadata pins conflict with ours (see the file)
  "$VENV/bin/python" -m pip install -q --no-deps -r requirements/peers.txt
  # CrowdPose evaluation: xtcocotools' wheels are built against numpy 1.x, so build it here
  # (also replacing a wheel an older environment may hold).
  if ! "$VENV/bin/python" -c "import xtcocotools._mask" 2>/dev/null; then
    "$VENV/bin/python" -m pip install -q --no-binary xtcocotools --no-build-isolation --force-reinstall \
      --no-deps "xtcocotools==$(sed -n 's/^xtcocotools==//p' requirements/constraints.txt)"
  fi
  "$VENV/bin/python" -m pip install -q --no-deps -e .
  touch "$stamp"
fi
# The compiled decoder core (litepose_ros/native/, plain C loaded with ctypes; rebuilt when its
# sources change). Without a C compiler the decoder falls back to the numpy reference.
"$VENV/bin/python" litepose_ros/native/build.py >/dev/null
VENV="$VENV" bash scripts/build_ros.sh  # ROS 2 wheels + our messages (own stamps; ~1 min first time)
# Real `ros2 launch` / ros2 CLI + a colcon build of this package for the launch tests (own stamps;
# ~40 s first time; skipped with a message when ../shared/ros2-launch is absent)
VENV="$VENV" bash scripts/build_launch.sh
