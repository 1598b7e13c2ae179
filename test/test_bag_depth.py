"""`litepose bag analyze --depth-topic`: 3D in the poses bag and the CSV, from an RGB-D bag
written here (colour, 16UC1 depth at half resolution, camera_info), with the scene and model
of test_ros_depth so every joint's 3D point is known."""
import csv
import json
import math

import numpy as np
import pytest
import ros_harness as h
from bag_testing import read_topic, run_cli
from test_ros_depth import (
    CX,
    CY,
    FX,
    FY,
    HEIGHT,
    JOINTS,
    OPTICAL,
    WIDTH,
    _centres,
    _depth_image,
    _expected_point,
)

from litepose_ros.bag.types import IMAGE, typestore
from litepose_ros.common.keypoints import COCO
from litepose_ros.messages.pose_array import people_from_message, positions_from_message

BASE = 1700000000_000000000
PERIOD = 100_000_000
UNPAIRED = 2  # frame whose depth is stamped 50 ms late


@pytest.fixture(scope="module")
def arm_model(tmp_path_factory):
    regions = {0: (0, 0, 128, 128), 5: (128, 0, 256, 128), 7: (0, 128, 128, 256), 9: (128, 128, 256, 256)}
    return h.make_marker_model(tmp_path_factory.mktemp("arm") / "arm_coco_256.onnx", regions=regions)


def _header(store, stamp, frame_id):
    types = store.types
    return types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=stamp // 1_000_000_000, nanosec=stamp % 1_000_000_000),
        frame_id=frame_id)


def _image(store, stamp, frame_id, pixels, encoding):
    height, width = pixels.shape[:2]
    return store.types[IMAGE](header=_header(store, stamp, frame_id), height=height, width=width, encoding=encoding,
                              is_bigendian=0, step=int(pixels.strides[0]),
                              data=np.frombuffer(pixels.tobytes(), np.uint8))


def _camera_info(store, stamp):
    types = store.types
    roi = types["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return types["sensor_msgs/msg/CameraInfo"](
        header=_header(store, stamp, OPTICAL), height=HEIGHT, width=WIDTH, distortion_model="plumb_bob",
        d=np.zeros(5), k=np.array([FX, 0, CX, 0, FY, CY, 0, 0, 1], np.float64), r=np.eye(3).reshape(-1),
        p=np.zeros(12), binning_x=0, binning_y=0, roi=roi)


@pytest.fixture(scope="module")
def rgbd_bag(tmp_path_factory):
    from rosbags.rosbag2 import Writer

    store = typestore()
    path = tmp_path_factory.mktemp("rgbd") / "rgbd"
    colour = h.draw_markers(WIDTH, HEIGHT, _centres())
    depth = _depth_image(WIDTH // 2, HEIGHT // 2)
    with Writer(path, version=8) as writer:
        c_colour = writer.add_connection("/cam/color/image_raw", IMAGE, typestore=store)
        c_depth = writer.add_connection("/cam/aligned_depth/image_raw", IMAGE, typestore=store)
        c_info = writer.add_connection("/cam/color/camera_info", "sensor_msgs/msg/CameraInfo", typestore=store)
        for i in range(5):
            stamp = BASE + i * PERIOD
            depth_stamp = stamp + (50_000_000 if i == UNPAIRED else 0)
            log = stamp + 1000
            writer.write(c_info, log, store.serialize_cdr(_camera_info(store, stamp), c_info.msgtype))
            writer.write(c_depth, log + 1, store.serialize_cdr(
                _image(store, depth_stamp, "cam_depth", depth, "16UC1"), IMAGE))
            writer.write(c_colour, log + 2, store.serialize_cdr(_image(store, stamp, OPTICAL, colour, "bgr8"), IMAGE))
    return path


def test_analyze_writes_3d_to_the_poses_bag_and_csv(arm_model, rgbd_bag, tmp_path, capsys):
    out = tmp_path / "poses"
    rc, stdout, err = run_cli(capsys, [
        "bag", "analyze", str(rgbd_bag), "--topic", "/cam/color/image_raw", "--model", str(arm_model),
        "--depth-topic", "/cam/aligned_depth/image_raw", "--output", str(out), "--csv", str(tmp_path / "f.csv"),
        "--summary", str(tmp_path / "s.json"), "--no-progress"])
    assert rc == 0, err
    assert "3D: 4 frames paired with /cam/aligned_depth/image_raw; no 3D: 1 unpaired" in stdout
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["depth"]["paired"] == 4 and summary["depth"]["unpaired"] == 1
    assert summary["depth"]["camera_info_topic"] == "/cam/color/camera_info", "found beside the image topic"

    store = typestore()
    messages = [store.deserialize_cdr(raw, c.msgtype) for c, _, raw in read_topic(out, "/poses")]
    assert len(messages) == 5
    expected = {}
    for i, msg in enumerate(messages):
        keypoints = people_from_message(msg).keypoints
        points, centres = positions_from_message(msg)
        assert keypoints.shape[0] == 1
        if i == UNPAIRED:
            assert msg.position_frame_id == "" and np.isnan(points).all() and not msg.people[0].position_valid
            continue
        assert msg.position_frame_id == OPTICAL
        for joint in JOINTS:
            np.testing.assert_allclose(points[0, joint], _expected_point(*keypoints[0, joint, :2]), atol=0.01)
        expected[i] = (points[0], centres[0])

    with open(str(tmp_path / "f.csv")) as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 5
    for i, row in enumerate(rows):
        if i == UNPAIRED:
            assert row["person_z_m"] == "" and row["nose_z_m"] == "" and row["nose_x"] != ""
            continue
        points, centre = expected[i]
        assert float(row["person_z_m"]) == pytest.approx(centre[2], abs=1e-4)
        for joint, name in enumerate(COCO.keypoint_names):
            if math.isnan(points[joint, 2]):
                assert row[name + "_z_m"] == ""
            else:
                assert [float(row[name + a]) for a in ("_x_m", "_y_m", "_z_m")] == pytest.approx(points[joint],
                                                                                                  abs=1e-4)


def test_missing_depth_topic_is_a_clear_error(arm_model, rgbd_bag, tmp_path, capsys):
    rc, _, err = run_cli(capsys, [
        "bag", "analyze", str(rgbd_bag), "--topic", "/cam/color/image_raw", "--model", str(arm_model),
        "--depth-topic", "/cam/depth/nothing", "--no-progress"])
    assert rc == 1 and "topic /cam/depth/nothing not in bag" in err and "/cam/aligned_depth/image_raw" in err
