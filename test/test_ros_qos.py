"""pose_node's input QoS over real DDS (issue 19 items 9 and 11): the default subscription
matches the camera's publishers, the standard qos_overrides parameters take effect, frames the
middleware loses are reported in /diagnostics, and the image topic follows remapping.

The node's subscription is looked at from the test's own node (get_subscriptions_info_by_topic),
as `ros2 topic info -v` shows it.
"""
import time

import numpy as np
import pytest
import ros_harness as h
from rclpy.qos import ReliabilityPolicy

FAST = {"diagnostics_period": 0.2}
RELIABLE, BEST_EFFORT = ReliabilityPolicy.RELIABLE, ReliabilityPolicy.BEST_EFFORT
OVERRIDE = "qos_overrides./image_raw.subscription."


@pytest.fixture(scope="module")
def marker_model(tmp_path_factory):
    return h.make_marker_model(tmp_path_factory.mktemp("marker") / "marker_coco_256.onnx")


@pytest.fixture
def ros(tmp_path):
    """(start the node, a client); both are stopped after the test, failed or not."""
    domain = h.next_domain_id()
    nodes, clients = [], []

    def start(params, **kwargs):
        nodes.append(h.NodeProcess(tmp_path, domain, dict(params, **FAST), **kwargs))
        return nodes[-1]

    def client():
        clients.append(h.RosClient(domain))
        return clients[-1]

    yield start, client
    for c in clients:
        c.close()
    for node in nodes:
        node.stop()


def node_reliability(client, node, topic="/image_raw"):
    """The reliability of pose_node's subscription on ``topic`` (None: no subscription)."""
    if node.proc.poll() is not None:
        raise AssertionError("pose_node exited with {}:\n{}".format(node.proc.returncode, node.output()))
    infos = [i for i in client.node.get_subscriptions_info_by_topic(topic) if i.node_name == "pose_node"]
    assert len(infos) <= 1, infos
    return infos[0].qos_profile.reliability if infos else None


def wait_reliability(client, node, wanted, topic="/image_raw", timeout=20.0):
    client.wait_until(lambda: node_reliability(client, node, topic) == wanted, timeout,
                      "pose_node subscribing {} {}".format(topic, wanted))


def diag_int(client, key):
    return int(client.latest_diagnostic_values().get(key, -1))


def flood(client, publisher, frames, rate_hz=30.0):
    """Publish ``frames`` (messages, in turn) at ``rate_hz``; returns how many were sent."""
    start = time.monotonic()
    for i, msg in enumerate(frames):
        delay = start + i / rate_hz - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        h.set_stamp(msg, 1_000_000_000 + i * 33_000_000, "camera")
        publisher.publish(msg)
    return len(frames)


def test_default_subscription_gets_most_big_frames_of_a_reliable_camera(tmp_path, ros, marker_model):
    # the old default (best effort) received 0.1 of 30 frames/s of 1280x720 here (bench_flood.py)
    start, client = ros
    node = start(dict(model_path=marker_model))
    c = client()
    camera = c.camera(reliable=True, depth=10)  # as usb_cam / realsense2_camera publish
    wait_reliability(c, node, RELIABLE)
    big = h.image_msg(np.zeros((720, 1280, 3), np.uint8), 0)
    c.handshake(camera, node, big)
    c.wait_until(lambda: diag_int(c, "frames_received") >= 1, 10.0, "diagnostics")
    before = diag_int(c, "frames_received")
    # 15 Hz, so that a busy node (loaded CI machine) takes every frame: each lost one is DDS's
    sent = flood(c, camera, [big] * 45, rate_hz=15.0)
    time.sleep(1.0)  # the last frames and a diagnostics message
    received = diag_int(c, "frames_received") - before
    assert received >= 0.6 * sent, "{} of {} frames reached the node".format(received, sent)
    assert "input_qos" in c.latest_diagnostic_values()
    assert c.latest_diagnostic_values()["input_qos"].startswith("reliable, depth 1 (best_available: 1 reliable")
    assert node.stop() == 0


def test_subscription_follows_publishers_that_come_later(tmp_path, ros, marker_model):
    start, client = ros
    node = start(dict(model_path=marker_model))
    c = client()
    c.wait_until(lambda: node_reliability(c, node) is not None, 30.0, "pose_node's subscription")
    assert node_reliability(c, node) == BEST_EFFORT  # no publisher yet: one that matches any
    reliable_camera = c.camera(reliable=True, depth=10)
    wait_reliability(c, node, RELIABLE)
    c.handshake(reliable_camera, node, h.image_msg(np.zeros((48, 64, 3), np.uint8), 0))
    best_effort_camera = c.camera(reliable=False)  # a second, best-effort publisher: both must match
    wait_reliability(c, node, BEST_EFFORT)
    c.send_until_posed(best_effort_camera, h.image_msg(np.zeros((48, 64, 3), np.uint8), 5))
    c.send_until_posed(reliable_camera, h.image_msg(np.zeros((48, 64, 3), np.uint8), 6))
    c.node.destroy_publisher(best_effort_camera)
    wait_reliability(c, node, RELIABLE)
    log = node.output()
    assert "input /image_raw: subscribed reliable (1 reliable publisher(s))" in log
    assert "input /image_raw: subscribed best_effort (publishers mix reliable (1) and best effort (1))" in log
    assert node.stop() == 0


def test_qos_override_parameters_take_effect(tmp_path, ros, marker_model):
    start, client = ros
    params = {OVERRIDE + "reliability": "reliable", OVERRIDE + "depth": 3, OVERRIDE + "reliablity": "best_effort"}
    node = start(dict(model_path=marker_model, **params))
    c = client()
    camera = c.camera(reliable=False)  # a best-effort camera: the forced reliable subscription cannot match
    c.wait_until(lambda: node_reliability(c, node) is not None, 30.0, "pose_node's subscription")
    time.sleep(2.5)  # longer than the node's publisher check: it must not adapt
    assert node_reliability(c, node) == RELIABLE
    assert camera.get_subscription_count() == 0
    values = h.get_parameters(c, "/pose_node", [OVERRIDE + "reliability", OVERRIDE + "depth", OVERRIDE + "history"])
    assert values == {OVERRIDE + "reliability": "reliable", OVERRIDE + "depth": 3, OVERRIDE + "history": "keep_last"}
    c.wait_until(lambda: diag_int(c, "qos_incompatible") >= 1, 10.0, "the incompatible publisher in /diagnostics")
    assert c.latest_diagnostic_values()["input_qos"] == "reliable, depth 3 (qos_overrides)"
    log = node.output()
    assert "offers a QoS incompatible with this subscription" in log
    assert ("unknown parameter 'qos_overrides./image_raw.subscription.reliablity' is ignored; did you mean "
            "'qos_overrides./image_raw.subscription.reliability'?") in log
    assert node.stop() == 0


def test_deprecated_qos_parameters_still_work_with_a_warning(tmp_path, ros, marker_model):
    start, client = ros
    node = start(dict(model_path=marker_model, qos_reliability="best_effort", qos_depth=2))
    c = client()
    c.camera(reliable=True, depth=10)
    c.wait_until(lambda: node_reliability(c, node) is not None, 30.0, "pose_node's subscription")
    time.sleep(2.5)
    assert node_reliability(c, node) == BEST_EFFORT  # as asked, not matched to the reliable camera
    assert h.get_parameters(c, "/pose_node", [OVERRIDE + "depth"]) == {OVERRIDE + "depth": 2}
    log = node.output()
    assert ("parameter qos_reliability is deprecated: use qos_overrides./image_raw.subscription.reliability"
            in log)
    assert "parameter qos_depth is deprecated: use qos_overrides./image_raw.subscription.depth" in log
    assert node.stop() == 0


def test_compressed_input_follows_remapping_of_the_base_topic(tmp_path, ros, marker_model):
    start, client = ros
    node = start(dict(model_path=marker_model, image_transport="compressed"),
               extra_args=["-r", "image_raw:=/cam/color/image_raw"])
    c = client()
    camera = c.camera(topic="cam/color/image_raw", compressed=True)
    c.handshake(camera, node, h.compressed_msg(np.zeros((48, 64, 3), np.uint8), 0))
    assert node_reliability(c, node, "/cam/color/image_raw/compressed") == BEST_EFFORT
    assert "input /cam/color/image_raw/compressed (compressed" in node.output()
    assert node.stop() == 0


SMALL_SOCKETS = """<?xml version="1.0" encoding="UTF-8"?>
<profiles xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles">
  <transport_descriptors>
    <transport_descriptor>
      <transport_id>small_udp</transport_id>
      <type>UDPv4</type>
      <maxMessageSize>65000</maxMessageSize>
      <receiveBufferSize>65536</receiveBufferSize>
    </transport_descriptor>
  </transport_descriptors>
  <participant profile_name="small_sockets" is_default_profile="true">
    <rtps>
      <userTransports><transport_id>small_udp</transport_id></userTransports>
      <useBuiltinTransports>false</useBuiltinTransports>
    </rtps>
  </participant>
</profiles>
"""


def test_frames_lost_by_dds_are_counted_in_diagnostics(tmp_path, ros, marker_model):
    # UDP only, with a receive buffer smaller than one 1280x720 frame: every such frame of a
    # best-effort camera is lost, the small frames between them arrive and show the gaps
    profile = tmp_path / "small_sockets.xml"
    profile.write_text(SMALL_SOCKETS)
    env = {"FASTDDS_DEFAULT_PROFILES_FILE": str(profile), "FASTRTPS_DEFAULT_PROFILES_FILE": str(profile)}
    start, client = ros
    node = start(dict(model_path=marker_model), extra_env=env)
    c = client()
    camera = c.camera(reliable=False)
    small = h.image_msg(np.zeros((48, 64, 3), np.uint8), 0)
    c.handshake(camera, node, small)
    big = h.image_msg(np.zeros((720, 1280, 3), np.uint8), 0)
    flood(c, camera, [big, small] * 20, rate_hz=20.0)
    c.wait_until(lambda: diag_int(c, "dds_lost_samples") >= 5, 10.0, "lost samples in /diagnostics")
    with c._lock:
        statuses = [s for m in c.diagnostics for s in m.status if "pose_node" in s.name]
    assert any(s.level == b"\x01" and "frames lost by DDS before reaching the node" in s.message
               and "net.core.rmem_max" in s.message for s in statuses), [s.message for s in statuses[-3:]]
    assert "lost by DDS" in node.output() and "net.core.rmem_max" in node.output()
    assert node.stop() == 0


def test_matching_reliability_is_reliable_only_when_every_publisher_is():
    from litepose_ros.ros.input_qos import matching_reliability

    assert matching_reliability([]) == (BEST_EFFORT, "no publisher yet")
    assert matching_reliability([RELIABLE, RELIABLE]) == (RELIABLE, "2 reliable publisher(s)")
    assert matching_reliability([RELIABLE, BEST_EFFORT])[0] == BEST_EFFORT
    assert matching_reliability([BEST_EFFORT]) == (BEST_EFFORT, "1 best-effort publisher(s)")
