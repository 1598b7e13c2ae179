"""Arguments and helpers shared by the subcommands that run a model on images."""
import argparse
from typing import Any

from ..evaluation.protocols import PROTOCOL_HELP, PROTOCOLS, protocol_options
from ..settings.parameters import BY_NAME


def add_parameter_option(group: Any, name: str, with_default: bool = True) -> None:
    """``--option`` for node parameter ``name``, with its type, range check and help from the
    parameter table. Without the default the option is None unless given (so a parameters file
    can supply the value); booleans then get ``--x`` / ``--no-x``."""
    param = BY_NAME[name]
    dest = param.short
    if param.kind is bool:
        group.add_argument(param.option, dest=dest, action="store_const", const=True,
                           default=param.default if with_default else None, help=param.help)
        group.add_argument("--no-" + param.option[2:], dest=dest, action="store_const", const=False)
        return
    notes = [param.range_text()] if param.range_text() else []
    if with_default and param.default != "":
        notes.append("default: %(default)s")
    help_text = param.help.replace("%", "%%") + (" ({})".format("; ".join(notes)) if notes else "")
    group.add_argument(param.option, dest=dest, type=_parser(param), default=param.default if with_default else None,
                       metavar=param.short.upper(), help=help_text)


def _parser(param: Any) -> Any:
    def parse(text: str) -> Any:
        try:
            return param.parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error).split(": ", 1)[-1]) from None
    parse.__name__ = param.kind.__name__  # argparse names the type in its errors
    return parse


def add_model_arguments(parser: argparse.ArgumentParser, default_protocol: str) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", required=True, help="exported model (.onnx, .tflite, .engine) or a PyTorch "
                       "checkpoint (.pth: runs in PyTorch, needs torch)")
    group.add_argument("--arch", type=str.upper, help="architecture of a .pth checkpoint without litepose metadata "
                       "(an official one); checkpoints of `litepose train` carry it")
    add_parameter_option(group, "backend")
    add_parameter_option(group, "threads")
    group.add_argument(
        "--protocol", choices=sorted(PROTOCOLS), default=default_protocol,
        help=PROTOCOL_HELP + " (default: %(default)s)",
    )
    for name in ("detection_threshold", "tag_threshold", "max_people"):
        add_parameter_option(group, name)


def _backend_from_args(args: argparse.Namespace) -> Any:
    if str(args.model).lower().endswith((".pth", ".pt", ".pth.tar")):
        try:
            from ..model.module_backend import checkpoint_backend
        except ImportError as error:
            raise ValueError("{} is a PyTorch checkpoint, which needs torch ({}); or export it with "
                             "`litepose export`".format(args.model, error)) from None
        return checkpoint_backend(args.model, args.arch, getattr(args, "dataset", None), threads=args.threads)
    from ..backends import create_backend

    return create_backend(args.model, args.backend, threads=args.threads)


def estimator_from_args(args: argparse.Namespace):  # -> PoseEstimator (imported lazily)
    from ..pipeline.estimator import PoseEstimator

    backend = _backend_from_args(args)
    try:
        return PoseEstimator(
            backend,
            detection_threshold=args.detection_threshold,
            tag_threshold=args.tag_threshold,
            max_num_people=args.max_people,
            **protocol_options(args.protocol)
        )
    except ValueError:
        backend.close()
        raise
