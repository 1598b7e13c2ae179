"""Frame decoding, counted skips and user-facing errors of the bag reader; params files."""
from pathlib import Path

import cv2
import numpy as np
import pytest
from bag_testing import FAST_MODEL_ARGS, exported_model, run_cli

pytest.importorskip("rosbags", reason="bag tools need rosbags (requirements/bags.txt)")

from litepose_ros.bag import BagError  # noqa: E402
from litepose_ros.bag.analyze import load_params_file  # noqa: E402
from litepose_ros.bag.reader import FrameSource  # noqa: E402
from litepose_ros.bag.types import COMPRESSED_IMAGE, IMAGE, typestore  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def image_msg(store, sec: int, encoding: str, pixels: np.ndarray, step_pad: int = 0, cut: int = 0):
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1).view(np.uint8)
    padded = np.zeros((height, rows.shape[1] + step_pad), np.uint8)
    padded[:, : rows.shape[1]] = rows
    data = padded.reshape(-1)[: padded.size - cut]
    return store.types[IMAGE](header=header(store, sec), height=height, width=width, encoding=encoding,
                              is_bigendian=0, step=padded.shape[1], data=data)


def header(store, sec: int):
    stamp = store.types["builtin_interfaces/msg/Time"](sec=sec, nanosec=0)
    return store.types["std_msgs/msg/Header"](stamp=stamp, frame_id="cam")


@pytest.fixture(scope="module")
def odd_bag(tmp_path_factory) -> Path:
    """Raw frames in many encodings (some unusable), JPEGs (one corrupt), a non-image topic."""
    from rosbags.rosbag2 import Writer

    store = typestore()
    path = tmp_path_factory.mktemp("odd") / "bag"
    rng = np.random.RandomState(0)
    bgr = rng.randint(0, 255, (48, 64, 3)).astype(np.uint8)
    raw = [
        image_msg(store, 1, "bgr8", bgr, step_pad=8),  # padded rows
        image_msg(store, 2, "rgb8", bgr[..., ::-1].copy()),
        image_msg(store, 3, "mono16", (bgr[..., 0].astype(np.uint16) << 8)),
        image_msg(store, 4, "32FC1", bgr[..., 0].astype(np.float32)),
        image_msg(store, 5, "bgr8", bgr, cut=10),  # data shorter than height x step
        image_msg(store, 6, "yuv422", rng.randint(0, 255, (48, 64, 2)).astype(np.uint8)),
    ]
    ok, jpeg = cv2.imencode(".jpg", bgr)
    compressed = [
        store.types[COMPRESSED_IMAGE](header=header(store, 1), format="jpeg", data=jpeg.reshape(-1)),
        store.types[COMPRESSED_IMAGE](header=header(store, 2), format="jpeg", data=np.arange(99, dtype=np.uint8)),
    ]
    with Writer(path, version=8) as writer:
        conn_raw = writer.add_connection("/raw", IMAGE, typestore=store)
        conn_jpeg = writer.add_connection("/jpeg", COMPRESSED_IMAGE, typestore=store)
        conn_str = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=store)
        for i, msg in enumerate(raw):
            writer.write(conn_raw, (i + 1) * 10**9, store.serialize_cdr(msg, IMAGE))
        for i, msg in enumerate(compressed):
            writer.write(conn_jpeg, (i + 1) * 10**9, store.serialize_cdr(msg, COMPRESSED_IMAGE))
        writer.write(conn_str, 10**9, store.serialize_cdr(store.types["std_msgs/msg/String"](data="hi"),
                                                          "std_msgs/msg/String"))
    return path


def test_raw_encodings_decode_and_bad_frames_are_counted(odd_bag):
    with FrameSource(str(odd_bag), "/raw") as source:
        frames = list(source)
        counts = source.counts()
    assert [f.stamp_ns // 10**9 for f in frames] == [1, 2, 3, 6]
    assert np.array_equal(frames[0].image, frames[1].image)  # padded bgr8 == rgb8 swapped back
    assert np.array_equal(frames[2].image[..., 0], frames[0].image[..., 0])  # mono16 keeps the high byte
    assert frames[3].image.shape == (48, 64, 3)
    assert counts["read"] == 6 and counts["decoded"] == 4
    assert sorted(counts["skipped"].values()) == [1, 1]
    truncated, unsupported = sorted(counts["skipped"])
    assert truncated == "truncated image: data shorter than height x step (64x48 bgr8)"
    assert unsupported.startswith("unsupported encoding '32FC1' (accepted: bgr8, ")


def test_corrupt_jpeg_is_a_counted_skip(odd_bag):
    with FrameSource(str(odd_bag), "/jpeg") as source:
        frames = list(source)
        assert source.counts()["skipped"] == {"compressed image is neither JPEG nor PNG": 1}
    assert len(frames) == 1 and frames[0].image.shape == (48, 64, 3)


def test_unusable_topics_and_bags_raise_clear_errors(odd_bag, tmp_path):
    with pytest.raises(BagError, match="topic /chatter has type std_msgs/msg/String, expected"):
        FrameSource(str(odd_bag), "/chatter")
    with pytest.raises(BagError, match=r"not in bag; it has: /chatter \(std_msgs/msg/String, 1\), /jpeg"):
        FrameSource(str(odd_bag), "/nope")
    with pytest.raises(BagError, match="no such bag"):
        FrameSource(str(tmp_path / "missing"), "/raw")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "metadata.yaml").write_text("rosbag2_bagfile_information: [not, a, bag")
    with pytest.raises(BagError, match="cannot read bag"):
        FrameSource(str(tmp_path / "junk"), "/raw")
    with pytest.raises(BagError, match="--every"):
        FrameSource(str(odd_bag), "/raw", every=0)


def test_analyze_reports_skips_and_non_image_topic(odd_bag, tmp_path, tmp_path_factory, capsys):
    model = exported_model(tmp_path_factory)
    argv = ["bag", "analyze", str(odd_bag), "--model", str(model), "--summary", str(tmp_path / "s.json")]
    rc, out, err = run_cli(capsys, argv + ["--topic", "/raw"] + FAST_MODEL_ARGS)
    assert rc == 0, err
    assert "skipped 1: unsupported encoding '32FC1'" in out and "4 processed" in out
    rc, out, err = run_cli(capsys, argv + ["--topic", "/chatter"] + FAST_MODEL_ARGS)
    assert rc == 1 and "expected sensor_msgs/msg/Image or sensor_msgs/msg/CompressedImage" in err
    rc, out, err = run_cli(capsys, argv + FAST_MODEL_ARGS)  # two image topics: must choose
    assert rc == 1 and "pass --topic; image topics in the bag: /jpeg, /raw" in err


def test_params_file_in_node_format(tmp_path):
    params = load_params_file(str(REPO / "config" / "cpu.yaml"))
    assert params["backend"] == "onnxruntime" and params["project_to_input"] is False
    own = tmp_path / "p.yaml"
    own.write_text("/**:\n  ros__parameters:\n    max_people: 4\n    tag_threshold: 2.0\n"
                   "pose_node:\n  ros__parameters:\n    max_people: 7\n")
    assert load_params_file(str(own)) == {"max_people": 7, "tag_threshold": 2.0}  # the node's own section wins
    own.write_text("just: text\n")
    with pytest.raises(BagError, match="ros__parameters"):
        load_params_file(str(own))


def test_analyze_uses_params_file_and_command_line_wins(odd_bag, tmp_path, tmp_path_factory, capsys):
    import json

    model = exported_model(tmp_path_factory)
    params = tmp_path / "p.yaml"
    params.write_text("/**:\n  ros__parameters:\n    model_path: {}\n    max_people: 2\n    detection_threshold: 0.01\n"
                      "    image_topic: jpeg\n    image_transport: raw\n    threads: 1\n".format(model))
    rc, out, err = run_cli(capsys, ["bag", "analyze", str(odd_bag), "--params", str(params), "--topic", "/raw",
                                    "--max-people", "1", "--no-progress", "--summary", str(tmp_path / "s.json")])
    assert rc == 0, err
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["run"]["settings"]["max_people"] == 1 and summary["run"]["settings"]["detection_threshold"] == 0.01
    assert summary["people_per_frame"]["max"] == 1
    rc, out, err = run_cli(capsys, ["bag", "analyze", str(odd_bag), "--params", str(params), "--no-progress"])
    assert rc == 0, err
    assert "1 decoded" in out  # the params file's image_topic (jpeg, raw transport) was used
