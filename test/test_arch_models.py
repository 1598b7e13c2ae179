"""LiteRT and ONNX Runtime on another CPU architecture compute what PyTorch and the host computed.

scripts/aarch64_check.sh exports the models on the x86-64 host (test/arch_models.py, which needs
torch) into the folder named by LITEPOSE_ARCH_MODELS and runs this file on aarch64 under qemu,
with that architecture's own LiteRT (XNNPACK's ARM kernels) and ONNX Runtime wheels.
"""
import os

import numpy as np
import pytest
from arch_models import EXPECTED, RUNS, metadata, run_backend

from litepose_ros.backends import create_backend

FOLDER = os.environ.get("LITEPOSE_ARCH_MODELS", "")
pytestmark = pytest.mark.skipif(
    not os.path.isfile(os.path.join(FOLDER, EXPECTED)),
    reason="no host-made models (LITEPOSE_ARCH_MODELS; scripts/aarch64_check.sh makes them)")
# Tolerances relative to the largest PyTorch output of each stage (random weights: ~6e-3 and ~0.1).
# Float runs differ from the host's only in summation order (measured ~2e-7 relative), and from
# PyTorch by ~1e-6 (fp32) and ~1e-3 (fp16 weights). int8 is checked against the host's int8 run:
# the same integers (measured: all of them), or one output step apart where a requantisation
# rounds the other way, for at most 1% of the values.
HOST_TOLERANCE = 1e-5
TORCH_TOLERANCE = {"litert_fp32": 1e-5, "litert_fp32_builtin": 1e-5, "onnxruntime": 1e-5, "litert_fp16": 5e-3}


@pytest.fixture(scope="module")
def expected():
    with np.load(os.path.join(FOLDER, EXPECTED)) as data:
        return dict(data)


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b)))


def _output_step(run: str) -> float:
    """The largest output quantisation step of an int8 model (0 for float outputs)."""
    backend = create_backend(os.path.join(FOLDER, RUNS[run][0]), threads=1, **RUNS[run][1])
    return max(float(d["quantization"][0]) for d in backend._outputs)


@pytest.mark.parametrize("run", sorted(RUNS))
def test_runtime_matches_the_host_and_pytorch(run, expected):
    outputs = run_backend(FOLDER, run, expected["inputs"])
    step = _output_step(run) if run == "litert_int8" else 0.0
    assert run != "litert_int8" or step > 0
    for stage, got in enumerate(outputs):
        torch_out = expected["torch_{}".format(stage)]
        scale = float(np.abs(torch_out).max())
        assert scale > 0 and np.std(torch_out) > 0  # a real signal to compare
        host = expected["{}_{}".format(run, stage)]
        diff = _max_diff(got, host)
        assert diff <= max(HOST_TOLERANCE * scale, 1.001 * step), (run, stage, diff, scale)
        if step:
            assert np.mean(got != host) <= 0.01, (run, stage, np.mean(got != host))
        if run in TORCH_TOLERANCE:
            diff = _max_diff(got, torch_out)
            assert diff <= TORCH_TOLERANCE[run] * scale, (run, stage, diff, scale)


def test_models_carry_their_metadata():
    for name in sorted({file for file, _ in RUNS.values()}):
        assert create_backend(os.path.join(FOLDER, name), threads=1).metadata == metadata()
