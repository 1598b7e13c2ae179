"""``litepose export``: PyTorch checkpoint -> self-contained, verified ONNX file with metadata.

torch, onnx and onnxruntime are imported inside ``run`` only, so that ``litepose --help``
and the other subcommands start fast on machines (the robot) without them.
"""
import argparse
import os
import sys
from typing import Any, Callable, Dict, Optional, Tuple

from ..common.architectures import ARCHS, get_arch, input_size_problem
from ..common.keypoints import DATASETS

RANDOM_WEIGHTS = "random"
# Random exports are reproducible: the same command writes the same weights.
RANDOM_SEED = 0

_BANNER = """
{rule}
WARNING: no --checkpoint given: exporting RANDOMLY INITIALISED weights.
This file detects nothing; it is only good for testing the pipeline and timing.
Its metadata records weights="random".
{rule}
""".format(rule="!" * 72)


class UsageError(ValueError):
    """A bad combination of arguments; reported as exit code 2, like argparse's own errors."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``export`` on an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "export",
        help="export LitePose to a verified ONNX file",
        description="Export a LitePose network (official or litepose_ros checkpoint) to one ONNX file "
        "with embedded metadata, then check it against PyTorch with ONNX Runtime.",
    )
    add_model_source_arguments(parser)
    parser.add_argument("--opset", type=int, default=11, help="ONNX opset (default: 11, for TensorRT 8.0)")
    parser.add_argument("--dynamic-size", action="store_true",
                        help="any input height and width (what `litepose eval --protocol official` needs); the "
                        "default fixed size is what the robot's engines take")
    parser.add_argument("--output", required=True, help="ONNX file to write")
    parser.set_defaults(func=run)
    return parser


def parse_input_size(text: Optional[str], arch: str) -> Tuple[int, int]:
    """``None`` -> the arch's official size; ``"N"`` -> NxN; ``"WxH"`` -> (W, H). Validated."""
    if text is None:
        size = get_arch(arch).img_size
        return size, size
    parts = text.lower().split("x")
    try:
        width, height = (int(parts[0]), int(parts[0])) if len(parts) == 1 else (int(parts[0]), int(parts[1]))
        if len(parts) > 2:
            raise ValueError
    except ValueError:
        raise UsageError("--input-size must be N or WxH, e.g. 448 or 640x384, got {!r}".format(text)) from None
    problem = input_size_problem(width, height)
    if problem:
        raise UsageError("--input-size: " + problem)
    return width, height


def _resolve(option: str, given: Optional[str], stored: Any) -> str:
    """Take a setting from the command line or the checkpoint metadata; they must agree."""
    if given is not None and stored is not None and str(stored).lower() != given.lower():
        raise UsageError("--{} {} contradicts the checkpoint, which says {}".format(option, given, stored))
    if given is None and stored is None:
        raise UsageError("--{} is required (the checkpoint does not record it)".format(option))
    return given if given is not None else str(stored)


def _load_weights(args: argparse.Namespace) -> Tuple[Dict[str, Any], str]:
    """Read the checkpoint's metadata (to resolve arch/dataset) and describe where weights come from."""
    if args.checkpoint is None:
        return {}, RANDOM_WEIGHTS
    from ..model.checkpoint import describe_weights, read_checkpoint

    _, stored = read_checkpoint(args.checkpoint)
    return stored, describe_weights(args.checkpoint)


def add_model_source_arguments(parser: argparse.ArgumentParser) -> None:
    """--arch/--dataset/--checkpoint/--input-size, shared by the export commands."""
    parser.add_argument(
        "--arch", type=str.upper, choices=sorted(ARCHS), help="architecture (default: from the checkpoint)"
    )
    parser.add_argument(
        "--dataset", type=str.lower, choices=sorted(DATASETS), help="keypoint set (default: from the checkpoint)"
    )
    parser.add_argument("--checkpoint", help="weights (.pth); without it, random weights are exported")
    parser.add_argument(
        "--input-size", help="network input, N (square) or WxH, multiples of 16 (default: the arch's official size)"
    )


def model_from_args(args: argparse.Namespace) -> Tuple[Any, Any]:
    """(PyTorch LitePose with the checkpoint's or reproducible random weights, its ModelMetadata)."""
    import torch

    from ..common.metadata import ModelMetadata
    from ..model.checkpoint import load_checkpoint
    from ..model.litepose import build_model

    stored, weights = _load_weights(args)
    arch = _resolve("arch", args.arch, stored.get("arch")).upper()
    dataset = _resolve("dataset", args.dataset, stored.get("dataset")).lower()
    width, height = parse_input_size(args.input_size, arch)
    metadata = ModelMetadata.for_dataset(arch, dataset, width, height, weights=weights)
    torch.manual_seed(RANDOM_SEED)
    model = build_model(arch, metadata.num_joints)
    if args.checkpoint is None:
        sys.stderr.write(_BANNER)
    else:
        load_checkpoint(model, args.checkpoint)
    return model, metadata


def run_reporting_errors(command: str, export: Callable[[argparse.Namespace], int], args: argparse.Namespace,
                         needs: str) -> int:
    """Run an export; usage errors exit 2, everything else expected exits 1 with one readable line."""
    try:
        return export(args)
    except UsageError as error:
        sys.stderr.write("litepose {}: error: {}\n".format(command, error))
        return 2
    except ImportError as error:
        sys.stderr.write("litepose {}: needs {} ({})\n".format(command, needs, error))
        return 1
    except (ValueError, RuntimeError, OSError) as error:
        # CheckpointError, export/parity errors, ModelMetadataError and file errors.
        sys.stderr.write("litepose {}: error: {}\n".format(command, error))
        return 1


def _export(args: argparse.Namespace) -> int:
    from ..export.onnx_export import export_onnx

    model, metadata = model_from_args(args)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    report = export_onnx(model, metadata, args.output, opset=args.opset, dynamic_size=args.dynamic_size)
    print("wrote {} ({:.1f} MB): LitePose-{} {} {}x{}, opset {}, weights {}".format(
        args.output, report.size_bytes / 1e6, metadata.arch, metadata.dataset, metadata.input_width,
        metadata.input_height, report.opset, metadata.weights))
    print(report.summary())
    return 0


def run(args: argparse.Namespace) -> int:
    """Entry point of ``litepose export``; returns the process exit code."""
    return run_reporting_errors("export", _export, args, "torch, onnx and onnxruntime: "
                                "pip install -r requirements/dev.txt")
