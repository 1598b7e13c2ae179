#!/usr/bin/env bash
# ROS 2 layer for the development venv (no ROS install needed): installs the ROS 2 Kilted
# wheels from PyPI (requirements/ros.txt) and builds our messages (msg/) with the package's
# own CMakeLists.txt into the venv, as colcon would on a robot. Safe to run repeatedly:
# each step is skipped while its inputs are unchanged. See ../shared/notes/ros2-from-pypi.md.
#
# Layout in the venv: the generated message code goes to $VENV/lib/litepose_ros_msgs/
# (not site-packages, where a litepose_ros/ directory holding only generated code would
# shadow the editable install of the sources); litepose_ros/ros/__init__.py attaches it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
VENV=$(cd "$VENV" && pwd)
BUILD_DIR=${BUILD_DIR:-build/ros}
PY="$VENV/bin/python"  # ros-wheels-bootstrapper re-execs the interpreter: call it directly

pip_stamp="$VENV/.ros-installed-$(cat requirements/ros.txt | sha256sum | cut -c1-16)"
if [ ! -e "$pip_stamp" ]; then
  "$PY" -m pip install -q -r requirements/ros.txt
  touch "$pip_stamp"
fi

msg_hash=$(cat CMakeLists.txt package.xml msg/*.msg "$pip_stamp" | sha256sum | cut -c1-16)
msg_stamp="$VENV/.ros-msgs-$msg_hash"
if [ ! -e "$msg_stamp" ] || [ ! -d "$VENV/lib/litepose_ros_msgs/litepose_ros/msg" ]; then
  # Trap 1 of the notes: without AMENT_PREFIX_PATH, "No 'rosidl_typesupport_c' found".
  export AMENT_PREFIX_PATH="$VENV"
  rm -rf "$BUILD_DIR" "$VENV/lib/litepose_ros_msgs"
  mkdir -p "$BUILD_DIR"
  cmake -S . -B "$BUILD_DIR" -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" \
    -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$PY" \
    -DPYTHON_INSTALL_DIR=lib/litepose_ros_msgs -DLITEPOSE_INSTALL_PYTHON_SOURCES=OFF >"$BUILD_DIR.log" 2>&1 \
    || { cat "$BUILD_DIR.log"; exit 1; }
  cmake --build "$BUILD_DIR" -j2 >>"$BUILD_DIR.log" 2>&1 || { cat "$BUILD_DIR.log"; exit 1; }
  cmake --install "$BUILD_DIR" >>"$BUILD_DIR.log" 2>&1 || { cat "$BUILD_DIR.log"; exit 1; }
  rm -f "$VENV"/.ros-msgs-*
  touch "$msg_stamp"
fi
"$PY" -c "import litepose_ros.ros; from litepose_ros.msg import PoseArray; PoseArray()" \
  || { echo "build_ros.sh: the generated messages do not import" >&2; exit 1; }
echo "ROS 2 messages ready ($VENV/lib/litepose_ros_msgs)"
