"""``litepose build-engine``: ONNX -> TensorRT engine + sidecar on this device, verified against ONNX Runtime.

Runs on the Jetson (Python 3.6 on JetPack 4.6); tensorrt and pycuda are imported in ``run``.
"""
import argparse
import os
import sys
from typing import Any

DEFAULT_WORKSPACE_MB = 1024
# Frames for the post-build check, when present (the repository's sample data layout).
DEFAULT_IMAGE_DIRS = ("../shared/data/video/face-demographics-walking_frames",)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "build-engine", help="build a TensorRT engine from an ONNX export (run on the Jetson)",
        description="Build a TensorRT engine on this device from a `litepose export` ONNX file, write a JSON "
        "sidecar next to it, then check the engine against ONNX Runtime on the CPU.",
    )
    parser.add_argument("--onnx", required=True, help="ONNX file written by `litepose export`")
    parser.add_argument("--output", required=True, help="engine file to write, e.g. engines/litepose_s.engine")
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument("--fp16", dest="fp16", action="store_true", default=True, help="FP16 kernels (default)")
    precision.add_argument("--fp32", dest="fp16", action="store_false", help="FP32 only")
    parser.add_argument("--workspace", type=int, default=DEFAULT_WORKSPACE_MB, metavar="MB",
                        help="builder workspace in MB (default: %(default)s; Jetson Nano: 512 or less)")
    parser.add_argument("--timing-cache", metavar="FILE", help="read and update this timing cache (faster rebuilds)")
    parser.add_argument("--images", nargs="*", help="images or folders for the post-build check "
                        "(default: sample frames when present, else a fixed synthetic input)")
    parser.add_argument("--skip-verify", action="store_true",
                        help="do not compare with ONNX Runtime (e.g. onnxruntime not installed); not recommended")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        from ..backends.base import BackendError
        from ..engines.tensorrt_build import EngineBuildError, build_engine, default_images, verify_engine
        from ..export.verify import load_images
    except ImportError as error:
        sys.stderr.write("litepose build-engine: {}\n".format(error))
        return 1
    if not os.path.isfile(args.onnx):
        sys.stderr.write("litepose build-engine: error: ONNX file not found: {}\n".format(args.onnx))
        return 2
    try:
        report = build_engine(args.onnx, args.output, fp16=args.fp16, workspace_mb=args.workspace,
                              timing_cache=args.timing_cache)
    except (EngineBuildError, BackendError, OSError) as error:
        sys.stderr.write("litepose build-engine: error: {}\n".format(error))
        return 1
    print("wrote {} ({:.1f} MB, {}, built in {:.0f} s) and {}".format(
        report.engine_path, report.size_bytes / 1e6, report.precision, report.seconds, report.sidecar_path))
    if args.skip_verify:
        print("WARNING: --skip-verify: the engine was NOT compared with ONNX Runtime")
        return 0
    images = load_images(args.images) if args.images else default_images(list(DEFAULT_IMAGE_DIRS))
    try:
        verdict = verify_engine(report.engine_path, args.onnx, images)
    except ImportError as error:
        sys.stderr.write("litepose build-engine: cannot verify ({}); install onnxruntime (pip3 install "
                         "onnxruntime) or pass --skip-verify\n".format(error))
        return 1
    except BackendError as error:
        sys.stderr.write("litepose build-engine: the new engine does not load: {}\n".format(error))
        return 1
    print("TensorRT vs ONNX Runtime (CPU):\n" + verdict.summary())
    if not verdict.passed:
        sys.stderr.write("litepose build-engine: the engine was written but does NOT match ONNX Runtime; "
                         "try --fp32, or check with `litepose verify`\n")
        return 1
    return 0
