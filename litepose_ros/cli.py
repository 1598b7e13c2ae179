"""`litepose`: one command line for people with images, exports, engines and bags."""
import argparse
import importlib
import signal
import sys
from typing import Any, Dict, List, Optional

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


class StopSignal(KeyboardInterrupt):
    """SIGTERM or SIGHUP (terminal closed, ssh dropped) outside a graceful stop: unwinds like
    Ctrl-C, so the same clean-up runs, and the exit code names the signal."""

    def __init__(self, signum: int) -> None:
        super(StopSignal, self).__init__(signum)
        self.signum = signum


def _raise_stop(signum: int, frame: Any) -> None:
    raise StopSignal(signum)


def _install_stop_handlers() -> Dict[int, Any]:
    """Ctrl-C raises KeyboardInterrupt, SIGTERM and SIGHUP StopSignal (the package root put in
    quiet start-up handlers); long runs put their graceful stop over these. Returns the handlers
    they replace (main() called in-process, e.g. by tests, puts them back)."""
    previous: Dict[int, Any] = {}
    try:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
        for name in ("SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                previous[getattr(signal, name)] = signal.signal(getattr(signal, name), _raise_stop)
    except ValueError:  # not the main thread (main() called from a thread): leave them
        pass
    return previous


def main(argv: Optional[List[str]] = None) -> int:
    previous = _install_stop_handlers()
    try:  # also around the imports of the commands: a stop signal there is no traceback either
        return _run(argv)
    except KeyboardInterrupt as stop:
        signum = stop.signum if isinstance(stop, StopSignal) else signal.SIGINT
        print("interrupted ({})".format(signal.Signals(signum).name), file=sys.stderr)
        return 128 + int(signum)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def _run(argv: Optional[List[str]]) -> int:
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
    except ImportError as error:
        if (getattr(error, "name", None) or "").split(".")[0] != "rosbags":
            raise
        # rosbags has no rosdep key, so a colcon install may lack it (package.xml says so)
        print("litepose {}: needs the rosbags package, which is not installed: pip3 install rosbags".format(
            " ".join(part for part in (args.command, getattr(args, "bag_command", None)) if part)), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
