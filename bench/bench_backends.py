"""CPU backends side by side: ONNX Runtime vs LiteRT (fp32/fp16/int8, XNNPACK on/off) vs PyTorch eager.

For XS@256 and S@448 (random weights: speed only), 1 and 2 threads: median and p90 of the
network alone, and end to end (BGR frame in -> people out, via PoseEstimator). Prints a markdown
table. Numbers are from whatever CPU runs this; x86 results do not carry over to ARM (Pi).

    .venv/bin/python bench/bench_backends.py [--runs 30] [--configs XS:256 S:448] [--out DIR]
"""
import argparse
import glob
import os
import tempfile
import time
from typing import Callable, List, Tuple

import cv2
import numpy as np
import torch

from litepose_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from litepose_ros.backends.tflite_backend import TFLiteBackend
from litepose_ros.common.metadata import ModelMetadata
from litepose_ros.engines.tflite_export import (
    calibration_tensors,
    convert_fp32,
    embed_metadata,
    quantize_fp16,
    quantize_int8,
)
from litepose_ros.engines.torch_backend import TorchBackend
from litepose_ros.export.onnx_export import export_onnx
from litepose_ros.model.litepose import build_model
from litepose_ros.pipeline.estimator import PoseEstimator

FRAMES = "../shared/data/video/face-demographics-walking_frames"


def timed(fn: Callable[[], object], runs: int) -> Tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times)), float(np.percentile(times, 90))


def prepare(arch: str, size: int, folder: str, frames: List[np.ndarray]):
    torch.manual_seed(0)
    metadata = ModelMetadata.for_dataset(arch, "crowdpose", size, size, weights="random")
    model = build_model(arch, metadata.num_joints).eval()
    onnx_path = os.path.join(folder, "{}_{}.onnx".format(arch, size))
    export_onnx(model, metadata, onnx_path)
    fp32 = embed_metadata(convert_fp32(model, metadata), metadata)
    files = {"fp32": fp32, "fp16": quantize_fp16(fp32),
             "int8": quantize_int8(fp32, calibration_tensors(frames[:16], metadata))}
    paths = {}
    for precision, content in files.items():
        paths[precision] = os.path.join(folder, "{}_{}_{}.tflite".format(arch, size, precision))
        with open(paths[precision], "wb") as handle:
            handle.write(content)
    return metadata, model, onnx_path, paths


def backends(metadata, model, onnx_path, paths, threads):
    yield "ONNX Runtime", OnnxRuntimeBackend(onnx_path, threads=threads)
    for precision in ("fp32", "fp16", "int8"):
        for xnnpack in (False, True):
            label = "LiteRT {} XNNPACK {}".format(precision, "on" if xnnpack else "off")
            yield label, TFLiteBackend(paths[precision], threads=threads, xnnpack=xnnpack)
    yield "PyTorch eager", TorchBackend(model, metadata, threads=threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--configs", nargs="+", default=["XS:256", "S:448"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    args = parser.parse_args()
    frames = [cv2.imread(f) for f in sorted(glob.glob(os.path.join(FRAMES, "*.jpg")))]
    if not frames:
        raise SystemExit("no frames in {}".format(FRAMES))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for config in args.configs:
            arch, size = config.split(":")
            prepared = prepare(arch, int(size), folder, frames)
            for threads in args.threads:
                for label, backend in backends(*prepared, threads=threads):
                    estimator = PoseEstimator(backend)
                    x = estimator.preprocess(frames[0])[0]
                    net = timed(lambda b=backend, t=x: b.run(t), args.runs)
                    end = timed(lambda e=estimator: e.estimate(frames[1]), args.runs)
                    rows.append((config.replace(":", "@"), threads, label) + net + end)
                    print("{} t{} {}: {:.1f} / {:.1f} ms".format(config, threads, label, net[0], end[0]), flush=True)
    print("\n| model | threads | backend | network median ms | network p90 ms | end-to-end median ms | "
          "end-to-end p90 ms |\n| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| {} | {} | {} | {:.1f} | {:.1f} | {:.1f} | {:.1f} |".format(*row))


if __name__ == "__main__":
    main()
