#!/usr/bin/env bash
# Run the runtime tests on aarch64 (the CPU of a Raspberry Pi or a Jetson) under qemu user-mode
# emulation: Python 3.11 from Debian's arm64 packages, aarch64 wheels from PyPI fetched by the
# host's pip, the decoder core cross-compiled with aarch64-linux-gnu-gcc, and LiteRT/ONNX models
# exported on the host (torch and litert-torch have no usable aarch64 wheels here). Nothing but
# the tests runs emulated. Recipe and traps: ../shared/notes/arm64-under-qemu.md.
# Everything lands in .aarch64/ (ignored), each part keyed by a hash of its inputs.
# Skips (exit 0) with a message where it cannot run: not x86-64, not root and the tools missing,
# no network to Debian or PyPI, qemu unable to start. LITEPOSE_AARCH64=require turns those skips
# into failures; LITEPOSE_AARCH64=skip skips on purpose. A failing aarch64 test fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
CACHE=${AARCH64_CACHE:-$REPO/.aarch64}
HOST_PY=${HOST_PY:-$REPO/.venv/bin/python}
MODE=${LITEPOSE_AARCH64:-auto}
START=$SECONDS
# The runtime tests; of test_native.py those that run in-process (the others start a Python
# subprocess or a compiler, which the emulated Python cannot). Extra arguments go to pytest.
TESTS=(test/test_preprocess.py test/test_decoder.py test/test_people.py test/test_metadata.py
       test/test_backends.py test/test_arch_models.py
       test/test_native.py::test_the_compiled_core_is_what_decodes_here
       test/test_native.py::test_decoding_the_same_frame_twice_reuses_state
       test/test_native.py::test_threads_find_the_same_people
       test/test_native.py::test_the_python_declaration_matches_the_compiled_layout
       test/test_native.py::test_a_mismatched_struct_declaration_is_refused)
# Run again with the core build.py made (the tests above use CMake's).
SCRIPT_BUILD_TESTS=(test/test_decoder.py::test_compiled_matches_reference_seeded_random_cases
                    test/test_native.py::test_threads_find_the_same_people)
# Python 3.11 and the libraries it and the wheels load (Debian bookworm names, arm64), plus
# media-types (architecture-independent; the standard library's mimetypes reads it).
DEBS=(python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libc6 libgcc-s1 libstdc++6
      zlib1g libbz2-1.0 liblzma5 libexpat1 libffi8 libssl3 libcrypt1 libsqlite3-0 libncursesw6 libtinfo6
      libreadline8 libuuid1 libdb5.3 libnsl2 libtirpc3 libgssapi-krb5-2 libkrb5-3 libk5crypto3
      libkrb5support0 libcom-err2 libkeyutils1)
WHEELS=(numpy scipy opencv-python-headless onnxruntime ai-edge-litert onnx pytest pytest-timeout)
# Sources of the host-made models and their expected outputs (test/arch_models.py).
MODEL_INPUTS=(test/arch_models.py litepose_ros/model litepose_ros/common/architectures.py
              litepose_ros/engines/tflite_export.py litepose_ros/export litepose_ros/backends
              litepose_ros/common/metadata.py litepose_ros/image/preprocess.py
              requirements/constraints.txt)

skip() {
  if [ "$MODE" = require ]; then echo "aarch64_check: FAILED (LITEPOSE_AARCH64=require): $*"; exit 1; fi
  echo "aarch64_check: skipped, $* (runtime tests not run on aarch64)"
  exit 0
}
phase() { echo "aarch64_check: $* ($((SECONDS - START)) s)"; }
key() { cat "$@" | sha256sum | cut -c1-16; }

[ "$MODE" = skip ] && skip "LITEPOSE_AARCH64=skip"
[ "$(uname -m)" = x86_64 ] || skip "the host is $(uname -m), not x86-64"
[ -x "$HOST_PY" ] || skip "no host Python at $HOST_PY (run scripts/setup_env.sh)"

# 1. Host tools: qemu-user-static, the aarch64 C cross compiler, cmake, and apt's arm64 package lists.
apt_ready=0
install_host_tools() {
  [ "$(id -u)" = 0 ] || skip "not root, cannot apt-get install qemu-user-static gcc-aarch64-linux-gnu"
  command -v apt-get >/dev/null || skip "no apt-get on this machine"
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -qq >/dev/null 2>&1 || skip "apt-get update failed (no network to Debian's mirrors?)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross cmake >/dev/null 2>&1 \
    || skip "apt-get install qemu-user-static gcc-aarch64-linux-gnu cmake failed"
  apt_ready=1
}
if ! command -v qemu-aarch64-static >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null \
   || ! command -v cmake >/dev/null; then
  install_host_tools
  phase "host tools installed"
fi

# 2. An aarch64 root: Debian's arm64 Python 3.11 unpacked (no package scripts run), plus a fake
#    ARM /proc/cpuinfo: qemu shows the guest the host's x86 one, on which ONNX Runtime's CPU
#    detection crashes; qemu -L serves ROOTFS/<path> for any path that exists there.
ROOTFS=$CACHE/rootfs-$(echo "${DEBS[*]} $(nproc)" | cat - scripts/aarch64_check.sh | key)
if [ ! -e "$ROOTFS/.complete" ]; then
  if [ "$apt_ready" = 0 ]; then
    if ! apt-cache show python3.11-minimal:arm64 >/dev/null 2>&1; then install_host_tools; fi
  fi
  rm -rf "$CACHE"/rootfs-* "$CACHE/debs"  # older keys too
  mkdir -p "$CACHE/debs" "$ROOTFS/proc"
  (cd "$CACHE/debs" && apt-get download -qq "${DEBS[@]/%/:arm64}" media-types >"$CACHE/apt.log" 2>&1) \
    || { tail -3 "$CACHE/apt.log"; skip "apt-get download of the arm64 Python packages failed (no network?)"; }
  for deb in "$CACHE"/debs/*.deb; do dpkg -x "$deb" "$ROOTFS"; done
  rm -rf "$CACHE/debs"
  for ((core = 0; core < $(nproc); core++)); do
    printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n' "$core"
    printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n'
  done >"$ROOTFS/proc/cpuinfo"
  touch "$ROOTFS/.complete"
  phase "aarch64 Python 3.11 unpacked from Debian's arm64 packages"
fi

# 3. aarch64 wheels, fetched and unpacked by the host's pip (pip never runs emulated).
SITE=$CACHE/site-$(echo "${WHEELS[*]}" | cat - requirements/constraints.txt | key)
if [ ! -e "$SITE/.complete" ]; then
  rm -rf "$CACHE"/site-*
  platforms=(--platform manylinux2014_aarch64)
  for minor in $(seq 17 36); do platforms+=(--platform "manylinux_2_${minor}_aarch64"); done
  "$HOST_PY" -m pip install -q --disable-pip-version-check --target "$SITE" --only-binary=:all: \
    --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none "${platforms[@]}" \
    -c requirements/constraints.txt "${WHEELS[@]}" >"$CACHE/pip.log" 2>&1 \
    || { tail -5 "$CACHE/pip.log"; skip "pip could not fetch the aarch64 wheels (no network to PyPI?)"; }
  touch "$SITE/.complete"
  phase "aarch64 wheels installed"
fi

# 4. The decoder core, cross-compiled twice from the one source and flag list
#    (litepose_ros/native/build_settings.txt): with CMake through native.cmake, the part of
#    CMakeLists.txt that colcon builds on a robot (the tests run with it), and with build.py
#    (a second, shorter run checks it too). Both rebuilt when their sources change.
LIB_SCRIPT=$CACHE/lib/_litepose_native.so
"$HOST_PY" litepose_ros/native/build.py --cc aarch64-linux-gnu-gcc --output "$LIB_SCRIPT" >/dev/null
mkdir -p "$CACHE/cmake-project"
printf 'cmake_minimum_required(VERSION 3.8)\nproject(litepose_native_aarch64 C)\ninclude(%s)\n' \
  "$REPO/litepose_ros/native/native.cmake" >"$CACHE/cmake-project/CMakeLists.txt"
cmake -S "$CACHE/cmake-project" -B "$CACHE/cmake-build" -DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc \
  -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 >"$CACHE/cmake.log" 2>&1 \
  && cmake --build "$CACHE/cmake-build" >>"$CACHE/cmake.log" 2>&1 \
  || { tail -20 "$CACHE/cmake.log"; echo "aarch64_check: FAILED: the CMake (colcon) build of the core for aarch64"; exit 1; }
LIB=$CACHE/cmake-build/_litepose_native.so

# 5. Models exported on the host, with the inputs and the outputs PyTorch and the host's
#    runtimes give (test/test_arch_models.py compares the aarch64 runtimes with them).
MODELS=$CACHE/models-$(find "${MODEL_INPUTS[@]}" -type f -name '*.py' -o -type f -name '*.txt' | sort | xargs cat | key)
if [ ! -e "$MODELS/.complete" ]; then
  rm -rf "$CACHE"/models-*
  "$HOST_PY" test/arch_models.py "$MODELS" >"$CACHE/models.log" 2>&1 \
    || { tail -20 "$CACHE/models.log"; echo "aarch64_check: FAILED: exporting the models on the host"; exit 1; }
  touch "$MODELS/.complete"
  phase "models exported on the host"
fi

# 6. The tests, emulated as a Cortex-A72 (the Raspberry Pi 4's core): qemu's default CPU
#    advertises SVE, which sends XNNPACK and ONNX Runtime down paths ~10x slower to emulate.
#    LITEPOSE_QUICK=1: test_decoder.py checks 100 of its 500 seeded random cases.
run_aarch64() {
  QEMU_CPU=cortex-a72 LITEPOSE_QUICK=1 PYTHONPATH="$SITE:$REPO" LITEPOSE_NATIVE_LIB="$LIB" LITEPOSE_ARCH_MODELS="$MODELS" \
    PYTHONDONTWRITEBYTECODE=1 qemu-aarch64-static -L "$ROOTFS" "$ROOTFS/usr/bin/python3.11" -s "$@"
}
machine=$(run_aarch64 -c "import platform; print(platform.machine())" 2>&1) || true
[ "$machine" = aarch64 ] || skip "qemu-aarch64-static cannot run the aarch64 Python here: ${machine:0:200}"
core=$(run_aarch64 -c "from litepose_ros import native; native.load(); print(native.loaded_path())" 2>&1) || true
if [ "$core" != "$LIB" ]; then
  echo "aarch64_check: FAILED: the cross-compiled decoder core does not load on aarch64: ${core: -500}"
  exit 1
fi
phase "running the runtime tests on aarch64"
log=$CACHE/pytest.log
set +e
run_aarch64 -m pytest -q -rs -p no:cacheprovider -o timeout=900 "${TESTS[@]}" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
summary=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed|error).* =+$' "$log" | tail -1 | tr -d '=')
if [ "$status" != 0 ]; then
  echo "aarch64_check: FAILED on aarch64 (qemu): ${summary:-pytest exit $status} in $((SECONDS - START)) s"
  exit 1
fi
phase "the build.py core: the reference comparison again"
set +e
LIB="$LIB_SCRIPT" run_aarch64 -m pytest -q -p no:cacheprovider -o timeout=900 "${SCRIPT_BUILD_TESTS[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" != 0 ]; then
  echo "aarch64_check: FAILED on aarch64 (qemu) with the build.py core in $((SECONDS - START)) s"
  exit 1
fi
echo "aarch64_check: passed on aarch64 (qemu, Python 3.11, compiled decoder core built by CMake and by build.py): $summary in $((SECONDS - START)) s"
