"""pose_node as a real process fed what a hostile or careless world sends (issue 22): frames
that cost far more to decode than they weigh, JPEGs that libjpeg decodes only with warnings,
a model whose outputs are NaN, camera_info with absurd intrinsics, start-up signals.
Same harness as test_ros_node.py: real rclpy over Fast DDS, one domain per test."""
import array
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import ros_harness as h
import test_ros_node
from sensor_msgs.msg import CompressedImage, Image

REPO = Path(__file__).resolve().parent.parent
# the same fixtures as test_ros_node.py (marker model, one ROS domain per test)
marker_model, ros = test_ros_node.marker_model, test_ros_node.ros


def _vm_kib(node, key):
    with open("/proc/{}/status".format(node.proc.pid)) as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError("no " + key)


def _compressed(data, stamp, fmt):
    msg = CompressedImage(format=fmt, data=array.array("B", data))
    h.set_stamp(msg, stamp, "camera")
    return msg


def _wait_bad_frames(client, count, what):
    client.wait_until(lambda: int(client.latest_diagnostic_values().get("bad_frames", "0")) >= count, 20, what)


def test_costly_and_corrupt_compressed_frames_are_bounded_and_rejected(tmp_path, ros, marker_model):
    """Item 4: a 200 KB PNG of 8192x8192 (192 MiB decoded) must not cost its decode, nor a debug
    canvas of that size. Item 10: a corrupt JPEG libjpeg decodes with a warning is a bad frame,
    and libjpeg's warning lines do not reach the log once per frame."""
    domain, client = ros
    node = h.NodeProcess(tmp_path, domain, dict(model_path=marker_model, qos_reliability="reliable",
                                                image_transport="compressed", publish_debug_image=True,
                                                diagnostics_period=0.2))
    c = client()
    debug_images = []
    c.node.create_subscription(Image, "/debug_image", debug_images.append, h.qos(True, 2))
    camera = c.camera(compressed=True, reliable=True, depth=5)
    good = h.compressed_msg(h.draw_markers(320, 240, [(80, 60), (240, 60)]), 1)
    c.handshake(camera, node, good)
    c.wait_until(lambda: bool(debug_images), 10, "a debug image")
    baseline_kib = _vm_kib(node, "VmRSS")

    ok, flat = cv2.imencode(".png", np.zeros((8192, 8192), np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    bomb = _compressed(flat.tobytes(), 2, "mono8; png compressed mono8")
    ok, encoded = cv2.imencode(".jpg", cv2.GaussianBlur(h.draw_markers(320, 240, [(80, 60)]), (5, 5), 2))
    corrupt_data = bytearray(encoded.tobytes())
    scan = corrupt_data.index(b"\xff\xda")
    corrupt_data[scan + 40:scan + 60] = b"\xff\xd0" * 10
    corrupt = _compressed(bytes(corrupt_data), 3, "bgr8; jpeg compressed bgr8")
    rounds = 5
    for n in range(rounds):
        camera.publish(bomb)
        _wait_bad_frames(c, 2 * n + 1, "the PNG counted as a bad frame")
        camera.publish(corrupt)
        _wait_bad_frames(c, 2 * n + 2, "the corrupt JPEG counted as a bad frame")
        good.header.stamp.sec = 10 + n
        c.send_until_posed(camera, good)
    values = c.latest_diagnostic_values()
    peak_mib = (_vm_kib(node, "VmHWM") - baseline_kib) / 1024.0
    assert node.stop() == 0
    log = node.output()
    assert int(values["bad_frames"]) == 2 * rounds, values
    assert "exceeds the 16777216 pixel limit for compressed frames" in log + values["last_problem"] or \
        "corrupt JPEG data" in values["last_problem"], values
    assert "Corrupt JPEG data" not in log, "libjpeg's own lines stay out of the log"
    assert log.count("bad input frame skipped") <= 2, "throttled:\n" + log
    assert peak_mib < 100, "peak RSS grew {:.0f} MiB over the running node's".format(peak_mib)


def _diag_status(client):
    with client._lock:
        for msg in reversed(client.diagnostics):
            for status in msg.status:
                if "pose_node" in status.name and not status.name.endswith("depth"):
                    return status
    return None


def nan_model(marker_model, path):
    """The marker model with its stride-2 heatmaps multiplied by NaN (as an FP16 overflow leaves them)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(marker_model))
    for index, init in enumerate(model.graph.initializer):
        if init.name == "mask2":
            values = numpy_helper.to_array(init).copy()
            values[...] = np.nan
            model.graph.initializer[index].CopyFrom(numpy_helper.from_array(values, "mask2"))
    onnx.save(model, str(path))
    return path


def test_nan_model_outputs_are_errors_in_diagnostics(tmp_path, ros, marker_model):
    """Item 9: NaN heatmaps are not "no people, OK": each frame is an error, counted, level ERROR."""
    domain, client = ros
    node = h.NodeProcess(tmp_path, domain, dict(model_path=nan_model(marker_model, tmp_path / "nan.onnx"),
                                                qos_reliability="reliable", diagnostics_period=0.2))
    c = client()
    camera = c.camera(reliable=True, depth=5)
    c.wait_matched(camera, node)
    frame = h.image_msg(h.draw_markers(320, 240, [(80, 60)]), 1)

    def failing():
        camera.publish(frame)
        status = _diag_status(c)
        values = {kv.key: kv.value for kv in status.values} if status else {}
        return int(values.get("errors", "0")) >= 3

    c.wait_until(failing, 20, "three frames counted as errors")
    status = _diag_status(c)
    assert status.level == b"\x02" or status.level == 2, status
    assert "model output heatmaps_highres holds" in status.message and "not finite" in status.message, status.message
    assert c.pose_count() == 0, "no PoseArray pretends the frame had no one"
    assert node.stop() == 0
    log = node.output()
    assert "inference failed: model output heatmaps_highres" in log and "Traceback" not in log


# -- item 13: SIGHUP, and stop signals in the first milliseconds --------------------------------

def test_sighup_stops_the_node_like_sigterm(tmp_path, ros, marker_model):
    """A terminal that closes or an ssh session that drops sends SIGHUP: a clean stop, exit 0."""
    domain, client = ros
    node = h.NodeProcess(tmp_path, domain, dict(model_path=marker_model, diagnostics_period=0.2))
    c = client()
    camera = c.camera()
    frame = h.image_msg(h.draw_markers(320, 240, [(80, 60)]), 1)
    c.handshake(camera, node, frame)
    for _ in range(10):
        camera.publish(frame)
    code = node.stop(signal.SIGHUP)
    log = node.output()
    assert code == 0, log
    assert "Traceback" not in log and "[ERROR]" not in log, log


@pytest.mark.parametrize("program", [["-m", "litepose_ros.ros.pose_node", "--ros-args", "-p", "model_path:=/none"],
                                     ["-m", "litepose_ros.cli", "bag", "analyze", "/none"]],
                         ids=["pose_node", "litepose"])
def test_stop_signal_in_the_first_milliseconds_is_quiet(tmp_path, program):
    """SIGINT 0-60 ms after the start. Python's own start-up (site and the environment's .pth
    files) runs before any code of ours can: a signal there ends the process as Python does
    (killed, or a traceback through <frozen site>). From the first import of the package on,
    no traceback: pose_node exits 0, a command 130."""
    env = h.ros_env(tmp_path, h.next_domain_id())
    clean = 0 if "--ros-args" in program else 130
    for step in range(31):
        proc = subprocess.Popen([sys.executable] + program, cwd=str(REPO), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, universal_newlines=True)
        time.sleep(step * 0.002)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        where = "after {} ms: exit {}\n{}".format(step * 2, proc.returncode, out)
        if "Traceback" in out:  # the first one, if any, is Python's start-up (what follows may be its mess)
            assert str(REPO / "litepose_ros") not in out.split("Traceback", 1)[1].split("\n\n", 1)[0], where
        if not out.strip():
            assert proc.returncode in (clean, -signal.SIGINT), where


@pytest.mark.parametrize("argv0", ["-m", "/opt/ros/lib/litepose_ros/pose_node", "/usr/bin/litepose"])
def test_programs_get_quiet_stop_handlers_with_the_first_import(argv0):
    """What the test above cannot aim at: the handlers are in as soon as the package is imported
    by one of our programs (runpy shows ``-m`` in argv[0] while it imports the parents), and only
    then (a library import leaves the host's handlers alone)."""
    code = ("import sys; sys.argv[0] = {!r}; import signal, litepose_ros; "
            "print(getattr(signal.getsignal(signal.SIGINT), '__name__', None), "
            "getattr(signal.getsignal(signal.SIGHUP), '__name__', None))")
    for name, expected in ((argv0, "_leave_at_once _leave_at_once"), ("script.py", "default_int_handler None")):
        out = subprocess.run([sys.executable, "-c", code.format(name)], cwd=str(REPO), stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout.strip()
        assert out == expected, (name, out)


# -- items 2, 3, 5: bounds that keep a frame's memory and time bounded ----------------------------

@pytest.mark.parametrize("params, message", [
    ({"threads": 30000}, "threads must be within [0, 64], got 30000"),
    ({"max_people": 2 ** 31 - 1}, "max_people must be within [1, 200], got 2147483647"),
    ({"diagnostics_period": 1e-6}, "diagnostics_period must be within [0.1, 3600.0], got 1e-06"),
])
def test_unbounded_start_values_are_fatal_at_once(tmp_path, marker_model, params, message):
    node = h.NodeProcess(tmp_path, h.next_domain_id(), dict(model_path=marker_model, **params))
    started = time.monotonic()
    code = node.proc.wait(timeout=60)
    node.stop()
    log = node.output()
    assert code == 2 and message in log, log
    assert time.monotonic() - started < 30, "refused before any thread pool is built"


def test_max_people_beyond_the_bound_is_refused_at_run_time(tmp_path, ros, marker_model):
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    domain, client = ros
    node = h.NodeProcess(tmp_path, domain, dict(model_path=marker_model, qos_reliability="reliable"))
    c = client()
    camera = c.camera(reliable=True, depth=5)
    frame = h.image_msg(h.draw_markers(320, 240, [(80, 60)]), 1)
    c.handshake(camera, node, frame)
    for value, accepted in ((2 ** 31, False), (201, False), (200, True)):
        request = SetParameters.Request(parameters=[Parameter(name="max_people", value=ParameterValue(
            type=ParameterType.PARAMETER_INTEGER, integer_value=value))])
        result = h.call_service(c, SetParameters, "/pose_node/set_parameters", request).results[0]
        assert result.successful == accepted, (value, result.reason)
    assert h.get_parameters(c, "/pose_node", ["max_people"]) == {"max_people": 200}
    frame.header.stamp.sec = 2
    c.send_until_posed(camera, frame)  # frames still work
    assert node.stop() == 0
    assert "MemoryError" not in node.output()


# -- item 14: start-up messages that say what is wrong ----------------------------------------------

def test_start_up_errors_name_what_the_path_is(tmp_path, marker_model):
    import os

    folder = tmp_path / "models"
    folder.mkdir()
    fifo = tmp_path / "model.onnx"
    os.mkfifo(str(fifo))
    loop_a, loop_b = tmp_path / "loop_a.onnx", tmp_path / "loop_b.onnx"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    cases = [
        (["-p", "model_path:={}".format(folder)], "model file {} is a directory, not a file".format(folder)),
        (["-p", "model_path:={}".format(fifo)], "is not a regular file (a FIFO, socket or device)"),
        (["-p", "model_path:={}".format(loop_a)], "model file {} is a symbolic link loop".format(loop_a)),
        (["--params-file", str(folder)], "parameters file {} is a directory, not a file (--params-file)".format(
            folder)),
        (["-p", "model_path:={}".format(marker_model), "--fast", "-z"], "unknown ROS arguments: --fast -z (after"),
    ]
    env = h.ros_env(tmp_path, h.next_domain_id())
    for args, message in cases:
        result = subprocess.run([sys.executable, "-m", "litepose_ros.ros.pose_node", "--ros-args"] + args,
                                cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True, timeout=60)
        assert result.returncode == 2 and message in result.stdout, result.stdout
        assert "Traceback" not in result.stdout and "not found" not in result.stdout and "['" not in result.stdout


def test_reset_calls_are_counted_apart_from_the_resets_they_cause(tmp_path, ros, marker_model):
    """Item 14: 400 reset calls showed as track_resets 94 (calls before one frame make one reset)."""
    from std_srvs.srv import Trigger

    domain, client = ros
    node = h.NodeProcess(tmp_path, domain, dict(model_path=marker_model, qos_reliability="reliable",
                                                diagnostics_period=0.2))
    c = client()
    camera = c.camera(reliable=True, depth=5)
    frame = h.image_msg(h.draw_markers(320, 240, [(80, 60)]), 1)
    c.handshake(camera, node, frame)
    calls = 12
    for _ in range(calls):  # no frame in between: one reset before the next frame
        assert h.call_service(c, Trigger, "/pose_node/reset_tracks", Trigger.Request()).success
    frame.header.stamp.sec = 5
    c.send_until_posed(camera, frame)
    def counted() -> bool:  # a /diagnostics message from after the frame (they come every 0.2 s)
        values = c.latest_diagnostic_values()
        return values.get("track_reset_calls") == str(calls) and int(values.get("track_resets", "0")) >= 1

    c.wait_until(counted, 10, "the calls and the reset they caused")
    values = c.latest_diagnostic_values()
    assert 1 <= int(values["track_resets"]) < calls, values
    assert node.stop() == 0
