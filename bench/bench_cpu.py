"""CPU cost per frame of ONNX Runtime settings at a camera's rate (issue 22 item 12).

A robot shares its CPU: what counts is not only latency but the CPU time each frame costs,
including what the runtime's thread pool burns waiting between frames. For LitePose-XS@256
(random weights: cost only) fed at ``--rate`` Hz, each setting runs in a fresh process and
prints latency percentiles, CPU milliseconds per frame (process CPU time over all threads /
frames) and CPU % of one core. Settings: ONNX Runtime's own default (threads 0, spinning),
ours (threads 0, no spinning) and one thread.

    .venv/bin/python bench/bench_cpu.py [--rate 10] [--seconds 15] [--size 256]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

SETTINGS = (("threads 0, spinning (ONNX Runtime default; before issue 22)", 0, True),
            ("threads 0, no spinning (default now)", 0, False),
            ("threads 1, no spinning", 1, False),
            ("threads 2, no spinning", 2, False))


def export_model(folder: str, size: int) -> str:
    import torch

    from litepose_ros.common.metadata import ModelMetadata
    from litepose_ros.export.onnx_export import export_onnx
    from litepose_ros.model.litepose import build_model

    torch.manual_seed(0)
    metadata = ModelMetadata.for_dataset("XS", "coco", size, size, weights="random")
    path = os.path.join(folder, "xs_{}.onnx".format(size))
    export_onnx(build_model("XS", metadata.num_joints).eval(), metadata, path)
    return path


def measure(model: str, threads: int, spin: bool, rate: float, seconds: float) -> dict:
    """In this process: frames at ``rate`` Hz for ``seconds``; latency and CPU per frame."""
    from litepose_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
    from litepose_ros.pipeline.estimator import PoseEstimator

    estimator = PoseEstimator(OnnxRuntimeBackend(model, threads=threads, spin=spin), max_num_people=5)
    frame = np.random.RandomState(0).randint(0, 255, (480, 640, 3)).astype(np.uint8)
    for _ in range(5):  # warm-up
        estimator.estimate(frame)
    period = 1.0 / rate
    latencies = []
    cpu_start, wall_start = time.process_time(), time.monotonic()
    next_frame = wall_start
    while time.monotonic() - wall_start < seconds:
        start = time.perf_counter()
        estimator.estimate(frame)
        latencies.append((time.perf_counter() - start) * 1000.0)
        next_frame += period
        time.sleep(max(0.0, next_frame - time.monotonic()))
    cpu_s, wall_s = time.process_time() - cpu_start, time.monotonic() - wall_start
    return {"frames": len(latencies), "p50_ms": float(np.percentile(latencies, 50)),
            "p90_ms": float(np.percentile(latencies, 90)), "cpu_ms_per_frame": cpu_s * 1000.0 / len(latencies),
            "cpu_percent": 100.0 * cpu_s / wall_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=10.0, help="frames per second fed (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=15.0, help="per setting (default %(default)s)")
    parser.add_argument("--size", type=int, default=256, help="network input size (default %(default)s)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: model,threads,spin in a fresh process
    args = parser.parse_args()
    if args.one:
        model, threads, spin = args.one.split(",")
        print(json.dumps(measure(model, int(threads), spin == "1", args.rate, args.seconds)))
        return
    with tempfile.TemporaryDirectory() as folder:
        model = export_model(folder, args.size)
        print("LitePose-XS@{} at {:g} Hz for {:g} s per setting, {} online CPUs\n".format(
            args.size, args.rate, args.seconds, os.cpu_count()))
        print("| setting | latency p50 ms | latency p90 ms | CPU ms per frame | CPU % of one core |")
        print("|---|---|---|---|---|")
        for name, threads, spin in SETTINGS:
            out = subprocess.run([sys.executable, __file__, "--one", "{},{},{}".format(model, threads, int(spin)),
                                  "--rate", str(args.rate), "--seconds", str(args.seconds)],
                                 stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
            print("| {} | {:.1f} | {:.1f} | {:.1f} | {:.0f} |".format(
                name, result["p50_ms"], result["p90_ms"], result["cpu_ms_per_frame"], result["cpu_percent"]),
                flush=True)


if __name__ == "__main__":
    main()
