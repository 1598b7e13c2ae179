"""Helpers for the test_bag_* modules (not collected: no test_ prefix)."""
from pathlib import Path
from typing import List, Tuple

import pytest

from litepose_ros import cli

# Random weights give heatmap peaks around 0.01-0.03: a low threshold makes people appear,
# max_people keeps decoding fast; enough to check structure, counts and values.
FAST_MODEL_ARGS = ["--detection-threshold", "0.01", "--max-people", "3", "--threads", "1", "--no-progress"]
BAG_TOPICS = {
    "people_walking_sqlite3": ("/camera/image_raw", "/camera/image_raw/compressed"),
    "people_walking_mcap": ("/camera/image_raw/compressed",),
}


def exported_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """XS at input 128 with random weights, exported once per test session."""
    path = tmp_path_factory.getbasetemp() / "litepose_xs_coco_128.onnx"
    if not path.exists():
        pytest.importorskip("torch", reason="exporting the test model needs torch")
        rc = cli.main(["export", "--arch", "XS", "--dataset", "coco", "--input-size", "128", "--output", str(path)])
        if rc or not path.exists():
            pytest.skip("litepose export failed (rc {}); cannot make the test model".format(rc))
    return path


def run_cli(capsys: pytest.CaptureFixture, argv: List[str]) -> Tuple[int, str, str]:
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def read_topic(path: Path, topic: str) -> List[Tuple[object, int, bytes]]:
    """(connection, log time, raw bytes) of every message on topic."""
    from rosbags.rosbag2 import Reader

    with Reader(path) as reader:
        connections = [c for c in reader.connections if c.topic == topic]
        assert connections, "no {} in {}".format(topic, [c.topic for c in reader.connections])
        return list(reader.messages(connections))


def source_stamps(bag: Path, topic: str) -> List[Tuple[int, int]]:
    """(log time, header stamp ns) of the source frames."""
    from litepose_ros.bag.types import typestore

    store = typestore()
    out = []
    for connection, log_time, raw in read_topic(bag, topic):
        header = store.deserialize_cdr(raw, connection.msgtype).header
        out.append((log_time, header.stamp.sec * 1000000000 + header.stamp.nanosec))
    return out
