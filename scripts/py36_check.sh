#!/usr/bin/env bash
# Run the runtime modules' tests (preprocessing, metadata, people, decoder, depth, tracker parts) on
# Python 3.6 with numpy 1.19, the Jetson Nano's JetPack 4.6 stack. vermin checks the syntax of
# every runtime module; this checks that the code really runs and decodes the same people there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY36=${PY36:-/root/.pyenv/versions/3.6.15/bin/python3.6}
[ -x "$PY36" ] || PY36=$(command -v python3.6 || true)
if [ -z "$PY36" ] || ! "$PY36" -c "import sys; assert sys.version_info[:2] == (3, 6)" 2>/dev/null; then
  echo "py36_check: skipped, no Python 3.6 interpreter on this machine (set PY36)"
  exit 0
fi
VENV36=.venv36
stamp="$VENV36/.installed-$(sha256sum requirements/py36.txt | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  rm -rf "$VENV36"
  "$PY36" -m venv "$VENV36"
  "$VENV36/bin/python" -m pip install -q --upgrade "pip<22"  # 18.x predates manylinux2010 wheels
  "$VENV36/bin/python" -m pip install -q -r requirements/py36.txt
  touch "$stamp"
fi
# LITEPOSE_QUICK: 100 of the decoder's 500 seeded random cases (all 500 run in the main suite)
LITEPOSE_QUICK=1 "$VENV36/bin/python" -m pytest -q -p no:cacheprovider -c /dev/null --rootdir . \
  test/test_preprocess.py test/test_image_messages.py test/test_metadata.py test/test_people.py test/test_decoder.py test/test_depth.py \
  test/test_tracking_parts.py
