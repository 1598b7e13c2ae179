"""The node's parameter table, shared with `litepose bag analyze`: checks and model loading."""
import pytest

from litepose_ros import node_settings
from litepose_ros.pipeline import PoseEstimator


@pytest.mark.parametrize("name, value, ok", [
    ("detection_threshold", 0.5, True), ("detection_threshold", 1.5, False), ("tag_threshold", 0.0, False),
    ("max_people", 1, True), ("max_people", 0, False), ("min_person_score", -0.1, False),
    ("detection_threshold", True, False), ("tag_threshold", "1", False),
])
def test_dynamic_parameter_checks(name, value, ok):
    assert (node_settings.check_dynamic(name, value) is None) == ok


def test_decoder_changes_rename_node_parameters():
    changes = node_settings.decoder_changes({"max_people": 5, "detection_threshold": 0.2, "threads": 3})
    assert changes == {"max_num_people": 5, "detection_threshold": 0.2}


@pytest.mark.parametrize("model, backend, expected_options", [
    ("m.tflite", "auto", {"xnnpack": False}),
    ("m.bin", "tflite", {"xnnpack": False}),
    ("m.onnx", "auto", {}),
])
def test_xnnpack_choice_reaches_only_the_tflite_backend(monkeypatch, model, backend, expected_options):
    calls = []
    monkeypatch.setattr(PoseEstimator, "from_model", classmethod(lambda cls, *a, **k: calls.append((a, k))))
    settings = dict(node_settings.defaults(), model_path=model, backend=backend, tflite_xnnpack=False, max_people=7)
    node_settings.estimator_from_settings(settings)
    (args, kwargs), = calls
    assert args == (model,) and kwargs["backend"] == backend
    assert kwargs["backend_options"] == expected_options
    assert kwargs["max_num_people"] == 7 and kwargs["project_to_input"] is False


def test_parameters_file_sections_node_wins_over_wildcard():
    document = {"/**": {"ros__parameters": {"threads": 1, "backend": "tflite"}},
                "pose_node": {"ros__parameters": {"threads": 4}}}
    params = node_settings.parameters_from_file(document, ["/**", "pose_node", "/pose_node"])
    assert params == {"threads": 4, "backend": "tflite"}
    assert node_settings.parameters_from_file({"other": 3}, ["/**"]) is None
