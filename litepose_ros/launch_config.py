"""Platform -> pose_node parameters, for the launch files (kept here so it is testable).

The launch files only collect their arguments as strings and call ``resolve``; the result
names the config file to load and the parameter overrides to apply on top of it. Nothing
here imports ROS.
"""
import os
from typing import Any, Dict, List, NamedTuple, Optional

from .node_settings import NODE_NAME, PARAMETERS

PACKAGE = "litepose_ros"
EXECUTABLE = "pose_node"
PLATFORMS = ("cpu", "jetson", "rpi")

# Launch argument -> (node parameter, type), from the parameter table. An empty argument keeps
# the config file's value.
OVERRIDABLE = {p.short: (p.name, p.kind) for p in PARAMETERS if p.launch}
_BY_ARGUMENT = {p.short: p for p in PARAMETERS if p.launch}


class LaunchPlan(NamedTuple):
    package: str
    executable: str
    node_name: str
    namespace: str
    config_file: str
    overrides: Dict[str, Any]

    @property
    def parameters(self) -> List[Any]:
        """The ``parameters=`` list for launch_ros' Node: the file, then the overrides."""
        return [self.config_file, dict(self.overrides)] if self.overrides else [self.config_file]


def config_file(platform: str, share_dir: str) -> str:
    """Path of ``config/<platform>.yaml`` under the package's share directory."""
    if platform not in PLATFORMS:
        raise ValueError("unknown platform {!r}; expected one of {}".format(platform, ", ".join(PLATFORMS)))
    return os.path.join(share_dir, "config", platform + ".yaml")


def parse_value(name: str, text: str) -> Any:
    """A launch argument string -> the parameter's type, or ValueError naming the argument."""
    return _BY_ARGUMENT[name].parse(text)


def resolve(
    platform: str,
    share_dir: str,
    arguments: Optional[Dict[str, str]] = None,
    namespace: str = "",
    base_dir: Optional[str] = None,
) -> LaunchPlan:
    """Everything the launch file needs to start pose_node for ``platform``.

    ``arguments`` are the launch arguments as strings ('' = not given); unknown names are an
    error so a typo does not silently do nothing. A relative ``model`` is made absolute
    against ``base_dir`` (default: the directory ``ros2 launch`` was typed in), so the node
    never resolves it against its own current directory (``/`` under systemd). Without
    ``model``, the config file must name an absolute model path (the shipped ones name none).
    """
    path = config_file(platform, share_dir)
    if not os.path.isfile(path):
        raise ValueError("config file for platform {} not found: {}".format(platform, path))
    overrides = {}  # type: Dict[str, Any]
    for name, text in sorted((arguments or {}).items()):
        if name not in OVERRIDABLE:
            raise ValueError("unknown launch argument {!r}; known: {}".format(name, ", ".join(sorted(OVERRIDABLE))))
        if text is None or not str(text).strip():
            continue
        overrides[OVERRIDABLE[name][0]] = parse_value(name, str(text))
    model = overrides.get("model_path")
    if model:
        overrides["model_path"] = os.path.abspath(os.path.join(base_dir or os.getcwd(), os.path.expanduser(model)))
    else:
        check_config_model(platform, path)
    return LaunchPlan(PACKAGE, EXECUTABLE, NODE_NAME, namespace.strip(), path, overrides)


# What `model:=` usually points at, per platform (engines/README.md builds the jetson one).
EXAMPLE_MODELS = {
    "cpu": "~/litepose/litepose_xs_coco_256.onnx",
    "jetson": "~/litepose/litepose_xs_coco_256_fp16.engine",
    "rpi": "~/litepose/litepose_xs_coco_256.tflite",
}


def check_config_model(platform: str, path: str) -> None:
    """Without ``model:=`` the config's model_path is used: it must be set and absolute.

    A relative path in a config file would be resolved by the node against its current
    directory, which is whatever started it (``/`` under systemd): refuse it here, at launch.
    """
    import yaml

    with open(path) as stream:
        document = yaml.safe_load(stream) or {}
    section = document.get("/**", {}) if isinstance(document, dict) else {}
    model = str((section.get("ros__parameters") or {}).get("model_path") or "")
    example = "model:={}".format(EXAMPLE_MODELS.get(platform, "/path/to/model"))
    if not model:
        raise ValueError("no model for platform {}: pass {} ({} sets none; "
                         "see the README's robot quick start)".format(platform, example, path))
    if not os.path.isabs(os.path.expanduser(model)):
        raise ValueError("model_path {!r} in {} is relative, so it would depend on the directory the node "
                         "starts in; use an absolute path there or pass {}".format(model, path, example))

# Help text of each launch argument (pose.launch.py declares them from this table).
ARGUMENT_HELP = {
    "platform": "cpu (ONNX Runtime), jetson (TensorRT) or rpi (TFLite): picks config/<platform>.yaml",
    "namespace": "namespace for the node and its topics (e.g. robot1)",
}
ARGUMENT_HELP.update({short: "{} (parameter {}{})".format(
    p.help, p.name, "; " + p.range_text() if p.range_text() else "") for short, p in _BY_ARGUMENT.items()})
ARGUMENT_HELP["model"] += ("; required unless the config names an absolute one; a relative path is taken from "
                           "the directory ros2 launch runs in")
