"""Objects built from the node's parameter values, the same way for the node, `litepose bag
analyze`, the benches and the tests: the pose estimator (model + decoder settings) and the
person tracker. Heavy imports (backends' runtimes, scipy) happen inside the functions."""
from typing import Any, Dict

from .parameters import BY_NAME, decoder_changes


def estimator_from_settings(settings: Dict[str, Any]):  # -> PoseEstimator
    """Load the model the way the node does; raises BackendError/ModelMetadataError/OSError."""
    from ..backends import AUTO, backend_for_file
    from ..pipeline.estimator import PoseEstimator

    backend = settings["backend"]
    backend_options = {}
    if (backend_for_file(settings["model_path"]) if backend == AUTO else backend) == "tflite":
        backend_options["xnnpack"] = bool(settings["tflite_xnnpack"])
    return PoseEstimator.from_model(
        settings["model_path"], backend=backend, threads=int(settings["threads"]),
        flip_test=bool(settings["flip_test"]), backend_options=backend_options, **decoder_changes(settings)
    )


def tracker_config(settings: Dict[str, Any]):  # -> TrackerConfig
    from ..tracking import PARAMETER_NAMES, TrackerConfig

    return TrackerConfig(*(BY_NAME[name].kind(settings[name]) for name in PARAMETER_NAMES))


def tracker_from_settings(settings: Dict[str, Any], sigmas: Any):  # -> Optional[PersonTracker]
    """None with tracking off; raises ValueError for unusable tracking parameters."""
    from ..tracking import PersonTracker

    return PersonTracker(sigmas, tracker_config(settings)) if settings["tracking"] else None
