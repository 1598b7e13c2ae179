"""`litepose`: one command line for people with images, exports, engines and bags."""
import argparse
import importlib
import sys
from typing import List, Optional

# Subcommand modules, in --help order. Each registers itself with add_parser(subparsers);
# heavy imports (torch, tensorrt) happen inside their run() so the CLI starts fast anywhere.
COMMAND_MODULES = (
    "predict_cmd",
    "eval_cmd",
    "export_cmd",
    "export_tflite_cmd",
    "build_engine_cmd",
    "verify_cmd",
    "train_cmd",
    "bag_cmd",
)
# Subcommands that decode people: they say once when the slow numpy decoder stands in.
DECODING_COMMANDS = ("predict", "eval", "verify", "bag")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="litepose", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module("litepose_ros.commands." + name).add_parser(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.command in DECODING_COMMANDS:
        from .decoding import warn_if_slow

        warn_if_slow()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ImportError as error:
        if (getattr(error, "name", None) or "").split(".")[0] != "rosbags":
            raise
        # rosbags has no rosdep key, so a colcon install may lack it (package.xml says so)
        print("litepose {}: needs the rosbags package, which is not installed: pip3 install rosbags".format(
            " ".join(part for part in (args.command, getattr(args, "bag_command", None)) if part)), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
