"""The pose node's parameters as data, shared by the node and `litepose bag analyze`.

Pure Python (no rclpy), so the bag analyser reads the same parameters files the node reads,
with the same defaults and checks, on machines without ROS.
"""
from typing import Any, Dict, List, Optional

NODE_NAME = "pose_node"

# name -> (default, description); these need a restart (the model is loaded once).
STATIC_PARAMETERS: Dict[str, Any] = {
    "model_path": ("", "model file: .onnx (onnxruntime), TensorRT engine, or .tflite"),
    "backend": ("auto", "auto (from the file suffix), onnxruntime, tensorrt or tflite"),
    "threads": (0, "CPU threads for inference; 0 lets the runtime choose"),
    "tflite_xnnpack": (True, "tflite backend only: use the XNNPACK delegate (benchmark both on your device)"),
    "flip_test": (False, "also run the mirrored image and average (twice the inference time)"),
    "project_to_input": (False, "decode heatmaps at network-input resolution (more precise, slower)"),
    "image_topic": ("image_raw", "camera topic (base name; /compressed is appended for that transport)"),
    "image_transport": ("raw", "raw (sensor_msgs/Image) or compressed (sensor_msgs/CompressedImage)"),
    "qos_reliability": ("best_effort", "best_effort (sensor data, REP-2003) or reliable"),
    "qos_depth": (1, "subscription queue depth; 1 keeps only the freshest frame"),
    "publish_debug_image": (False, "publish debug_image with the skeletons drawn"),
    "diagnostics_period": (1.0, "seconds between /diagnostics messages"),
}
# -- person tracking (litepose_ros/tracking.py); static too: the tracker is built once ---------
TRACKING_PARAMETERS: Dict[str, Any] = {
    "tracking": (True, "give each person a track_id that stays while they stay in view"),
    "track_confirm_hits": (3, "a new track gets an id after this many detections ..."),
    "track_confirm_window_s": (0.5, "... within this many seconds (header stamps)"),
    "track_coast_s": (1.5, "seconds a track survives without detections; a person back later gets a new id"),
    "track_min_similarity": (0.5, "weakest keypoint/box similarity (0..1) that continues a track"),
    "track_publish_unconfirmed": (True, "publish people without an id yet (track_id -1); false drops them"),
    "keypoint_smoothing": (False, "One Euro filter on each tracked keypoint (less jitter, some lag)"),
    "smoothing_min_cutoff_hz": (1.0, "One Euro min cutoff: lower is smoother when still (> 0)"),
    "smoothing_beta": (0.01, "One Euro speed coefficient: higher lags less on fast motion (>= 0)"),
}
STATIC_PARAMETERS.update(TRACKING_PARAMETERS)
# ----------------------------------------------------------------------------------------------
# These can change at run time (ros2 param set).
DYNAMIC_PARAMETERS: Dict[str, Any] = {
    "detection_threshold": (0.1, "minimum heatmap peak for a keypoint candidate (0..1)"),
    "tag_threshold": (1.0, "maximum tag distance for joining a keypoint to a person (> 0)"),
    "max_people": (30, "most people per image (>= 1)"),
    "min_person_score": (0.0, "people scoring lower are not published (>= 0)"),
}
# Node parameter -> DecoderConfig field.
_DECODER_FIELDS = {"detection_threshold": "detection_threshold", "tag_threshold": "tag_threshold",
                   "max_people": "max_num_people", "project_to_input": "project_to_input"}


def defaults() -> Dict[str, Any]:
    values = {name: spec[0] for name, spec in STATIC_PARAMETERS.items()}
    values.update({name: spec[0] for name, spec in DYNAMIC_PARAMETERS.items()})
    return values


def check_dynamic(name: str, value: Any) -> Optional[str]:
    """Why ``value`` is not acceptable for dynamic parameter ``name``; None if it is."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "{} must be a number".format(name)
    if name == "detection_threshold" and not 0.0 <= value <= 1.0:
        return "detection_threshold must be within [0, 1]"
    if name == "tag_threshold" and not value > 0.0:
        return "tag_threshold must be > 0"
    if name == "max_people" and not value >= 1:
        return "max_people must be >= 1"
    if name == "min_person_score" and not value >= 0.0:
        return "min_person_score must be >= 0"
    return None


def decoder_changes(values: Dict[str, Any]) -> Dict[str, Any]:
    """Node parameter values -> DecoderConfig field changes."""
    return {_DECODER_FIELDS[name]: value for name, value in values.items() if name in _DECODER_FIELDS}


def estimator_from_settings(settings: Dict[str, Any]):  # -> PoseEstimator
    """Load the model the way the node does; raises BackendError/ModelMetadataError/OSError."""
    from .backends import backend_for_file
    from .pipeline import PoseEstimator

    backend = settings["backend"]
    backend_options = {}
    if (backend_for_file(settings["model_path"]) if backend == "auto" else backend) == "tflite":
        backend_options["xnnpack"] = bool(settings["tflite_xnnpack"])
    return PoseEstimator.from_model(
        settings["model_path"], backend=backend, threads=int(settings["threads"]),
        flip_test=bool(settings["flip_test"]), backend_options=backend_options, **decoder_changes(settings)
    )


def select_people(people: Any, settings: Dict[str, Any]) -> Any:
    """What gets published: best first, above min_person_score, at most max_people."""
    return people.filtered(float(settings["min_person_score"]), int(settings["max_people"]))


def parameters_from_file(document: Dict[str, Any], node_names: List[str]) -> Optional[Dict[str, Any]]:
    """The ros__parameters that apply to the node from a parsed ROS 2 parameters file:
    wildcard and other sections first, the node's own sections last so they win."""
    sections = {key: value.get("ros__parameters") for key, value in document.items() if isinstance(value, dict)}
    found = [s for name, s in sections.items() if name not in node_names and isinstance(s, dict)]
    found += [sections[name] for name in node_names if isinstance(sections.get(name), dict)]
    if not found:
        return None
    params: Dict[str, Any] = {}
    for section in found:
        params.update(section)
    return params


# -- person tracking: the node and `litepose bag analyze` run the same code ---------------------

def tracker_config(settings: Dict[str, Any]):  # -> TrackerConfig
    from .tracking import TrackerConfig

    return TrackerConfig(
        confirm_hits=int(settings["track_confirm_hits"]), confirm_window_s=float(settings["track_confirm_window_s"]),
        coast_s=float(settings["track_coast_s"]), min_similarity=float(settings["track_min_similarity"]),
        publish_unconfirmed=bool(settings["track_publish_unconfirmed"]),
        smoothing=bool(settings["keypoint_smoothing"]),
        smoothing_min_cutoff_hz=float(settings["smoothing_min_cutoff_hz"]),
        smoothing_beta=float(settings["smoothing_beta"]))


def tracker_from_settings(settings: Dict[str, Any], sigmas: Any):  # -> Optional[PersonTracker]
    """None with tracking off; raises ValueError for unusable tracking parameters."""
    from .tracking import PersonTracker

    return PersonTracker(sigmas, tracker_config(settings)) if settings["tracking"] else None


def track_people(tracker: Any, people: Any, stamp_ns: int) -> Any:  # -> (People, ids or None, reset reason)
    """The published people after tracking (all untracked with tracking off)."""
    if tracker is None:
        return people, None, None
    return tracker.update(people, stamp_ns)
