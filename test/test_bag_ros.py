"""CDR compatibility of bags written without ROS with the live node's messages (rclpy)."""
import json
import sys
from pathlib import Path

import pytest
from bag_testing import FAST_MODEL_ARGS, exported_model, read_topic, run_cli
from conftest import shared_path

pytest.importorskip("rosbags", reason="bag tools need rosbags (requirements/bags.txt)")


def generated_messages():
    """litepose_ros.msg.PoseArray and rclpy.serialization, or skip saying how to get them."""
    try:
        from litepose_ros.ros import attach_generated_messages

        attach_generated_messages()  # the dev venv keeps the generated code outside the package
        from litepose_ros.msg import PoseArray
        from rclpy.serialization import deserialize_message, serialize_message
    except ImportError as error:
        pytest.skip("generated litepose_ros messages not importable ({}); run scripts/build_ros.sh".format(error))
    return PoseArray, deserialize_message, serialize_message


@pytest.fixture(scope="module")
def poses_bag(tmp_path_factory) -> Path:
    model = exported_model(tmp_path_factory)
    out = tmp_path_factory.mktemp("ros") / "poses"
    from litepose_ros import cli

    argv = ["bag", "analyze", str(shared_path("bags", "people_walking_mcap")), "--topic",
            "/camera/image_raw/compressed", "--model", str(model), "--output", str(out), "--every", "5"]
    assert cli.main(argv + FAST_MODEL_ARGS) == 0
    return out


def test_rclpy_deserializes_our_bytes_and_the_node_serializes_the_same(poses_bag):
    PoseArray, deserialize_message, serialize_message = generated_messages()
    from litepose_ros.bag.types import typestore
    from litepose_ros.ros.conversions import PoseArrayBuilder, pose_array_to_people

    store = typestore()
    messages = read_topic(poses_bag, "/poses")
    assert len(messages) == 7
    for connection, _, raw in messages:
        ours = store.deserialize_cdr(raw, connection.msgtype)
        theirs = deserialize_message(bytes(raw), PoseArray)
        assert plain(theirs) == plain(ours)
        assert theirs.header.frame_id == "camera" and len(theirs.people) == 3
        assert len(theirs.keypoint_names) == 17 and len(theirs.people[0].keypoints) == 17

        # What pose_node would publish for the same people carries the same values as what we wrote.
        class Meta(object):
            dataset, keypoint_names = theirs.dataset, list(theirs.keypoint_names)
            skeleton = [(s.joint_a, s.joint_b) for s in theirs.skeleton]
            arch, weights = theirs.model_arch, theirs.model_weights
            input_width, input_height = theirs.model_input_width, theirs.model_input_height

        builder = PoseArrayBuilder(Meta(), "/somewhere/" + theirs.model, theirs.backend)
        rebuilt = builder.build(pose_array_to_people(theirs), theirs.header, theirs.image_width,
                                theirs.image_height, theirs.processing_ms)
        node_bytes = serialize_message(rebuilt)
        # Same length and values; not byte-identical: Fast CDR leaves alignment padding uninitialised.
        assert len(node_bytes) == len(raw)
        assert plain(store.deserialize_cdr(node_bytes, connection.msgtype)) == plain(ours)


def test_one_builder_gives_rclpy_and_rosbags_the_same_message():
    """The node's and the bag writer's PoseArray come from one builder: same values, same CDR size."""
    import numpy as np
    from std_msgs.msg import Header

    from litepose_ros.bag.analyze import rosbags_types
    from litepose_ros.bag.types import POSE_ARRAY, typestore
    from litepose_ros.common.metadata import ModelMetadata
    from litepose_ros.common.people import People
    from litepose_ros.messages.pose_array import PoseArrayBuilder
    from litepose_ros.ros.conversions import RCLPY_TYPES

    _, deserialize_message, serialize_message = generated_messages()
    store = typestore()
    meta = ModelMetadata.for_dataset("S", "crowdpose", 448, 448, weights="w.pth")
    keypoints = np.random.RandomState(0).uniform(0, 400, (4, 14, 3)).astype(np.float32)
    keypoints[1, 2, 2] = 0.0
    people = People(keypoints, np.array([0.9, 0.7, 0.5, 0.1], np.float32))
    theirs_header = Header(frame_id="cam")
    theirs_header.stamp.sec, theirs_header.stamp.nanosec = 17, 9
    ours_header = store.types["std_msgs/msg/Header"](
        stamp=store.types["builtin_interfaces/msg/Time"](sec=17, nanosec=9), frame_id="cam")
    ids = [4, 8, 15, 16]
    rclpy_msg = PoseArrayBuilder(RCLPY_TYPES, meta, "/a/b.onnx", "tflite").build(
        people, theirs_header, 640, 480, 3.5, track_ids=ids)
    rosbags_msg = PoseArrayBuilder(rosbags_types(store), meta, "/a/b.onnx", "tflite").build(
        people, ours_header, 640, 480, 3.5, track_ids=ids)
    raw = store.serialize_cdr(rosbags_msg, POSE_ARRAY)
    node_bytes = serialize_message(rclpy_msg)
    assert len(node_bytes) == len(raw)
    assert plain(store.deserialize_cdr(node_bytes, POSE_ARRAY)) == plain(rosbags_msg)
    assert plain(deserialize_message(bytes(raw), type(rclpy_msg))) == plain(rclpy_msg)
    assert [p.track_id for p in rosbags_msg.people] == ids


def plain(message):
    """A rosbags or rclpy message as nested lists/values, for comparing the two."""
    if hasattr(message, "get_fields_and_field_types"):  # rclpy
        return [plain(getattr(message, name)) for name in message.get_fields_and_field_types()]
    if hasattr(message, "__dataclass_fields__"):  # rosbags: skip constants and __msgtype__
        names = [n for n in message.__dataclass_fields__ if not n.startswith("__") and not n.isupper()]
        return [plain(getattr(message, name)) for name in names]
    if isinstance(message, (list, tuple)) or hasattr(message, "tolist"):
        return [plain(item) for item in message]
    if isinstance(message, float) and message != message:
        return "nan"  # positions without 3D are NaN, and NaN != NaN
    return message


def test_type_hash_matches_the_built_interface():
    """rosbags' RIHS01 of our PoseArray (recorded in metadata.yaml) equals rosidl's."""
    from litepose_ros.bag.types import POSE_ARRAY, typestore

    description = Path(sys.prefix) / "share" / "litepose_ros" / "msg" / "PoseArray.json"
    if not description.is_file():
        pytest.skip("{} not built; run scripts/build_ros.sh".format(description))
    hashes = json.loads(description.read_text())["type_hashes"]
    expected = next(h["hash_string"] for h in hashes if h["type_name"] == "litepose_ros/msg/PoseArray")
    assert typestore().hash_rihs01(POSE_ARRAY) == expected


def test_summary_reads_poses_bag(poses_bag, tmp_path, capsys):
    rc, out, err = run_cli(capsys, ["bag", "summary", str(poses_bag), "--csv", str(tmp_path / "t.csv")])
    assert rc == 0, err
    assert "7 processed" in out and (tmp_path / "t.csv").read_text().count("\n") == 1 + 7 * 3
