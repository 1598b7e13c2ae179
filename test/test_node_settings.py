"""The node's parameter table, shared with `litepose bag analyze`: checks and model loading."""
from pathlib import Path

import pytest

from litepose_ros.pipeline.estimator import PoseEstimator
from litepose_ros.settings import factories, launch_config, markdown, parameters, params_file

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name, value, ok", [
    ("detection_threshold", 0.5, True), ("detection_threshold", 1.5, False), ("tag_threshold", 0.0, False),
    ("max_people", 1, True), ("max_people", 0, False), ("min_person_score", -0.1, False),
    ("detection_threshold", True, False), ("tag_threshold", "1", False),
])
def test_dynamic_parameter_checks(name, value, ok):
    assert (parameters.check(name, value) is None) == ok


def test_decoder_changes_rename_node_parameters():
    changes = parameters.decoder_changes({"max_people": 5, "detection_threshold": 0.2, "threads": 3})
    assert changes == {"max_num_people": 5, "detection_threshold": 0.2}


@pytest.mark.parametrize("model, backend, expected_options", [
    ("m.tflite", "auto", {"xnnpack": False}),
    ("m.bin", "tflite", {"xnnpack": False}),
    ("m.onnx", "auto", {}),
])
def test_xnnpack_choice_reaches_only_the_tflite_backend(monkeypatch, model, backend, expected_options):
    calls = []
    monkeypatch.setattr(PoseEstimator, "from_model", classmethod(lambda cls, *a, **k: calls.append((a, k))))
    settings = dict(parameters.defaults(), model_path=model, backend=backend, tflite_xnnpack=False, max_people=7)
    factories.estimator_from_settings(settings)
    (args, kwargs), = calls
    assert args == (model,) and kwargs["backend"] == backend
    assert kwargs["backend_options"] == expected_options
    assert kwargs["max_num_people"] == 7 and kwargs["project_to_input"] is False


def test_parameters_file_sections_node_wins_over_wildcard():
    document = {"/**": {"ros__parameters": {"threads": 1, "backend": "tflite"}},
                "pose_node": {"ros__parameters": {"threads": 4}}}
    params = params_file.parameters_from_file(document, ["/**", "pose_node", "/pose_node"])
    assert params == {"threads": 4, "backend": "tflite"}
    assert params_file.parameters_from_file({"other": 3}, ["/**"]) is None


@pytest.mark.parametrize("name, value, ok", [
    ("threads", -3, False), ("threads", 0, True), ("threads", 2.0, False),
    ("qos_depth", -1, False), ("qos_depth", 0, True),
    ("min_person_score", float("inf"), False), ("min_person_score", float("nan"), False),
    ("diagnostics_period", 0.0, False), ("diagnostics_period", 0.5, True),
    ("backend", "cuda", False), ("backend", "tflite", True), ("image_transport", "compressed", True),
    ("flip_test", 1, False), ("model_path", 3, False),
    # issue 22 items 2, 3, 5: upper bounds on threads and max_people, a lower one on diagnostics_period
    ("threads", 64, True), ("threads", 65, False), ("threads", 30000, False),
    ("max_people", 200, True), ("max_people", 201, False), ("max_people", 2 ** 31 - 1, False),
    ("diagnostics_period", 0.1, True), ("diagnostics_period", 1e-6, False), ("diagnostics_period", 3601.0, False),
])
def test_every_parameter_is_checked_against_its_range(name, value, ok):
    assert (parameters.check(name, value) is None) == ok


def test_descriptor_ranges_are_closed_and_reject_infinity():
    table = parameters.BY_NAME
    assert table["threads"].descriptor_range() == (0, 64)
    assert table["max_people"].descriptor_range() == (1, 200)
    assert table["detection_threshold"].descriptor_range() == (0.0, 1.0)
    low, high = table["min_person_score"].descriptor_range()
    assert low == 0.0 and high < float("inf")
    assert table["backend"].descriptor_range() is None


def test_readme_parameter_table_is_the_table():
    readme = (REPO / "README.md").read_text()
    start = readme.index("| parameter | type | default |")
    end = readme.index("\n\n", start)
    assert readme[start:end] == markdown.markdown_table()


def test_backend_choices_are_the_registered_backends():
    """The table's backends are the registry's (backends/base.py): each one loads through
    create_backend (a missing file is its complaint, not an unknown name), and none is missing."""
    from litepose_ros.backends import BackendError, available_backends, create_backend

    choices = parameters.BY_NAME["backend"].choices
    assert choices[0] == "auto" and sorted(choices[1:]) == available_backends()
    for name in choices[1:]:
        with pytest.raises(BackendError) as error:
            create_backend("/nonexistent/model.onnx", name)
        assert "unknown backend" not in str(error.value) and "/nonexistent/model.onnx" in str(error.value)


def test_decoder_parameters_default_to_the_decoder_reference_settings():
    from litepose_ros.decoding.config import DecoderConfig

    fields = DecoderConfig._field_defaults
    changes = parameters.decoder_changes(parameters.defaults())
    assert changes and all(changes[field] == fields[field] for field in changes)


def test_launch_arguments_come_from_the_table():
    """Every parameter of the table is a launch argument (by its short name), parsed to its type."""
    plan = launch_config.resolve("cpu", str(REPO), {p.short: str(p.default).lower() if p.kind is bool else
                                                     str(p.default) or "x" for p in parameters.PARAMETERS})
    launched = {p.name for p in parameters.PARAMETERS}
    assert set(plan.overrides) == launched
    assert set(launch_config.argument_names()) == {o.name for o in launch_config.OPTIONS} | {
        p.short for p in parameters.PARAMETERS}
    for name in launched - {"model_path"}:
        default = parameters.BY_NAME[name].default
        assert plan.overrides[name] == ("x" if default == "" else default)
    assert launch_config.ARGUMENT_HELP["max_people"].startswith(parameters.BY_NAME["max_people"].help)


def _analyze_args(argv):
    import argparse

    from litepose_ros.commands import bag_cmd

    parser = argparse.ArgumentParser()
    bag_cmd.add_parser(parser.add_subparsers())
    return parser.parse_args(["bag", "analyze", "in_bag"] + argv)


def test_bag_analyze_options_come_from_the_table(tmp_path):
    from litepose_ros.bag.analyze import resolve_settings

    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    given = {"model_path": str(model), "backend": "tflite", "threads": 3, "flip_test": True, "project_to_input": True,
             "detection_threshold": 0.3, "tag_threshold": 2.5, "max_people": 4, "min_person_score": 0.2}
    options = [p for p in parameters.PARAMETERS if p.bag == parameters.BAG_OPTION]
    assert {p.name for p in options} == set(given)
    argv = []
    for p in options:
        argv += [p.option] if p.kind is bool else [p.option, str(given[p.name])]
    args = _analyze_args(argv)
    settings = resolve_settings(args)
    assert {name: settings[name] for name in given} == given
    assert _analyze_args(["--no-flip-test"]).flip_test is False and _analyze_args([]).flip_test is None


@pytest.mark.parametrize("argv, message", [
    (["--threads", "-3"], "threads must be within [0, 64], got -3"), (["--detection-threshold", "2"], "within"),
    (["--backend", "cuda"], "must be one of"), (["--max-people", "many"], "not a valid int"),
    (["--max-people", "2147483648"], "max_people must be within [1, 200], got 2147483648"),
])
def test_bag_analyze_options_are_range_checked(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        _analyze_args(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_predict_defaults_come_from_the_table():
    import argparse

    from litepose_ros.commands import predict_cmd

    parser = argparse.ArgumentParser()
    predict_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["predict", "--model", "m.onnx", "image.jpg"])
    for name in ("backend", "threads", "detection_threshold", "tag_threshold", "max_people"):
        assert getattr(args, name) == parameters.BY_NAME[name].default


@pytest.mark.parametrize("topic, transport, expected", [
    ("image_raw", "raw", "image_raw"), ("image_raw", "compressed", "image_raw/compressed"),
    ("/cam/image_raw/compressed", "compressed", "/cam/image_raw/compressed"),
    ("/cam/image_raw/", "compressed", "/cam/image_raw/compressed"),
])
def test_input_topic_appends_compressed_once(topic, transport, expected):
    assert parameters.input_topic(topic, transport) == expected


def test_unknown_parameters_name_the_closest_known_one():
    messages = parameters.unknown_parameter_messages(["detection_treshold", "modle_path", "zzz_unrelated"])
    assert messages == [
        "unknown parameter 'detection_treshold' is ignored; did you mean 'detection_threshold'?",
        "unknown parameter 'modle_path' is ignored; did you mean 'model_path'?",
        "unknown parameter 'zzz_unrelated' is ignored (not a pose_node parameter)",
    ]
