"""Arguments and helpers shared by the subcommands that run a model on images."""
import argparse
from typing import Any

from ..node_settings import BY_NAME

# "official": the reference evaluation protocol (flip test, heatmaps projected to input size).
# "fast": what the robot runs (no flip, grouping at stride-2 heatmap resolution).
PROTOCOLS = {
    "official": {"flip_test": True, "project_to_input": True},
    "fast": {"flip_test": False, "project_to_input": False},
}


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
    group.add_argument("--model", required=True, help="exported model (.onnx, .tflite, .engine)")
    add_parameter_option(group, "backend")
    add_parameter_option(group, "threads")
    group.add_argument(
        "--protocol", choices=sorted(PROTOCOLS), default=default_protocol,
        help="official: flip test + input-resolution decoding; fast: the robot's settings (default: %(default)s)",
    )
    for name in ("detection_threshold", "tag_threshold", "max_people"):
        add_parameter_option(group, name)


def estimator_from_args(args: argparse.Namespace):  # -> PoseEstimator (imported lazily)
    from ..pipeline import PoseEstimator

    protocol = PROTOCOLS[args.protocol]
    return PoseEstimator.from_model(
        args.model,
        backend=args.backend,
        threads=args.threads,
        flip_test=protocol["flip_test"],
        project_to_input=protocol["project_to_input"],
        detection_threshold=args.detection_threshold,
        tag_threshold=args.tag_threshold,
        max_num_people=args.max_people,
    )
