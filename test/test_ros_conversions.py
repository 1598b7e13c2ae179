"""People <-> PoseArray, sensor_msgs -> BGR, and the node's frame mailbox (no DDS needed)."""
import array
import threading

import cv2
import numpy as np
import pytest
from ros_harness import compressed_msg, image_msg
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from litepose_ros.common.keypoints import COCO, CROWDPOSE
from litepose_ros.common.metadata import ModelMetadata
from litepose_ros.common.people import People
from litepose_ros.image.messages import BadImage, compressed_to_bgr, image_to_bgr
from litepose_ros.ros.conversions import (
    TRACK_ID_NONE,
    PoseArrayBuilder,
    pose_array_to_numpy,
    pose_array_to_people,
    skeleton_from_msg,
)
from litepose_ros.ros.frames import LatestFrame, StageStats


def _people(num_joints: int, seed: int = 0, n: int = 3) -> People:
    rng = np.random.default_rng(seed)
    keypoints = np.zeros((n, num_joints, 3), np.float32)
    keypoints[..., 0] = rng.uniform(0, 640, (n, num_joints))
    keypoints[..., 1] = rng.uniform(0, 480, (n, num_joints))
    keypoints[..., 2] = rng.uniform(0.05, 1.0, (n, num_joints))
    keypoints[0, 3, 2] = 0.0  # one keypoint not found
    return People(keypoints, np.sort(rng.uniform(0, 1, n)).astype(np.float32)[::-1].copy())


@pytest.mark.parametrize("dataset,kps", [("coco", COCO), ("crowdpose", CROWDPOSE)])
def test_people_to_pose_array_and_back(dataset, kps):
    meta = ModelMetadata.for_dataset("XS", dataset, 256, 256, weights="random")
    builder = PoseArrayBuilder(meta, "/models/litepose_xs.onnx", "onnxruntime")
    header = Header(frame_id="camera_optical")
    header.stamp.sec, header.stamp.nanosec = 1700000000, 42
    people = _people(kps.num_joints)

    msg = builder.build(people, header, 640, 480, processing_ms=12.5)

    assert msg.header.frame_id == "camera_optical"
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1700000000, 42)
    assert (msg.image_width, msg.image_height) == (640, 480)
    assert list(msg.keypoint_names) == list(kps.keypoint_names)
    assert skeleton_from_msg(msg) == [tuple(p) for p in kps.skeleton]
    assert (msg.dataset, msg.model, msg.model_arch, msg.backend) == (dataset, "litepose_xs.onnx", "XS", "onnxruntime")
    assert (msg.model_input_width, msg.model_input_height, msg.model_weights) == (256, 256, "random")
    assert msg.processing_ms == pytest.approx(12.5)
    assert all(p.track_id == TRACK_ID_NONE == -1 for p in msg.people)
    box = msg.people[0]
    found = people.keypoints[0][people.keypoints[0, :, 2] > 0]
    assert (box.bbox_x_min, box.bbox_y_min) == pytest.approx(tuple(found[:, :2].min(axis=0)), abs=1e-3)
    assert (box.bbox_x_max, box.bbox_y_max) == pytest.approx(tuple(found[:, :2].max(axis=0)), abs=1e-3)

    keypoints, scores = pose_array_to_numpy(msg)
    assert keypoints.dtype == np.float32 and keypoints.shape == people.keypoints.shape
    np.testing.assert_allclose(keypoints, people.keypoints, atol=1e-4)
    np.testing.assert_allclose(scores, people.scores, atol=1e-6)
    assert len(pose_array_to_people(msg)) == 3


def test_empty_and_mismatched_people():
    meta = ModelMetadata.for_dataset("XS", "coco", 256, 256, weights="random")
    builder = PoseArrayBuilder(meta, "m.onnx", "onnxruntime")
    msg = builder.build(People.empty(17), Header(), 10, 10)
    keypoints, scores = pose_array_to_numpy(msg)
    assert keypoints.shape == (0, 17, 3) and scores.shape == (0,)
    with pytest.raises(ValueError, match="14 keypoints"):
        builder.build(People.empty(14), Header(), 10, 10)


def test_recycled_keypoints_carry_the_new_values():
    """The node hands each published message back; the next one reuses its Keypoint objects and
    must equal a message built from scratch."""
    from rclpy.serialization import serialize_message

    meta = ModelMetadata.for_dataset("XS", "coco", 256, 256, weights="random")
    builder, fresh = PoseArrayBuilder(meta, "m.onnx", "onnxruntime"), PoseArrayBuilder(meta, "m.onnx", "onnxruntime")
    first = builder.build(_people(17, seed=1, n=4), Header(), 640, 480)
    old_keypoints = {id(k) for p in first.people for k in p.keypoints}
    builder.recycle(first)
    builder.recycle(first)  # twice by mistake: still no object handed out twice
    assert all(len(p.keypoints) == 0 for p in first.people)
    from litepose_ros.depth.lift import People3D

    for seed, n, with_3d in ((2, 3, False), (3, 4, True), (4, 1, False)):
        people = _people(17, seed=seed, n=n)
        positions, frame = None, ""
        if with_3d:  # some keypoints and people with a 3D position, the rest NaN
            rng = np.random.default_rng(seed)
            valid = rng.uniform(size=(n, 17)) > 0.3
            points = np.where(valid[..., None], rng.uniform(0.5, 4, (n, 17, 3)), np.nan).astype(np.float32)
            positions, frame = People3D(points, valid, np.nanmedian(points, axis=1), valid.any(axis=1)), "optical"
        msg = builder.build(people, Header(), 640, 480, 0.0, positions, frame, track_ids=list(range(n)))
        expected = fresh.build(people, Header(), 640, 480, 0.0, positions, frame, track_ids=list(range(n)))
        assert with_3d == any(k.position_valid for p in msg.people for k in p.keypoints)
        assert repr(msg) == repr(expected)  # every field (== would fail on the NaN positions)
        assert len(serialize_message(msg)) == len(serialize_message(expected))
        used = [id(k) for p in msg.people for k in p.keypoints]
        assert len(set(used)) == len(used) and set(used) <= old_keypoints
        builder.recycle(msg)


def test_track_ids_go_to_their_person():
    meta = ModelMetadata.for_dataset("XS", "coco", 256, 256, weights="random")
    builder = PoseArrayBuilder(meta, "m.onnx", "onnxruntime")
    msg = builder.build(_people(17), Header(), 640, 480, track_ids=[7, 3, 12])
    assert [person.track_id for person in msg.people] == [7, 3, 12]
    assert [person.score for person in msg.people] == pytest.approx(_people(17).scores.tolist())
    with pytest.raises(ValueError, match="2 values for 3 people"):
        builder.build(_people(17), Header(), 640, 480, track_ids=[1, 2])


# -- image input --------------------------------------------------------------------------------

def _test_image(width: int = 64, height: int = 48) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_raw_encodings_convert_to_bgr():
    bgr = _test_image()
    np.testing.assert_array_equal(image_to_bgr(image_msg(bgr, 0)), bgr)
    np.testing.assert_array_equal(image_to_bgr(image_msg(bgr[:, :, ::-1].copy(), 0, encoding="rgb8")), bgr)
    bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    np.testing.assert_array_equal(image_to_bgr(image_msg(bgra, 0, encoding="bgra8")), bgr)
    gray = bgr[:, :, 0].copy()
    assert image_to_bgr(image_msg(gray, 0, encoding="mono8")).shape == (48, 64, 3)
    uyvy = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)  # any 2-byte/pixel payload of the right size
    uyvy = np.resize(uyvy, (48, 64, 2)).astype(np.uint8)
    assert image_to_bgr(image_msg(uyvy, 0, encoding="yuv422")).shape == (48, 64, 3)


def test_row_padding_is_honoured():
    bgr = _test_image()
    padded = np.zeros((48, 64 * 3 + 8), np.uint8)
    padded[:, :64 * 3] = bgr.reshape(48, -1)
    msg = Image(height=48, width=64, encoding="bgr8", step=64 * 3 + 8, data=array.array("B", padded.tobytes()))
    np.testing.assert_array_equal(image_to_bgr(msg), bgr)


@pytest.mark.parametrize("change,reason", [
    (dict(encoding="16UC1"), "unsupported encoding"),
    (dict(encoding="32FC1"), "unsupported encoding"),
    (dict(width=0, height=0, step=0), "empty"),
    (dict(width=100000, height=100000, step=300000), "pixel limit"),
    (dict(step=10), "step"),
    (dict(data=array.array("B", bytes(100))), "truncated"),
])
def test_bad_raw_images_raise_bad_image(change, reason):
    msg = image_msg(_test_image(), 0)
    for name, value in change.items():
        setattr(msg, name, value)
    with pytest.raises(BadImage, match=reason):
        image_to_bgr(msg)


def test_compressed_images():
    bgr = _test_image()
    decoded = compressed_to_bgr(compressed_msg(bgr, 0, ext=".png"))
    np.testing.assert_array_equal(decoded, bgr)
    jpeg = compressed_msg(bgr, 0)
    assert compressed_to_bgr(jpeg).shape == (48, 64, 3)
    with pytest.raises(BadImage, match="empty"):
        compressed_to_bgr(CompressedImage(format="jpeg"))
    with pytest.raises(BadImage, match="corrupt JPEG header"):
        compressed_to_bgr(CompressedImage(format="jpeg", data=array.array("B", jpeg.data[:20])))
    with pytest.raises(BadImage, match="cannot decode JPEG image: corrupt or truncated"):
        compressed_to_bgr(CompressedImage(format="jpeg", data=array.array("B", jpeg.data[:400])))
    with pytest.raises(BadImage, match="neither JPEG nor PNG"):
        compressed_to_bgr(CompressedImage(format="jpeg", data=array.array("B", b"not an image at all")))


# -- frame mailbox and statistics ---------------------------------------------------------------

def test_latest_frame_keeps_only_the_freshest():
    frames = LatestFrame()
    for i in range(5):
        frames.put(i)
    assert frames.take(timeout=0).msg == 4
    assert frames.counts() == (5, 4)
    assert frames.take(timeout=0.01) is None
    frames.put(5)
    assert frames.take(timeout=0).msg == 5
    assert frames.counts() == (6, 4)


def test_latest_frame_close_wakes_the_worker():
    frames = LatestFrame()
    got = []
    worker = threading.Thread(target=lambda: got.append(frames.take()))
    worker.start()
    frames.close()
    worker.join(timeout=2)
    assert not worker.is_alive() and got == [None]


def test_stage_stats_rates_and_means():
    stats = StageStats(window_s=2.0)
    for i in range(11):
        stats.input(now=100.0 + i * 0.1)  # 10 Hz
    for i in range(6):
        stats.output({"preprocess_ms": 2.0, "inference_ms": 10.0 + i, "decode_ms": 3.0, "latency_ms": 20.0},
                     now=100.0 + i * 0.2)  # 5 Hz
    stats.bad_frame("unsupported encoding '16UC1'")
    snap = stats.snapshot(now=101.0)
    assert snap["input_rate_hz"] == pytest.approx(10.0)
    assert snap["output_rate_hz"] == pytest.approx(5.0)
    assert snap["inference_ms"] == pytest.approx(12.5) and snap["max_inference_ms"] == pytest.approx(15.0)
    assert snap["bad_frames"] == 1 and stats.last_problem.startswith("unsupported")
    assert stats.snapshot(now=110.0)["input_rate_hz"] == 0.0  # window passed: no input
