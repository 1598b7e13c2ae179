"""``litepose verify``: do two models (any backends) find the same people on the same images?"""
import argparse
import sys
from typing import Any

from ..export.verify import DEFAULT_HEATMAP_TOLERANCE, DEFAULT_MIN_OKS, DEFAULT_MIN_SCORE


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "verify", help="compare two models/engines: heatmap error and people agreement (OKS)",
        description="Run MODEL and REFERENCE on the same images, report heatmap error statistics and the OKS "
        "between the people each decodes; exit 1 beyond tolerance. E.g. an int8 .tflite or an FP16 .engine "
        "against the .onnx it came from.",
    )
    parser.add_argument("--model", required=True, help="model under test (.onnx, .tflite, .engine)")
    parser.add_argument("--reference", required=True, help="reference model, e.g. the fp32 ONNX export")
    parser.add_argument("--backend", default="auto", help="backend for --model (default: by suffix)")
    parser.add_argument("--reference-backend", default="auto", help="backend for --reference (default: by suffix)")
    parser.add_argument("--images", nargs="*", help="images or folders (default: one fixed synthetic input)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many images (0: all)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=DEFAULT_HEATMAP_TOLERANCE,
                        help="max |heatmap difference| allowed (default %(default)s)")
    parser.add_argument("--min-oks", type=float, default=DEFAULT_MIN_OKS,
                        help="minimum people agreement, mean OKS (default %(default)s)")
    parser.add_argument("--min-score", type=float, default=DEFAULT_MIN_SCORE,
                        help="compare only people scoring at least this (default %(default)s)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..backends import BackendError, create_backend
    from ..export.verify import Tolerance, compare_backends, load_images

    try:
        model = create_backend(args.model, args.backend, threads=args.threads)
        reference = create_backend(args.reference, args.reference_backend, threads=args.threads)
    except BackendError as error:
        sys.stderr.write("litepose verify: error: {}\n".format(error))
        return 2
    images = load_images(args.images, args.limit) if args.images else []
    if args.images and not images:
        sys.stderr.write("litepose verify: error: no readable images in {}\n".format(args.images))
        return 2
    tolerance = Tolerance(heatmap_max_abs=args.tolerance, min_oks=args.min_oks, min_score=args.min_score)
    try:
        report = compare_backends(model, reference, images, tolerance)
    except ValueError as error:
        sys.stderr.write("litepose verify: error: {}\n".format(error))
        return 2
    finally:
        model.close()
        reference.close()
    print("{}\n  vs {}".format(model.describe(), reference.describe()))
    print(report.summary())
    return 0 if report.passed else 1
