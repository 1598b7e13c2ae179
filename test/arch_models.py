"""Models for test/test_arch_models.py, made on the host, which has torch and litert-torch.

    python test/arch_models.py FOLDER

Writes LitePose-XS (seeded random weights) as fp32, fp16 and int8 LiteRT files and an ONNX file,
plus ``expected.npz``: the input tensors, PyTorch's outputs on them, and the outputs of every
runtime configuration in ``RUNS`` on this machine. scripts/aarch64_check.sh runs this on the
x86-64 host, then test_arch_models.py on aarch64 (qemu), where torch has no wheel.
"""
import os
import sys
from typing import Any, Dict, List

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPECTED = "expected.npz"
ARCH, DATASET, SIZE = "XS", "crowdpose", 64  # small: every inference is emulated on aarch64
# Runtime configurations re-run on the other architecture: name -> (file, backend options).
RUNS = {
    "litert_fp32": ("xs_fp32.tflite", {"xnnpack": True}),
    "litert_fp32_builtin": ("xs_fp32.tflite", {"xnnpack": False}),
    "litert_fp16": ("xs_fp16.tflite", {"xnnpack": True}),
    "litert_int8": ("xs_int8.tflite", {"xnnpack": True}),
    "onnxruntime": ("xs.onnx", {}),
}
FRAMES = 2  # real frames (when ../shared/data is there) besides one fixed random input


def metadata() -> Any:
    from litepose_ros.common.metadata import ModelMetadata

    return ModelMetadata.for_dataset(ARCH, DATASET, SIZE, SIZE, weights="random")


def run_backend(folder: str, run: str, inputs: np.ndarray) -> List[np.ndarray]:
    """Stage 1 and stage 2 outputs of ``RUNS[run]`` for each input, stacked (batch axis)."""
    from litepose_ros.backends import create_backend

    name, options = RUNS[run]
    backend = create_backend(os.path.join(folder, name), threads=1, **options)
    outputs = [backend.run(tensor[None]) for tensor in inputs]
    return [np.concatenate([o[stage] for o in outputs]) for stage in (0, 1)]


def _images() -> List[np.ndarray]:
    """Real frames for int8 calibration and as inputs; seeded noise when the sample data is absent."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from conftest import SHARED_DATA

    from litepose_ros.export.verify import load_images

    frames = SHARED_DATA / "video" / "face-demographics-walking_frames"
    images = load_images([str(frames)], 16) if frames.is_dir() else []
    if not images:
        print("no sample frames at {}: calibrating on seeded noise".format(frames))
        rng = np.random.RandomState(0)
        images = [rng.randint(0, 256, (120, 160, 3)).astype(np.uint8) for _ in range(8)]
    return images


def build(folder: str) -> None:
    import torch

    from litepose_ros.commands.export_cmd import RANDOM_SEED
    from litepose_ros.engines.tflite_export import (
        calibration_tensors,
        convert_fp32,
        embed_metadata,
        quantize_fp16,
        quantize_int8,
    )
    from litepose_ros.export.onnx_export import export_onnx, parity_input
    from litepose_ros.model.litepose import build_model

    meta = metadata()
    torch.manual_seed(RANDOM_SEED)
    model = build_model(ARCH, meta.num_joints).eval()
    images = _images()
    calibration = calibration_tensors(images, meta)
    os.makedirs(folder, exist_ok=True)
    fp32 = embed_metadata(convert_fp32(model, meta), meta)
    files = {"xs_fp32.tflite": fp32, "xs_fp16.tflite": quantize_fp16(fp32),
             "xs_int8.tflite": quantize_int8(fp32, calibration)}
    for name, content in files.items():
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(content)
    export_onnx(model, meta, os.path.join(folder, "xs.onnx"))
    inputs = np.concatenate([parity_input(meta)] + calibration[:FRAMES])
    with torch.no_grad():
        stages = [model(torch.from_numpy(tensor[None])) for tensor in inputs]
    expected: Dict[str, np.ndarray] = {"inputs": inputs}
    for stage in (0, 1):
        expected["torch_{}".format(stage)] = np.concatenate([s[stage].numpy() for s in stages])
    for run in RUNS:
        for stage, output in enumerate(run_backend(folder, run, inputs)):
            expected["{}_{}".format(run, stage)] = output
    np.savez(os.path.join(folder, EXPECTED), **expected)
    print("wrote {}: {} and {} ({} inputs)".format(folder, ", ".join(sorted(files) + ["xs.onnx"]), EXPECTED,
                                                   len(inputs)))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.path.insert(0, REPO)
    build(sys.argv[1])
