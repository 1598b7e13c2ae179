"""pose_node names its decoder: the compiled core where it is built, else the numpy reference,
announced once at start-up; both find the same people (real processes over Fast DDS)."""
import signal

import pytest
import ros_harness as h

from litepose_ros import native


@pytest.fixture(scope="module")
def marker_model(tmp_path_factory):
    return h.make_marker_model(tmp_path_factory.mktemp("marker") / "marker_coco_256.onnx")


def _run_node(tmp_path, marker_model):
    """Starts the node, sends one frame with four markers; returns (diagnostic values, PoseArray, log)."""
    domain = h.next_domain_id()
    node = h.NodeProcess(tmp_path, domain, dict(model_path=marker_model, qos_reliability="reliable",
                                                diagnostics_period=0.2))
    client = h.RosClient(domain)
    try:
        camera = client.camera(reliable=True, depth=5)
        frame = h.image_msg(h.draw_markers(320, 240, [(60.3, 70.6), (250.2, 65.9), (70.1, 180.4), (240.6, 170.2)]),
                            7)
        client.handshake(camera, node, frame)
        msg, _ = client.send_until_posed(camera, frame)
        client.wait_until(lambda: "decoder" in client.latest_diagnostic_values(), 10, "diagnostics")
        values = client.latest_diagnostic_values()
    finally:
        client.close()
    assert node.stop(signal.SIGTERM) == 0, node.output()
    return values, msg, node.output()


def test_node_decodes_with_the_compiled_core(tmp_path, marker_model, monkeypatch):
    monkeypatch.delenv(native.ENV_LIBRARY, raising=False)
    values, msg, log = _run_node(tmp_path, marker_model)
    assert values["decoder"].startswith("compiled"), values
    assert "decoder compiled" in log and "compiled core unavailable" not in log
    assert len(msg.people) == 1


def test_node_without_the_core_says_so_once_and_still_finds_people(tmp_path, marker_model, monkeypatch):
    monkeypatch.setenv(native.ENV_LIBRARY, str(tmp_path / "missing" / "_litepose_native.so"))
    values, msg, log = _run_node(tmp_path, marker_model)
    assert values["decoder"] == "reference (numpy)", values
    assert log.count("compiled core unavailable") == 1, log
    assert "decoder reference (numpy)" in log
    assert len(msg.people) == 1 and sum(k.score > 0 for k in msg.people[0].keypoints) >= 4
