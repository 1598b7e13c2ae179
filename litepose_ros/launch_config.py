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
    against ``base_dir`` (default: the current directory, which the node inherits).
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
    return LaunchPlan(PACKAGE, EXECUTABLE, NODE_NAME, namespace.strip(), path, overrides)


# Help text of each launch argument (pose.launch.py declares them from this table).
ARGUMENT_HELP = {
    "platform": "cpu (ONNX Runtime), jetson (TensorRT) or rpi (TFLite): picks config/<platform>.yaml",
    "namespace": "namespace for the node and its topics (e.g. robot1)",
}
ARGUMENT_HELP.update({short: "{} (parameter {}{})".format(
    p.help, p.name, "; " + p.range_text() if p.range_text() else "") for short, p in _BY_ARGUMENT.items()})
ARGUMENT_HELP["model"] += "; a relative path is taken from the current directory"
