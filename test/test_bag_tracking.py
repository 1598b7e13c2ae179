"""`litepose bag analyze` with person tracks, on a bag of moving markers whose people are known
(test/marker_people.py): track ids in the poses bag and the CSV, track counts and durations in
the summary (also from `bag summary`), the tracks plot, and a reset where the stamps go back."""
import csv
import json

import numpy as np
import pytest
from bag_testing import read_topic, run_cli
from marker_people import HEIGHT, PERIOD_NS, START_NS, WIDTH, draw, make_people_marker_model, nearest, position

pytest.importorskip("rosbags", reason="bag tools need rosbags (requirements/bags.txt)")

from litepose_ros.bag.types import IMAGE, typestore  # noqa: E402
from litepose_ros.image.draw import person_color  # noqa: E402

# (frame, markers, stamp frame): b is hidden for frames 10-24 (1.5 s > the 1 s coasting time
# of the parameters file), then the bag "loops": stamps restart at frame 0's.
SEQUENCE = ([(f, "ab", f) for f in range(10)] + [(f, "a", f) for f in range(10, 25)]
            + [(f, "ab", f) for f in range(25, 30)] + [(f, "ab", f - 30) for f in range(30, 35)])


@pytest.fixture(scope="module")
def marker_bag(tmp_path_factory):
    from rosbags.rosbag2 import Writer

    store = typestore()
    path = tmp_path_factory.mktemp("markers") / "bag"
    with Writer(path, version=8) as writer:
        connection = writer.add_connection("/camera/image_raw", IMAGE, typestore=store)
        for frame, names, stamp_frame in SEQUENCE:
            image = draw({n: position(n, frame) for n in names})
            stamp_ns = START_NS + stamp_frame * PERIOD_NS
            stamp = store.types["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
            msg = store.types[IMAGE](header=store.types["std_msgs/msg/Header"](stamp=stamp, frame_id="cam"),
                                     height=HEIGHT, width=WIDTH, encoding="bgr8", is_bigendian=0, step=WIDTH * 3,
                                     data=image.reshape(-1))
            writer.write(connection, START_NS + frame * PERIOD_NS, store.serialize_cdr(msg, IMAGE))
    return path


def test_analyze_tracks_markers(marker_bag, tmp_path, tmp_path_factory, capsys):
    model = make_people_marker_model(tmp_path_factory.mktemp("model") / "people_marker_coco_256.onnx")
    params = tmp_path / "params.yaml"
    params.write_text("pose_node:\n  ros__parameters:\n    track_coast_s: 1.0\n    max_people: 5\n")
    rc, out, err = run_cli(capsys, [
        "bag", "analyze", str(marker_bag), "--topic", "/camera/image_raw", "--model", str(model),
        "--params", str(params), "--no-progress",
        "--output", str(tmp_path / "poses"), "--csv", str(tmp_path / "frames.csv"),
        "--summary", str(tmp_path / "summary.json"), "--plots", str(tmp_path / "plots"), "--debug-images"])
    assert rc == 0, err
    assert "frame 30: tracks reset: header stamp went back 2.900 s" in err

    rows = list(csv.DictReader(open(str(tmp_path / "frames.csv"))))
    ids = {}  # (frame, marker) -> track id
    for row in rows:
        frame = int(row["frame_index"])
        ids[frame, nearest(float(row["nose_x"]), float(row["nose_y"]), frame, SEQUENCE[frame][1])] = \
            int(row["track_id"])
    a, b_first, b_again, a_looped = ids[2, "a"], ids[2, "b"], ids[27, "b"], ids[32, "a"]
    assert [ids[f, "a"] for f in range(35)] == [-1, -1] + [a] * 28 + [-1, -1] + [a_looped] * 3
    assert [ids[f, "b"] for f in range(10)] == [-1, -1] + [b_first] * 8
    assert [ids[f, "b"] for f in range(25, 30)] == [-1, -1] + [b_again] * 3  # gone too long: new id
    assert len({a, b_first, b_again}) == 3 and min(a_looped, ids[32, "b"]) > b_again  # never reused

    summary = json.loads((tmp_path / "summary.json").read_text())
    tracks = summary["tracks"]
    assert tracks["tracks"] == 5 and tracks["untracked_people"] == 2 * 2 + 2 + 2 * 2
    assert tracks["duration_s"]["max"] == pytest.approx(2.7)  # a: frames 2..29
    assert tracks["duration_s"]["min"] == pytest.approx(0.2)  # after the loop: stamps 2..4
    assert tracks["frames_per_track"]["max"] == 28
    assert (tmp_path / "plots" / "tracks_over_time.png").stat().st_size > 1000
    assert "tracks: 5 (duration s:" in out

    store = typestore()
    poses = [store.deserialize_cdr(raw, c.msgtype) for c, _, raw in read_topic(tmp_path / "poses", "/poses")]
    assert [[p.track_id for p in msg.people] for msg in poses] == [
        [int(r["track_id"]) for r in rows if int(r["frame_index"]) == frame] for frame in range(35)]
    # the debug image draws the confirmed people in their track's colour, the new ones grey
    debug = store.deserialize_cdr(read_topic(tmp_path / "poses", "/debug_image")[5][2], IMAGE)
    pixels = np.asarray(debug.data).reshape(HEIGHT, WIDTH, 3)
    assert (pixels == person_color(a)).all(axis=2).sum() > 100

    rc, out, err = run_cli(capsys, ["bag", "summary", str(tmp_path / "poses"), "--summary",
                                    str(tmp_path / "again.json")])
    assert rc == 0, err
    assert json.loads((tmp_path / "again.json").read_text())["tracks"] == tracks
