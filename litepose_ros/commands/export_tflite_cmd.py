"""``litepose export-tflite``: PyTorch checkpoint -> LiteRT (.tflite) fp32/fp16/int8, verified.

torch, litert-torch and ai-edge-quantizer are imported inside ``run`` only.
"""
import argparse
import os
from typing import Any, List

from .export_cmd import RANDOM_WEIGHTS, add_model_source_arguments, model_from_args, run_reporting_errors

# Real frames for int8 calibration unless --calibration says otherwise (repository sample data).
DEFAULT_CALIBRATION_DIRS = ("../shared/data/video/face-demographics-walking_frames", "../shared/data/video")
RANDOM_CALIBRATION = "random"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export-tflite", help="export LitePose to a verified LiteRT/TFLite file (fp32, fp16, int8)",
        description="Convert a LitePose network straight from PyTorch to LiteRT with litert-torch, optionally "
        "quantise it (fp16 weights, or int8 calibrated on real images), embed the metadata and check the "
        "result against PyTorch.",
    )
    add_model_source_arguments(parser)
    parser.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp32")
    parser.add_argument("--calibration", metavar="DIR", help="folder of real images for int8 calibration "
                        "(default: the sample video frames); 'random' uses noise, for tests only")
    parser.add_argument("--calibration-count", type=int, default=64, help="at most this many images (default 64)")
    parser.add_argument("--output", required=True, help=".tflite file to write")
    parser.set_defaults(func=run)
    return parser


def _find_images(args: argparse.Namespace) -> List[Any]:
    from ..export.verify import load_images

    if args.calibration is not None:
        images = load_images([args.calibration], args.calibration_count)
        if not images:
            raise ValueError("no readable images in --calibration {}".format(args.calibration))
        return images
    for directory in DEFAULT_CALIBRATION_DIRS:
        if os.path.isdir(directory):
            images = load_images([directory], args.calibration_count)
            if images:
                return images
    return []


def _random_images(count: int, size: int = 256) -> List[Any]:
    import numpy as np

    rng = np.random.RandomState(0)
    return [rng.randint(0, 256, (size, size, 3)).astype(np.uint8) for _ in range(max(count, 1))]


def _export(args: argparse.Namespace) -> int:
    from ..engines.tflite_export import export_tflite

    if args.calibration == RANDOM_CALIBRATION:
        print("WARNING: --calibration random: calibrating/checking on NOISE as requested")
        images = _random_images(min(args.calibration_count, 8))
    else:
        images = _find_images(args)
    if args.precision == "int8" and not images:
        raise ValueError("int8 needs real calibration images: pass --calibration DIR (the default sample "
                         "frames {} were not found)".format(DEFAULT_CALIBRATION_DIRS[0]))
    model, metadata = model_from_args(args)
    report = export_tflite(model, metadata, args.output, args.precision, calibration_images=images,
                           strict_people=metadata.weights != RANDOM_WEIGHTS)
    print("wrote {} ({:.1f} MB): LitePose-{} {} {}x{}, {}, weights {}{}".format(
        args.output, report.size_bytes / 1e6, metadata.arch, metadata.dataset, metadata.input_width,
        metadata.input_height, args.precision, metadata.weights,
        ", calibrated on {} images".format(report.calibration_images) if args.precision == "int8" else ""))
    print(report.summary())
    if not report.passed:
        print("NOTE: random weights detect noise, so the people comparison above is informational only")
    return 0


def run(args: argparse.Namespace) -> int:
    return run_reporting_errors("export-tflite", _export, args, "torch, litert-torch and ai-edge-quantizer: "
                                "pip install -r requirements/engines.txt")
