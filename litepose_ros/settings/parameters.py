"""The pose node's parameters as data: one table from which everything else derives.

``PARAMETERS`` holds each parameter's name, default, type (that of the default), range,
choices and help, with the checks that read it. The node's ParameterDescriptors, the launch
arguments (``launch_config``), the model options of `litepose bag analyze` / `predict` / `eval`
(``commands``), the objects built from the values (``factories``) and the README's parameter
table (``markdown``) are all built from it, so adding a parameter is one entry here (plus its
use).

Pure Python (no rclpy), so the bag analyser reads the same parameters files the node reads,
with the same defaults and checks, on machines without ROS.
"""
import difflib
import math
import sys
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Tuple

from ..backends import AUTO, backend_choices
from ..decoding.config import DecoderConfig

NODE_NAME = "pose_node"
BACKENDS = backend_choices()  # the registry's (backends/): a new backend is added there alone
TRANSPORTS = ("raw", "compressed")
COMPRESSED_SUFFIX = "/compressed"
# Largest values ParameterDescriptor ranges can carry (int64, double): "no upper bound".
INT_MAX = 2 ** 63 - 1
FLOAT_MAX = sys.float_info.max

# Upper bounds that keep one frame's memory and time bounded (issue 22): thread pools beyond
# any edge CPU took seconds to start (512) or never did (4096); people per image beyond any
# crowd made every frame allocate for them (2^31 - 1: MemoryError); /diagnostics faster than
# 10 Hz costs pose throughput (1e-6 s: 2,051 messages/s, 24.7 -> 15.5 poses/s).
MAX_THREADS = 64
MAX_PEOPLE = 200
MIN_DIAGNOSTICS_PERIOD_S = 0.1

# How `litepose bag analyze` uses a parameter.
BAG_OPTION = "option"  # from --params FILE, overridden by its own command-line option
BAG_FILE = "file"  # from --params FILE only


class Parameter(NamedTuple):
    """One node parameter. Its type is the type of ``default``."""

    name: str
    default: Any
    help: str
    dynamic: bool = False  # may change at run time (ros2 param set); else read-only
    low: Optional[float] = None  # smallest allowed value (None: unbounded)
    high: Optional[float] = None  # largest allowed value (None: unbounded; floats must still be finite)
    low_open: bool = False  # value must be > low (descriptor ranges are closed, so checked here too)
    choices: Tuple[str, ...] = ()
    alias: str = ""  # short name of the launch argument (every parameter is one) and command-line option
    bag: str = ""  # BAG_OPTION, BAG_FILE or "" (not used by `bag analyze`)
    decoder: str = ""  # the DecoderConfig field it sets

    @property
    def kind(self) -> type:
        return type(self.default)

    @property
    def short(self) -> str:
        """Launch argument name; the command-line option is ``--`` + this with dashes."""
        return self.alias or self.name

    @property
    def option(self) -> str:
        return "--" + self.short.replace("_", "-")

    def problem(self, value: Any) -> Optional[str]:
        """Why ``value`` is not acceptable for this parameter; None if it is."""
        if self.kind is bool or self.kind is str:
            if not isinstance(value, self.kind):
                return "{} must be a {}".format(self.name, "boolean" if self.kind is bool else "string")
            if self.choices and value not in self.choices:
                return "{} must be one of {}, got {!r}".format(self.name, ", ".join(self.choices), value)
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "{} must be a number".format(self.name)
        if self.kind is int and not isinstance(value, int):
            return "{} must be an integer".format(self.name)
        if math.isnan(value) or math.isinf(value):
            return "{} must be a finite number".format(self.name)
        low_ok = self.low is None or (value > self.low if self.low_open else value >= self.low)
        if not low_ok or (self.high is not None and value > self.high):
            return "{} must be {}, got {}".format(self.name, self.range_text(), value)
        return None

    def range_text(self) -> str:
        """The allowed values in words ('' when any value of the type is)."""
        if self.choices:
            return ", ".join(self.choices)
        if self.low is not None and self.high is not None and not self.low_open:
            return "within [{}, {}]".format(self.low, self.high)
        parts = []
        if self.low is not None:
            parts.append("{} {}".format(">" if self.low_open else ">=", self.low))
        if self.high is not None:
            parts.append("<= {}".format(self.high))
        if self.kind is float:
            parts.append("finite")
        return ", ".join(parts)

    def descriptor_range(self) -> Optional[Tuple[Any, Any]]:
        """Closed (from, to) for the ParameterDescriptor's IntegerRange / FloatingPointRange."""
        if self.kind is int:
            if self.low is None and self.high is None:
                return None
            return (int(self.low) if self.low is not None else -INT_MAX - 1,
                    int(self.high) if self.high is not None else INT_MAX)
        if self.kind is float:  # always bounded: rejects inf
            return (float(self.low) if self.low is not None else -FLOAT_MAX,
                    float(self.high) if self.high is not None else FLOAT_MAX)
        return None

    def parse(self, text: str) -> Any:
        """A string (launch argument, command line) -> a checked value, or ValueError."""
        text = text.strip()
        if self.kind is bool:
            lowered = text.lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError("{}:={} is not a boolean (true/false)".format(self.short, text))
        try:
            value = self.kind(text)
        except ValueError:
            raise ValueError("{}:={} is not a valid {}".format(self.short, text, self.kind.__name__)) from None
        problem = self.problem(value)
        if problem:
            raise ValueError("{}:={}: {}".format(self.short, text, problem))
        return value


def _decoder_default(field: str) -> Any:
    """The decoder's reference setting is the node's default (one fact, kept in DecoderConfig)."""
    return DecoderConfig._field_defaults[field]


# The order is the README's.
PARAMETERS = (
    Parameter("model_path", "", "model file: .onnx (onnxruntime), .engine/.plan (TensorRT) or .tflite; "
              "missing or unusable = fatal at start-up", alias="model", bag=BAG_OPTION),
    Parameter("backend", AUTO, "auto picks by file suffix", choices=BACKENDS, bag=BAG_OPTION),
    Parameter("threads", 0, "CPU threads for inference; 0 lets the runtime choose (its pool never spin-waits)",
              low=0, high=MAX_THREADS, bag=BAG_OPTION),
    Parameter("tflite_xnnpack", True, "tflite backend only: use the XNNPACK delegate (benchmark both on your "
              "device)", bag=BAG_FILE),
    Parameter("flip_test", False, "also run the mirrored image and average (twice the inference time)",
              bag=BAG_OPTION),
    Parameter("project_to_input", _decoder_default("project_to_input"), "decode heatmaps at network-input "
              "resolution (official evaluation protocol; slower) instead of stride 2", bag=BAG_OPTION,
              decoder="project_to_input"),
    Parameter("image_topic", "image_raw", "camera topic (or remap image_raw:=...); with compressed transport "
              "/compressed is appended to the remapped name, as image_transport does", bag=BAG_FILE),
    Parameter("image_transport", "raw", "raw (sensor_msgs/Image) or compressed (sensor_msgs/CompressedImage)",
              choices=TRANSPORTS, bag=BAG_FILE),
    Parameter("qos_reliability", "auto", "deprecated, use qos_overrides.<topic>.subscription.reliability; "
              "auto: as that says (default: reliable while all camera publishers are)",
              choices=("auto", "best_effort", "reliable")),
    Parameter("qos_depth", 0, "deprecated, use qos_overrides.<topic>.subscription.depth; 0: as that says "
              "(default 1, the freshest frame)", low=0),
    Parameter("publish_debug_image", False, "publish debug_image: skeletons, and with tracking a box, id and score "
              "per person in the track's colour (grey: no id yet)"),
    Parameter("diagnostics_period", 1.0, "seconds between /diagnostics messages", low=MIN_DIAGNOSTICS_PERIOD_S,
              high=3600.0),
    # people in 3D (litepose_ros/depth/lift.py): all off while depth_topic is empty
    Parameter("depth_topic", "", "depth image registered to the colour image (16UC1 mm or 32FC1 m); empty: "
              "no 3D, no markers"),
    Parameter("camera_info_topic", "camera_info", "the colour camera's sensor_msgs/CameraInfo (intrinsics, "
              "3D frame)"),
    Parameter("depth_stamp_tolerance", 0.02, "seconds between colour and depth stamps that still pair", low=0.0,
              high=10.0, bag=BAG_FILE),
    Parameter("depth_window", 5, "side of the depth-image window whose median valid depth is used (odd)", low=1,
              high=31, bag=BAG_FILE),
    Parameter("depth_min", 0.1, "nearer depths (metres) are invalid", low=0.0, bag=BAG_FILE),
    Parameter("depth_max", 10.0, "farther depths (metres) are invalid (> depth_min)", low=0.0, low_open=True,
              bag=BAG_FILE),
    # person tracks (litepose_ros/tracking/); static: the tracker is built once
    Parameter("tracking", True, "give each person a track_id that stays while they stay in view", bag=BAG_FILE),
    Parameter("track_confirm_hits", 3, "a new track gets an id after this many detections ...", low=1,
              bag=BAG_FILE),
    Parameter("track_confirm_window_s", 0.5, "... within this many seconds (header stamps)", low=0.0,
              low_open=True, bag=BAG_FILE),
    Parameter("track_coast_s", 3.0, "seconds a track survives without detections; a person back later gets a "
              "new id", low=0.0, low_open=True, bag=BAG_FILE),
    Parameter("track_min_similarity", 0.25, "weakest similarity (0..1: shape x position on the joints a track and "
              "a detection share) that continues a track", low=0.0, high=1.0, bag=BAG_FILE),
    Parameter("track_max_tracks", 100, "most tracks kept at once (visible, coasting and new); beyond it new "
              "tracks go first, then those unseen longest", low=1, high=10000, bag=BAG_FILE),
    Parameter("track_reset_jump_back_s", 0.5, "a header stamp this much older than the newest one resets the "
              "tracks (bag looped, camera restarted); less is a frame out of order and kept", low=0.0,
              low_open=True, high=3600.0, bag=BAG_FILE),
    Parameter("track_publish_unconfirmed", True, "publish people without an id yet (track_id -1); false drops "
              "them", bag=BAG_FILE),
    Parameter("keypoint_smoothing", False, "One Euro filter on each tracked keypoint (less jitter, some lag)",
              bag=BAG_FILE),
    Parameter("smoothing_min_cutoff_hz", 1.0, "One Euro min cutoff: lower is smoother when still", low=0.0,
              low_open=True, bag=BAG_FILE),
    Parameter("smoothing_beta", 0.01, "One Euro speed coefficient: higher lags less on fast motion", low=0.0,
              bag=BAG_FILE),
    Parameter("detection_threshold", _decoder_default("detection_threshold"), "minimum heatmap peak for a "
              "keypoint candidate", dynamic=True, low=0.0, high=1.0, bag=BAG_OPTION,
              decoder="detection_threshold"),
    Parameter("tag_threshold", _decoder_default("tag_threshold"), "maximum tag distance for joining a "
              "keypoint to a person", dynamic=True, low=0.0, low_open=True, bag=BAG_OPTION,
              decoder="tag_threshold"),
    Parameter("max_people", _decoder_default("max_num_people"), "most people per image", dynamic=True, low=1,
              high=MAX_PEOPLE, bag=BAG_OPTION, decoder="max_num_people"),
    Parameter("min_person_score", 0.0, "people scoring lower are not published", dynamic=True, low=0.0,
              bag=BAG_OPTION),
)
BY_NAME: Dict[str, Parameter] = {p.name: p for p in PARAMETERS}


def defaults() -> Dict[str, Any]:
    return {p.name: p.default for p in PARAMETERS}


def check(name: str, value: Any) -> Optional[str]:
    """Why ``value`` is not acceptable for parameter ``name``; None if it is."""
    return BY_NAME[name].problem(value)


def check_depth(settings: Dict[str, Any]) -> Optional[str]:
    """What the table's ranges cannot say about the depth parameters; None if they are fine."""
    if int(settings["depth_window"]) % 2 != 1:
        return "depth_window must be odd, got {}".format(settings["depth_window"])
    if not float(settings["depth_min"]) < float(settings["depth_max"]):
        return "depth range must satisfy depth_min < depth_max"
    return None


def decoder_changes(values: Dict[str, Any]) -> Dict[str, Any]:
    """Node parameter values -> DecoderConfig field changes."""
    return {BY_NAME[name].decoder: value for name, value in values.items()
            if name in BY_NAME and BY_NAME[name].decoder}


def closest_name(name: str, known: Iterable[str]) -> Optional[str]:
    """The known parameter name a misspelt ``name`` most likely meant, if any is close."""
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


QOS_OVERRIDES_PREFIX = "qos_overrides."


def unknown_parameter_messages(names: Iterable[str], qos_names: Iterable[str] = ()) -> List[str]:
    """One warning per given name the node does not know (typos are otherwise silent);
    ``qos_names``: the QoS override parameters the node declared."""
    messages = []
    qos_names = list(qos_names)
    for name in sorted(set(names)):
        if name.startswith(QOS_OVERRIDES_PREFIX):
            guess = closest_name(name, qos_names)
            messages.append("unknown parameter '{}' is ignored; {}".format(name, "did you mean '{}'?".format(guess)
                            if guess else "the node's QoS parameters are {}".format(", ".join(sorted(qos_names)))))
            continue
        guess = closest_name(name, BY_NAME)
        messages.append("unknown parameter '{}' is ignored{}".format(
            name, "; did you mean '{}'?".format(guess) if guess else " (not a {} parameter)".format(NODE_NAME)))
    return messages


def input_topic(image_topic: str, transport: str) -> str:
    """The topic to subscribe: compressed transport appends /compressed unless already there
    (the node passes the remapped base name, as image_transport does)."""
    topic = image_topic.rstrip("/") or image_topic
    if transport == "compressed" and not topic.endswith(COMPRESSED_SUFFIX):
        topic += COMPRESSED_SUFFIX
    return topic
