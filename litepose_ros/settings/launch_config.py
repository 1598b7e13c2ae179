"""Platform -> pose_node parameters and launch options, for the launch files (kept here so it
is testable without ROS).

Every node parameter of the one table (``settings.parameters.PARAMETERS``) is a launch argument
(named by its short name: ``model`` for ``model_path``), plus the launch options of
``OPTIONS`` (platform, namespace, params_file, use_sim_time, log_level, respawn, lifecycle ...).
The launch files collect them as strings and call ``resolve`` and ``parse_options``; the
result names the parameters to pass, in increasing precedence: the platform's config file
(less what a parent launch set with ``SetParameter``), ``params_file:=``, then the arguments
given. ``litepose_ros.ros.launch_description`` turns that into launch actions. Nothing here
imports ROS.
"""
import os
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Tuple

from .parameters import NODE_NAME, PARAMETERS, closest_name
from .params_file import parameters_from_file

PACKAGE = "litepose_ros"
EXECUTABLE = "pose_node"
LIFECYCLE_EXECUTABLE = "pose_lifecycle_node"
PLATFORMS = ("cpu", "jetson", "rpi")
LAUNCH_FILES = ("pose.launch.py", "jetson.launch.py", "rpi.launch.py")
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")
# Arguments `ros2 launch` itself adds to the launch arguments (its --launch-prefix options)
ROS2_LAUNCH_ARGUMENTS = ("launch-prefix", "launch-prefix-filter")

# Launch argument -> (node parameter, type), from the parameter table. An empty argument keeps
# the value from the config file / params_file.
OVERRIDABLE = {p.short: (p.name, p.kind) for p in PARAMETERS}
_BY_ARGUMENT = {p.short: p for p in PARAMETERS}


class Option(NamedTuple):
    """A launch argument that is not a node parameter."""

    name: str
    default: str
    help: str


OPTIONS = (
    Option("platform", "cpu", "cpu (ONNX Runtime), jetson (TensorRT) or rpi (TFLite): picks config/<platform>.yaml"),
    Option("namespace", "", "namespace for the node and its topics (e.g. robot1)"),
    Option("params_file", "", "a ROS 2 parameters file overlaid on config/<platform>.yaml (its pose_node or /** "
           "sections); the other launch arguments win over both; a relative path is taken from the directory "
           "ros2 launch runs in"),
    Option("use_sim_time", "", "true: the node's clock follows /clock (stamps of /diagnostics); empty leaves it to "
           "a parent launch (SetParameter) or false"),
    Option("log_level", "", "the node's log level: " + ", ".join(LOG_LEVELS) + " (empty: info)"),
    Option("respawn", "false", "true: restart pose_node whenever it exits (also after a fatal start-up error, "
           "every respawn_delay); false: its failure ends the launch with a non-zero exit code"),
    Option("respawn_delay", "2.0", "seconds before a respawn"),
    Option("dds_profile", "", "large_frames: the node uses the DDS profile shipped in config/dds for the running "
           "RMW (Fast DDS or Cyclone DDS: bigger shared-memory segments and socket buffers, for raw camera frames); a "
           "path: that XML file; empty: the environment's. Give the camera driver the same profile"),
    Option("lifecycle", "false", "true: start the managed (lifecycle) node pose_lifecycle_node instead: "
           "configure loads the model, activate subscribes"),
    Option("autostart", "true", "with lifecycle:=true: configure and activate it at launch; false leaves it "
           "unconfigured for a lifecycle manager or ros2 lifecycle set"),
)
_OPTION = {o.name: o for o in OPTIONS}


def argument_names(with_platform: bool = True) -> List[str]:
    """Every launch argument, options first; the platform shortcuts fix platform."""
    return [o.name for o in OPTIONS if with_platform or o.name != "platform"] + list(OVERRIDABLE)


class LaunchOptions(NamedTuple):
    use_sim_time: Optional[bool]  # None: not given (a parent's SetParameter or the default applies)
    log_level: str  # '' = not given
    respawn: bool
    respawn_delay: float
    lifecycle: bool
    autostart: bool
    dds_profile: str = ""  # '' = the environment's (see dds_environment)

    @property
    def executable(self) -> str:
        return LIFECYCLE_EXECUTABLE if self.lifecycle else EXECUTABLE

    @property
    def ros_arguments(self) -> List[str]:
        return ["--log-level", self.log_level] if self.log_level else []


def parse_bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError("{}:={} is not a boolean (true/false)".format(name, text))


def parse_options(values: Dict[str, str]) -> LaunchOptions:
    """The launch options (strings, '' = default) -> checked values, or ValueError naming one."""
    def text(name: str) -> str:
        given = values.get(name)
        return str(given).strip() if given is not None and str(given).strip() else _OPTION[name].default

    log_level = text("log_level").lower()
    if log_level and log_level not in LOG_LEVELS:
        raise ValueError("log_level:={} is not one of {}".format(log_level, ", ".join(LOG_LEVELS)))
    try:
        delay = float(text("respawn_delay"))
    except ValueError:
        raise ValueError("respawn_delay:={} is not a number of seconds".format(text("respawn_delay"))) from None
    if not 0.0 <= delay < float("inf"):
        raise ValueError("respawn_delay:={} must be >= 0 seconds".format(text("respawn_delay")))
    sim_time = text("use_sim_time")
    return LaunchOptions(
        use_sim_time=parse_bool("use_sim_time", sim_time) if sim_time else None, log_level=log_level,
        respawn=parse_bool("respawn", text("respawn")), respawn_delay=delay,
        lifecycle=parse_bool("lifecycle", text("lifecycle")), autostart=parse_bool("autostart", text("autostart")),
        dds_profile=text("dds_profile"))


# The profiles in config/dds, by the RMW they configure, and the variables that point an RMW at one.
SHIPPED_DDS_PROFILES = {"fastdds": "fastdds_large_frames.xml", "cyclonedds": "cyclonedds_large_frames.xml"}


def dds_environment(profile: str, share_dir: str, rmw_implementation: str = "") -> Dict[str, str]:
    """Environment for the node's process that makes its DDS use ``profile`` ('' = leave the
    environment's; 'large_frames' = the profile shipped for this RMW; else an XML file's path).
    A path that is not a readable file is a ValueError naming it."""
    if not profile:
        return {}
    vendor = "cyclonedds" if "cyclonedds" in rmw_implementation else "fastdds"  # Fast DDS: ROS 2's default RMW
    if profile == "large_frames":
        path = os.path.join(share_dir, "config", "dds", SHIPPED_DDS_PROFILES[vendor])
    else:
        path = os.path.abspath(os.path.expanduser(profile))
    if not os.path.isfile(path):
        raise ValueError("dds_profile:={}: no such file {} (large_frames, or the path of a DDS XML profile)".format(
            profile, path))
    if vendor == "cyclonedds":
        return {"CYCLONEDDS_URI": "file://" + path}
    # Fast DDS 2.x reads the FASTRTPS_ name, 3.x the FASTDDS_ one
    return {"FASTDDS_DEFAULT_PROFILES_FILE": path, "FASTRTPS_DEFAULT_PROFILES_FILE": path}


def check_argument_names(given: Iterable[str], known: Iterable[str], launch_file: str = "pose.launch.py") -> None:
    """A misspelt argument would silently do nothing: one-line ValueError naming the closest."""
    known = list(known)
    for name in given:
        if name in known or name in ROS2_LAUNCH_ARGUMENTS:
            continue
        guess = closest_name(name, known)
        raise ValueError("unknown launch argument '{}'{}; `ros2 launch {} {} --show-args` lists them".format(
            name, " (did you mean '{}'?)".format(guess) if guess else "", PACKAGE, launch_file))


def argument_names_given(argv: Iterable[str]) -> List[str]:
    """The names of ``name:=value`` command-line arguments."""
    return [arg.split(":=", 1)[0] for arg in argv if ":=" in arg]


class LaunchPlan(NamedTuple):
    package: str
    executable: str
    node_name: str
    namespace: str
    config_file: str
    overrides: Dict[str, Any]
    params_file: str = ""  # absolute, or '' for none
    config_left_out: Tuple[str, ...] = ()  # config parameters a parent launch sets instead
    config_values: Optional[Dict[str, Any]] = None  # the config less those (when any)

    @property
    def parameters(self) -> List[Any]:
        """The ``parameters=`` list for launch_ros' Node, lowest precedence first: the platform
        config (as a dict without what a parent launch set, if it set any), params_file, the
        arguments given."""
        result = [self.config_values if self.config_left_out else self.config_file]  # type: List[Any]
        if self.params_file:
            result.append(self.params_file)
        if self.overrides:
            result.append(dict(self.overrides))
        return result


def config_file(platform: str, share_dir: str) -> str:
    """Path of ``config/<platform>.yaml`` under the package's share directory."""
    if platform not in PLATFORMS:
        raise ValueError("unknown platform {!r}; expected one of {}".format(platform, ", ".join(PLATFORMS)))
    return os.path.join(share_dir, "config", platform + ".yaml")


def parse_value(name: str, text: str) -> Any:
    """A launch argument string -> the parameter's type, or ValueError naming the argument."""
    return _BY_ARGUMENT[name].parse(text)


def node_names(namespace: str) -> List[str]:
    """The section names of a parameters file that apply to the launched node."""
    full = "/" + "/".join(part for part in (namespace.strip("/"), NODE_NAME) if part)
    return sorted({NODE_NAME, "/" + NODE_NAME, full, full.lstrip("/")})


def read_parameters(path: str, namespace: str = "") -> Dict[str, Any]:
    """The parameters a ROS 2 parameters file gives the launched node ({} if none)."""
    import yaml

    try:
        with open(path) as stream:
            document = yaml.safe_load(stream) or {}
    except OSError as error:
        raise ValueError("cannot read parameters file {}: {}".format(path, error.strerror)) from None
    except yaml.YAMLError as error:
        raise ValueError("parameters file {} is not valid YAML: {}".format(
            path, str(error).splitlines()[0])) from None
    if not isinstance(document, dict):
        raise ValueError("parameters file {} is not a mapping of node names to ros__parameters".format(path))
    return parameters_from_file(document, node_names(namespace)) or {}


def resolve(
    platform: str,
    share_dir: str,
    arguments: Optional[Dict[str, str]] = None,
    namespace: str = "",
    base_dir: Optional[str] = None,
    params_file: str = "",
    parent_parameters: Iterable[str] = (),
) -> LaunchPlan:
    """Everything the launch file needs to start pose_node for ``platform``.

    ``arguments`` are the parameter launch arguments as strings ('' = not given); unknown
    names are an error so a typo does not silently do nothing. ``parent_parameters`` names the
    parameters a parent launch set (``SetParameter``): the config file's values for those are
    left out so that they apply (params_file and arguments still win). A relative ``model`` or
    ``params_file`` is made absolute against ``base_dir`` (default: the directory ``ros2
    launch`` was typed in), so the node never resolves it against its own current directory
    (``/`` under systemd). The model must come from somewhere: an argument, params_file, a
    parent launch or an absolute path in the config (the shipped ones name none).
    """
    path = config_file(platform, share_dir)
    if not os.path.isfile(path):
        raise ValueError("config file for platform {} not found: {}".format(platform, path))
    base = base_dir or os.getcwd()
    overrides = {}  # type: Dict[str, Any]
    for name, text in sorted((arguments or {}).items()):
        if name not in OVERRIDABLE:
            check_argument_names([name], argument_names())
        if text is None or not str(text).strip():
            continue
        overrides[OVERRIDABLE[name][0]] = parse_value(name, str(text))
    params_path = ""
    if params_file and params_file.strip():
        params_path = os.path.abspath(os.path.join(base, os.path.expanduser(params_file.strip())))
        if not os.path.isfile(params_path):
            raise ValueError("params_file not found: {}".format(params_path))
    parent = set(parent_parameters)
    model = overrides.get("model_path")
    if model:
        overrides["model_path"] = os.path.abspath(os.path.join(base, os.path.expanduser(model)))
    elif params_path and read_parameters(params_path, namespace).get("model_path"):
        check_model_path(platform, params_path, str(read_parameters(params_path, namespace)["model_path"]))
    elif "model_path" not in parent:
        check_config_model(platform, path)
    config = read_parameters(path)
    left_out = tuple(sorted(name for name in parent if name in config))
    values = {k: v for k, v in config.items() if k not in parent} if left_out else None
    return LaunchPlan(PACKAGE, EXECUTABLE, NODE_NAME, namespace.strip(), path, overrides, params_path, left_out,
                      values)


# What `model:=` usually points at, per platform (engines/README.md builds the jetson one).
EXAMPLE_MODELS = {
    "cpu": "~/litepose/litepose_xs_coco_256.onnx",
    "jetson": "~/litepose/litepose_xs_coco_256_fp16.engine",
    "rpi": "~/litepose/litepose_xs_coco_256.tflite",
}


def check_config_model(platform: str, path: str) -> None:
    """Without ``model:=`` the config's model_path is used: it must be set and absolute."""
    check_model_path(platform, path, str(read_parameters(path).get("model_path") or ""))


def check_model_path(platform: str, path: str, model: str) -> None:
    """A model named in a file must be set and absolute: a relative path would be resolved by
    the node against its current directory, which is whatever started it (``/`` under
    systemd): refuse it here, at launch."""
    example = "model:={}".format(EXAMPLE_MODELS.get(platform, "/path/to/model"))
    if not model:
        raise ValueError("no model for platform {}: pass {} ({} sets none; "
                         "see the README's robot quick start)".format(platform, example, path))
    if not os.path.isabs(os.path.expanduser(model)):
        raise ValueError("model_path {!r} in {} is relative, so it would depend on the directory the node "
                         "starts in; use an absolute path there or pass {}".format(model, path, example))


# Help text of each launch argument (the launch files declare them from this table).
ARGUMENT_HELP = {o.name: o.help for o in OPTIONS}
ARGUMENT_HELP.update({short: "{} (parameter {}{}; empty: from the config)".format(
    p.help, p.name, "; " + p.range_text() if p.range_text() else "") for short, p in _BY_ARGUMENT.items()})
ARGUMENT_HELP["model"] += ("; required unless a config or params_file names an absolute one; a relative path is "
                           "taken from the directory ros2 launch runs in")
