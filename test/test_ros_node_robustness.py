"""pose_node as a real process: parameters, start-up errors, /diagnostics levels and shutdown
(issue 14, items 2-8). Same harness as test_ros_node.py: real rclpy over Fast DDS, one domain
per test."""
import array
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
import ros_harness as h
import test_ros_node
from onnx import helper

from litepose_ros.common.metadata import METADATA_KEY, ModelMetadata

REPO = Path(__file__).resolve().parent.parent
FAST = {"diagnostics_period": 0.2}
# the same fixtures as test_ros_node.py (marker model, LitePose export, one ROS domain per test)
marker_model, litepose_model, ros = test_ros_node.marker_model, test_ros_node.litepose_model, test_ros_node.ros


def _fatal_run(tmp_path, params, extra_args=(), timeout=60):
    node = h.NodeProcess(tmp_path, h.next_domain_id(), params, extra_args=extra_args)
    code = node.proc.wait(timeout=timeout)
    node.stop()
    return code, node.output()


def _diag_level(client):
    with client._lock:
        for msg in reversed(client.diagnostics):
            for status in msg.status:
                if "pose_node" in status.name:
                    return ord(status.level) if isinstance(status.level, bytes) else int(status.level), status.message
    return None, ""


# -- item 2: outputs checked at load -----------------------------------------------------------

def test_model_outputs_not_matching_metadata_are_fatal_at_start(tmp_path, marker_model):
    model = onnx.load(str(marker_model))
    crowdpose = ModelMetadata.for_dataset("marker", "crowdpose", 256, 256, weights="synthetic-marker")
    helper.set_model_props(model, {METADATA_KEY: crowdpose.to_json()})  # 14 joints; the graph has 17
    path = tmp_path / "mismatch.onnx"
    onnx.save(model, str(path))
    code, log = _fatal_run(tmp_path, {"model_path": path})
    assert code == 2, log
    assert "output 'heatmaps_tags' has shape [1, 34, 64, 64] where the metadata says [1, 28, 64, 64]" in log


# -- item 3 and 4: /diagnostics --------------------------------------------------------------

def test_diagnostics_level_follows_the_recent_window(tmp_path, ros, marker_model):
    domain, client = ros
    node = h.NodeProcess(tmp_path, domain, dict(model_path=marker_model, qos_reliability="reliable", **FAST))
    c = client()
    camera = c.camera(reliable=True, depth=10)
    good = h.image_msg(np.zeros((120, 160, 3), np.uint8), 0)
    c.handshake(camera, node, good)
    bad = h.image_msg(np.zeros((120, 160, 3), np.uint8), 0)
    bad.data = array.array("B", bytes(100))  # truncated

    def feed(msg, seconds, until=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            camera.publish(msg)
            time.sleep(0.05)
            if until is not None and until():
                return True
        return False

    assert feed(good, 8, lambda: _diag_level(c)[0] == 0), "OK while good frames flow: {}".format(_diag_level(c))
    # a bad frame among good ones: WARN, naming the problem (the node keeps 1 frame in its queue,
    # so wait for the bad one to be counted before sending more)
    camera.publish(bad)
    c.wait_until(lambda: c.latest_diagnostic_values().get("bad_frames") == "1", 10, "the bad frame")
    assert feed(good, 4, lambda: _diag_level(c)[0] == 1), (_diag_level(c), sorted(c.latest_diagnostic_values().items()))
    assert "unusable" in _diag_level(c)[1] and "truncated" in _diag_level(c)[1]
    # every frame bad for longer than the window: ERROR (was WARN forever)
    assert feed(bad, 10, lambda: _diag_level(c)[0] == 2), _diag_level(c)
    assert "all" in _diag_level(c)[1]
    # good frames again: the old problems age out of the window and the level returns to OK
    assert feed(good, 12, lambda: _diag_level(c)[0] == 0), _diag_level(c)
    # no input at all: WARN
    c.wait_until(lambda: _diag_level(c)[0] == 1 and "no input" in _diag_level(c)[1], 10, "no-input WARN")
    assert node.stop() == 0


def test_input_rate_counts_frames_as_they_arrive(tmp_path, ros, litepose_model):
    """With a camera faster than the model, input_rate_hz is the camera's rate, not the output's."""
    domain, client = ros
    node = h.NodeProcess(tmp_path, domain, dict(model_path=litepose_model, qos_reliability="reliable",
                                                flip_test=True, diagnostics_period=0.5))
    c = client()
    camera = c.camera(reliable=True, depth=5)
    frame = h.image_msg(np.zeros((240, 320, 3), np.uint8), 0)
    c.handshake(camera, node, frame)
    c.diagnostics = []
    end = time.monotonic() + 6.0
    while time.monotonic() < end:  # ~200 Hz: several times what the node can process
        camera.publish(frame)
        time.sleep(0.005)
    values = c.latest_diagnostic_values()
    node.stop()
    input_hz, output_hz = float(values["input_rate_hz"]), float(values["output_rate_hz"])
    print("input {} Hz, output {} Hz, dropped {}".format(input_hz, output_hz, values["frames_dropped"]))
    assert int(values["frames_dropped"]) > 0
    assert input_hz > 2 * output_hz and input_hz > 15, values


# -- item 5: shutdown ----------------------------------------------------------------------------

@pytest.mark.parametrize("signals", [(signal.SIGINT,), (signal.SIGTERM,), (signal.SIGINT, signal.SIGINT)])
def test_stop_signals_while_frames_flow_end_cleanly(tmp_path, ros, litepose_model, signals):
    domain, client = ros
    node = h.NodeProcess(tmp_path, domain, dict(model_path=litepose_model, **FAST))
    c = client()
    camera = c.camera()
    frame = h.image_msg(np.zeros((240, 320, 3), np.uint8), 0)
    c.handshake(camera, node, frame)
    for _ in range(20):  # the worker is busy with a frame when the signal comes
        camera.publish(frame)
        time.sleep(0.02)
    for sig in signals:  # a second SIGINT lands in the clean-up (as under ros2 launch without a tty)
        node.proc.send_signal(sig)
        time.sleep(0.03)
    code = node.stop(timeout=20)
    log = node.output()
    assert code == 0, log
    for word in ("context is invalid", "frame failed", "Traceback", "KeyboardInterrupt", "[ERROR]"):
        assert word not in log, log


@pytest.mark.parametrize("entry", ["module", "ros2 run script"])
def test_stop_signal_during_start_up_is_quiet(tmp_path, marker_model, entry):
    """SIGINT at several moments of the start-up (imports, model loading): no traceback, exit 0."""
    env = h.ros_env(tmp_path, h.next_domain_id())
    start = ([sys.executable, "-m", "litepose_ros.ros.pose_node"] if entry == "module"
             else [sys.executable, str(REPO / "scripts" / "pose_node")])
    for delay in (0.3, 0.8, 1.5, 2.5):
        proc = subprocess.Popen(start + ["--ros-args", "-p", "model_path:={}".format(marker_model)], cwd=str(REPO),
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, "after {} s: exit {}\n{}".format(delay, proc.returncode, out)
        assert "Traceback" not in out and "KeyboardInterrupt" not in out, "after {} s:\n{}".format(delay, out)


# -- item 6: parameters ----------------------------------------------------------------------------

def test_parameters_misspelt_out_of_range_and_compressed_topic(tmp_path, ros, marker_model):
    domain, client = ros
    node = h.NodeProcess(tmp_path, domain, dict(model_path=marker_model, detection_treshold=0.5, modle_path="x",
                                                image_topic="/cam/image_raw/compressed", image_transport="compressed",
                                                **FAST))
    c = client()
    camera = c.camera(topic="cam/image_raw", compressed=True)  # /cam/image_raw/compressed, not .../compressed twice
    c.handshake(camera, node, h.compressed_msg(np.zeros((48, 64, 3), np.uint8), 0))
    log = node.output()
    assert "unknown parameter 'detection_treshold' is ignored; did you mean 'detection_threshold'?" in log
    assert "unknown parameter 'modle_path' is ignored; did you mean 'model_path'?" in log
    assert "input /cam/image_raw/compressed (compressed" in log
    # run-time values outside the descriptors' ranges are refused by rclpy itself
    refused = h.set_parameter(c, "/pose_node", "min_person_score", float("inf"))
    assert not refused.successful and "out of range" in refused.reason
    assert not h.set_parameter(c, "/pose_node", "tag_threshold", 0.0).successful
    assert h.set_parameter(c, "/pose_node", "min_person_score", 0.5).successful
    assert h.get_parameters(c, "/pose_node", ["min_person_score"]) == {"min_person_score": 0.5}
    assert node.stop() == 0


@pytest.mark.parametrize("params, message", [
    ({"threads": -3}, "threads must be within [0, 64], got -3"),
    ({"diagnostics_period": 0.0}, "diagnostics_period must be within [0.1, 3600.0], got 0.0"),
    ({"backend": "cuda"}, "backend must be one of auto, onnxruntime, tensorrt, tflite"),
])
def test_out_of_range_start_values_are_fatal(tmp_path, marker_model, params, message):
    code, log = _fatal_run(tmp_path, dict(model_path=marker_model, **params))
    assert code == 2 and message in log, log


# -- item 7: --params-file --------------------------------------------------------------------------

def test_missing_params_file_is_one_line(tmp_path):
    code, log = _fatal_run(tmp_path, None, extra_args=["--params-file", "/missing.yaml"])
    assert code == 2, log
    assert log.strip() == "pose_node: fatal: parameters file not found: /missing.yaml (--params-file)"


def test_unparsable_params_file_has_no_traceback(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("/**:\n  ros__parameters: [unclosed\n")
    code, log = _fatal_run(tmp_path, None, extra_args=["--params-file", str(path)])
    assert code == 2 and "Traceback" not in log, log
    fatal = [line for line in log.splitlines() if line.startswith("pose_node: fatal: ")]
    assert len(fatal) == 1 and str(path) in fatal[0] and "/src/" not in fatal[0], log  # no C source locations


# -- item 8: model-file messages ---------------------------------------------------------------------

def test_model_files_given_to_the_wrong_backend_are_named(tmp_path, marker_model):
    code, log = _fatal_run(tmp_path, {"model_path": marker_model, "backend": "tflite"})
    assert code == 2 and "is an ONNX file, not TFLite (backend tflite)" in log, log
    assert "struct" not in log and "unpack" not in log
    code, log = _fatal_run(tmp_path, {"model_path": marker_model, "backend": "tensorrt"})
    engine = os.path.splitext(str(marker_model))[0] + ".engine"
    assert code == 2 and "is an ONNX file, not a TensorRT engine" in log, log
    assert "build-engine --onnx {} --output {}".format(marker_model, engine) in log
    fake_engine = tmp_path / "model.engine"
    fake_engine.write_bytes(b"ftrt" + bytes(64))
    code, log = _fatal_run(tmp_path, {"model_path": fake_engine})
    assert code == 2 and "is to be run as a TensorRT engine, but" in log, log
    assert "_NamespacePath" not in log and "run the ONNX export instead" in log
