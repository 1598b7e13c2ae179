"""People in 3D through ROS: PoseArray 3D fields and RViz markers, then pose_node as a real
process over DDS with a synthetic RGB-D camera (colour + depth + camera_info publishers).

The marker model puts joints 0, 5, 7 and 9 (nose, left shoulder, elbow, wrist: two limbs) on
red blobs, one per quadrant; the depth image gives each quadrant its own distance, so every
joint's 3D point is known from its published pixel position and the intrinsics.
"""
import array
import math
import time

import numpy as np
import pytest
import ros_harness as h
from diagnostic_msgs.msg import DiagnosticStatus
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from visualization_msgs.msg import Marker, MarkerArray

from litepose_ros.common.keypoints import COCO
from litepose_ros.common.metadata import ModelMetadata
from litepose_ros.common.people import People
from litepose_ros.depth.lift import People3D
from litepose_ros.ros.conversions import PoseArrayBuilder, pose_array_positions_to_numpy, pose_array_to_numpy
from litepose_ros.ros.markers import NO_TRACK, PALETTE, marker_array

WIDTH, HEIGHT = 320, 240
FX, FY, CX, CY = 300.0, 310.0, 161.3, 118.9
QUADRANT_DEPTH_M = ((1.5, 2.0), (3.0, 4.5))  # [row half][column half]
JOINTS = (0, 5, 7, 9)
OPTICAL = "cam_color_optical"


# -- messages and markers, no DDS ---------------------------------------------------------------

def _builder():
    return PoseArrayBuilder(ModelMetadata.for_dataset("XS", "coco", 256, 256, weights="random"), "m.onnx", "ort")


def _two_people():
    keypoints = np.zeros((2, 17, 3), np.float32)
    keypoints[..., :2] = np.arange(17)[None, :, None] * 10 + 5
    keypoints[..., 2] = 0.5
    points = np.random.RandomState(0).uniform(0.5, 3.0, (2, 17, 3)).astype(np.float32)
    valid = np.ones((2, 17), bool)
    valid[0, [5, 9]] = False  # limbs (5, 7), (7, 9), (5, 11), (3, 5), (5, 6) lose an end
    points[~valid] = np.nan
    positions3d = People3D(points, valid, np.array([[0.1, 0.2, 1.5], [np.nan] * 3], np.float32),
                           np.array([True, False]))
    return People(keypoints, np.array([0.9, 0.8], np.float32)), positions3d


def test_builder_writes_3d_and_numpy_reads_it_back():
    people, positions3d = _two_people()
    header = Header(frame_id="camera")
    msg = _builder().build(people, header, 640, 480, 1.0, positions3d, OPTICAL)
    assert msg.position_frame_id == OPTICAL
    points, centres = pose_array_positions_to_numpy(msg)
    np.testing.assert_allclose(points[positions3d.valid], positions3d.points[positions3d.valid], rtol=1e-6)
    assert np.isnan(points[~positions3d.valid]).all()
    assert [k.position_valid for k in msg.people[0].keypoints] == positions3d.valid[0].tolist()
    assert math.isnan(msg.people[0].keypoints[5].position.z), "no 3D is NaN, never 0 m"
    assert msg.people[0].position_valid and not msg.people[1].position_valid
    np.testing.assert_allclose(centres[0], [0.1, 0.2, 1.5], rtol=1e-6)
    assert np.isnan(centres[1]).all()
    # the 2D side is what it was
    keypoints, scores = pose_array_to_numpy(msg)
    np.testing.assert_allclose(keypoints, people.keypoints)


def test_without_depth_nothing_claims_3d():
    people, _ = _two_people()
    msg = _builder().build(people, Header(frame_id="camera"), 640, 480)
    assert msg.position_frame_id == ""
    assert not any(k.position_valid for p in msg.people for k in p.keypoints)
    assert not any(p.position_valid for p in msg.people)
    assert np.isnan(pose_array_positions_to_numpy(msg)[0]).all()


def test_markers_skeleton_and_joints_in_the_3d_frame_coloured_by_track():
    people, positions3d = _two_people()
    header = Header(frame_id="camera")
    header.stamp.sec, header.stamp.nanosec = 17, 42
    msg = _builder().build(people, header, 640, 480, 1.0, positions3d, OPTICAL)
    msg.people[0].track_id = 3
    markers = marker_array(msg, lifetime_s=0.75).markers
    assert markers[0].action == Marker.DELETEALL, "people who left vanish at once"
    drawn = markers[1:]
    # person 1 has no 3D position: no markers for it
    assert [(m.ns, m.id, m.type) for m in drawn] == [("skeleton", 0, Marker.LINE_LIST),
                                                     ("joints", 0, Marker.SPHERE_LIST)]
    for m in drawn:
        assert m.header.frame_id == OPTICAL and (m.header.stamp.sec, m.header.stamp.nanosec) == (17, 42)
        assert (m.lifetime.sec, m.lifetime.nanosec) == (0, 750000000)
        assert (m.color.r, m.color.g, m.color.b) == pytest.approx(PALETTE[3])
    skeleton, joints = drawn
    assert len(joints.points) == 15
    limbs = [(a, b) for a, b in COCO.skeleton if 5 not in (a, b)
             and 9 not in (a, b)]
    assert len(skeleton.points) == 2 * len(limbs)
    first = positions3d.points[0, limbs[0][0]]
    assert (skeleton.points[0].x, skeleton.points[0].y, skeleton.points[0].z) == pytest.approx(tuple(first))
    msg.people[0].track_id = -1
    assert (marker_array(msg).markers[1].color.r, marker_array(msg).markers[1].color.g) == pytest.approx(NO_TRACK[:2])


# -- pose_node over DDS ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def arm_model(tmp_path_factory):
    w, hh = 128, 128
    regions = {0: (0, 0, w, hh), 5: (w, 0, 256, hh), 7: (0, hh, w, 256), 9: (w, hh, 256, 256)}
    return h.make_marker_model(tmp_path_factory.mktemp("arm") / "arm_coco_256.onnx", regions=regions)


@pytest.fixture
def rgbd(tmp_path):
    """(domain, client, publishers dict), everything reliable so no frame is lost by chance."""
    domain = h.next_domain_id()
    client = h.RosClient(domain)
    markers = []
    client.node.create_subscription(MarkerArray, "/markers", markers.append, h.qos(True, 100))
    pubs = {"colour": client.camera(reliable=True, depth=10),
            "depth": client.node.create_publisher(Image, "/depth/image_raw", h.qos(True, 10)),
            "info": client.node.create_publisher(CameraInfo, "/camera_info", h.qos(True, 10)),
            "markers": markers}
    yield domain, client, pubs
    client.close()


def _centres():
    """One blob per quadrant of the 320x240 image (4:3 fills the 256x256 input but for bars)."""
    return [(80.3, 62.6), (241.7, 70.2), (75.1, 175.4), (230.6, 168.9)]


def _depth_image(width, height, encoding="16UC1"):
    metres = np.empty((height, width), np.float32)
    for row in range(2):
        for col in range(2):
            metres[row * height // 2:(row + 1) * height // 2, col * width // 2:(col + 1) * width // 2] = \
                QUADRANT_DEPTH_M[row][col]
    if encoding == "16UC1":
        values = np.round(metres * 1000).astype(np.uint16)
    elif encoding == "32FC1":
        values = metres
    else:  # a colour image on the depth topic
        values = np.zeros((height, width, 3), np.uint8)
    return values


def _depth_msg(stamp, width=WIDTH // 2, height=HEIGHT // 2, encoding="16UC1"):
    values = _depth_image(width, height, encoding)
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=0, step=int(values.strides[0]),
                data=array.array("B", values.tobytes()))
    h.set_stamp(msg, stamp, "cam_depth_optical")
    return msg


def _info_msg(stamp, fx=FX, cx=CX):
    msg = CameraInfo(width=WIDTH, height=HEIGHT, distortion_model="plumb_bob")
    msg.k = [fx, 0.0, cx, 0.0, FY, CY, 0.0, 0.0, 1.0]
    h.set_stamp(msg, stamp, OPTICAL)
    return msg


def _depth_status(client):
    with client._lock:
        for msg in reversed(client.diagnostics):
            for status in msg.status:
                if status.name.endswith("pose_node: depth"):
                    return status
    return None


def _wait_depth_count(client, key, value, what):
    def reached():
        status = _depth_status(client)
        return status is not None and {kv.key: kv.value for kv in status.values}.get(key) == str(value)
    client.wait_until(reached, 10, what)
    return _depth_status(client)


def _node(tmp_path, domain, model):
    return h.NodeProcess(tmp_path, domain, dict(
        model_path=model, qos_reliability="reliable", qos_depth=5, diagnostics_period=0.2,
        depth_topic="/depth/image_raw", camera_info_topic="/camera_info", depth_stamp_tolerance=0.01))


def _frame(pubs, client, stamp, depth=None, info=None, colour_stamp=None):
    """Publish depth and camera_info (as a driver does, just before colour), then colour
    until its poses come back; returns them."""
    if info is not None:
        pubs["info"].publish(info)
    if depth is not None:
        pubs["depth"].publish(depth)
    image = h.image_msg(h.draw_markers(WIDTH, HEIGHT, _centres()), stamp if colour_stamp is None else colour_stamp,
                        OPTICAL)
    return client.send_until_posed(pubs["colour"], image)[0]


def _expected_point(x, y):
    z = QUADRANT_DEPTH_M[int(y >= HEIGHT / 2)][int(x >= WIDTH / 2)]
    return np.array([(x - 0.5 - CX) * z / FX, (y - 0.5 - CY) * z / FY, z])


def test_node_publishes_3d_and_markers_for_paired_frames_only(tmp_path, rgbd, arm_model):
    domain, c, pubs = rgbd
    node = _node(tmp_path, domain, arm_model)
    c.handshake(pubs["colour"], node, h.image_msg(np.zeros((48, 64, 3), np.uint8), 0))
    c.wait_until(lambda: pubs["depth"].get_subscription_count() > 0 and pubs["info"].get_subscription_count() > 0
                 and c.node.count_publishers("/markers") > 0, 20, "depth subscriptions")
    for n, encoding in enumerate(("16UC1", "32FC1")):
        stamp = 1700000000_000000000 + n * 33_000_000
        msg = _frame(pubs, c, stamp, _depth_msg(stamp, encoding=encoding), _info_msg(stamp))
        assert msg.position_frame_id == OPTICAL and msg.header.frame_id == OPTICAL
        keypoints, _ = pose_array_to_numpy(msg)
        points, centres = pose_array_positions_to_numpy(msg)
        assert keypoints.shape == (1, 17, 3)
        for joint in JOINTS:
            assert msg.people[0].keypoints[joint].position_valid
            np.testing.assert_allclose(points[0, joint], _expected_point(*keypoints[0, joint, :2]), atol=0.01)
        assert msg.people[0].position_valid and 1.5 <= centres[0, 2] <= 4.5
        c.wait_until(lambda stamp=stamp: any(m.markers and h.stamp_ns(m.markers[0].header) == stamp
                                             for m in pubs["markers"]), 10, "markers")
        markers = [m for m in pubs["markers"] if h.stamp_ns(m.markers[0].header) == stamp][0].markers
        assert {m.header.frame_id for m in markers} == {OPTICAL}
        drawn = {m.ns: m for m in markers[1:]}
        assert len(drawn["skeleton"].points) == 4, "limbs 5-7 and 7-9"
        assert len(drawn["joints"].points) == sum(k.position_valid for k in msg.people[0].keypoints)

    # depth 50 ms off the colour stamp (tolerance 10 ms): 2D as always, no 3D, counted
    before = len(pubs["markers"])
    stamp = 1700000001_000000000
    msg = _frame(pubs, c, stamp, _depth_msg(stamp + 50_000_000), _info_msg(stamp))
    assert msg.position_frame_id == "" and len(msg.people) == 1
    assert not any(k.position_valid for k in msg.people[0].keypoints) and not msg.people[0].position_valid
    status = _wait_depth_count(c, "frames_unpaired", 1, "unpaired count")
    assert status.level == DiagnosticStatus.WARN and "no depth image on /depth/image_raw within 0.010 s" in \
        status.message
    values = {kv.key: kv.value for kv in status.values}
    assert values["frames_paired"] == "2" and values["depth_topic"] == "/depth/image_raw"
    time.sleep(0.3)
    assert len(pubs["markers"]) == before, "no markers without 3D"
    assert node.stop() == 0


def test_depth_problems_are_reported_and_2d_continues(tmp_path, rgbd, arm_model):
    domain, c, pubs = rgbd
    node = _node(tmp_path, domain, arm_model)
    c.handshake(pubs["colour"], node, h.image_msg(np.zeros((48, 64, 3), np.uint8), 0))
    c.wait_until(lambda: pubs["depth"].get_subscription_count() > 0 and pubs["info"].get_subscription_count() > 0,
                 20, "depth subscriptions")
    base = 1700000100_000000000
    cases = [  # (counter, its count, words in the status, depth message, camera info)
        ("frames_no_camera_info", 1, "no camera_info received on /camera_info", _depth_msg(base), None),
        ("frames_bad_camera_info", 1, "focal length fx=0.0", _depth_msg(base + 1), _info_msg(base + 1, fx=0.0)),
        ("frames_bad_encoding", 1, "depth encoding 'bgr8' is not supported", _depth_msg(base + 2, encoding="bgr8"),
         _info_msg(base + 2)),
        ("frames_size_mismatch", 1, "depth image is 160x90 but colour image is 320x240",
         _depth_msg(base + 3, height=90), _info_msg(base + 3)),
        # issue 22 item 8: finite but absurd intrinsics gave -inf or 1e32 m positions marked valid
        ("frames_bad_camera_info", 2, "implausible principal point cx=1e+308", _depth_msg(base + 4),
         _info_msg(base + 4, cx=1e308)),
        ("frames_bad_camera_info", 3, "implausible focal length fx=1e-30", _depth_msg(base + 5),
         _info_msg(base + 5, fx=1e-30)),
    ]
    for n, (counter, count, words, depth, info) in enumerate(cases):
        msg = _frame(pubs, c, base + n, depth, info)
        assert len(msg.people) == 1 and msg.people[0].keypoints[5].score > 0.1, "2D goes on"
        assert msg.position_frame_id == "" and not msg.people[0].position_valid
        status = _wait_depth_count(c, counter, count, counter)
        assert status.level == DiagnosticStatus.WARN and words in status.message, status.message
    # and a good frame afterwards has 3D again
    msg = _frame(pubs, c, base + 10, _depth_msg(base + 10), _info_msg(base + 10))
    assert msg.position_frame_id == OPTICAL and msg.people[0].keypoints[9].position_valid
    status = _wait_depth_count(c, "frames_paired", 1, "paired")
    assert status.level == DiagnosticStatus.OK
    assert node.proc.poll() is None and node.stop() == 0


def test_bad_depth_parameters_are_fatal_at_start_up(tmp_path, arm_model):
    node = h.NodeProcess(tmp_path, h.next_domain_id(), dict(model_path=arm_model, depth_topic="/depth",
                                                            depth_window=4))
    assert node.proc.wait(timeout=30) != 0
    assert "depth_window must be odd, got 4" in node.output()
