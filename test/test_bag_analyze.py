"""`litepose bag analyze` / `bag summary` end to end on the shared camera bags."""
import csv
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from bag_testing import BAG_TOPICS, FAST_MODEL_ARGS, exported_model, read_topic, run_cli, source_stamps
from conftest import shared_path

pytest.importorskip("rosbags", reason="bag tools need rosbags (requirements/bags.txt)")

from litepose_ros.bag.types import POSE_ARRAY, typestore  # noqa: E402
from litepose_ros.common.keypoints import get_keypoint_set  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported_model(tmp_path_factory)


def analyze_argv(bag: Path, topic: str, model: Path, out: Path, *extra: str) -> list:
    return ["bag", "analyze", str(bag), "--topic", topic, "--model", str(model), "--output", str(out / "poses"),
            "--csv", str(out / "frames.csv"), "--summary", str(out / "summary.json")] + FAST_MODEL_ARGS + list(extra)


@pytest.mark.parametrize("bag_name,topic,storage", [
    ("people_walking_sqlite3", "/camera/image_raw", "mcap"),
    ("people_walking_sqlite3", "/camera/image_raw/compressed", "sqlite3"),
    ("people_walking_mcap", "/camera/image_raw/compressed", "sqlite3"),
])
def test_analyze_writes_poses_bag_table_and_summary(model, tmp_path, capsys, bag_name, topic, storage):
    bag = shared_path("bags", bag_name)
    rc, out, err = run_cli(capsys, analyze_argv(bag, topic, model, tmp_path, "--storage", storage, "--debug-images",
                                                "--plots", str(tmp_path / "plots")))
    assert rc == 0, err
    assert "35 read, 35 selected, 35 decoded, 35 processed" in out

    suffix = ".mcap" if storage == "mcap" else ".db3"
    assert (tmp_path / "poses" / ("poses" + suffix)).is_file()
    poses = read_topic(tmp_path / "poses", "/poses")
    debug = read_topic(tmp_path / "poses", "/debug_image")
    source = source_stamps(bag, topic)
    assert len(poses) == len(debug) == len(source) == 35
    assert {c.msgtype for c, _, _ in poses} == {POSE_ARRAY}
    assert {c.msgtype for c, _, _ in debug} == {"sensor_msgs/msg/Image"}

    store = typestore()
    coco = get_keypoint_set("coco")
    table = list(csv.DictReader(open(str(tmp_path / "frames.csv"))))
    for (connection, log_time, raw), (source_log, source_stamp) in zip(poses, source):
        msg = store.deserialize_cdr(raw, connection.msgtype)
        assert log_time == source_log  # replays with the source's timing
        assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == source_stamp
        assert msg.header.frame_id == "camera"
        assert (msg.image_width, msg.image_height) == (480, 270)
        assert (msg.model, msg.model_arch, msg.backend) == (model.name, "XS", "onnxruntime")
        assert list(msg.keypoint_names) == list(coco.keypoint_names)
        assert [(limb.joint_a, limb.joint_b) for limb in msg.skeleton] == [tuple(s) for s in coco.skeleton]
        assert len(msg.people) == 3 and all(len(p.keypoints) == 17 for p in msg.people)
        assert [p.score for p in msg.people] == sorted((p.score for p in msg.people), reverse=True)
        assert msg.processing_ms > 0
        rows = [r for r in table if int(r["stamp_ns"]) == source_stamp]
        assert [int(r["person_index"]) for r in rows] == [0, 1, 2]
        for row, person in zip(rows, msg.people):
            assert float(row["person_score"]) == pytest.approx(person.score, abs=1e-4)
            assert int(row["track_id"]) == person.track_id
            assert float(row["left_wrist_x"]) == pytest.approx(person.keypoints[9].x, abs=1e-3)
            assert float(row["bbox_x_max"]) == pytest.approx(person.bbox_x_max, abs=1e-3)
            assert float(row["track_ms"]) > 0.0  # the tracker is on by default
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames"]["processed"] == 35 and summary["frames"]["skipped"] == {}
    assert summary["people_per_frame"]["histogram"] == {"3": 35}
    assert summary["source_stream"]["median_period_ms"] == 80.0 and summary["source_stream"]["gaps"] == 0
    assert set(summary["latency_ms"]) == {"processing", "preprocess", "inference", "decode", "track"}
    for name in ("people_over_time", "latency_histogram", "keypoint_visibility", "tracks_over_time"):
        assert (tmp_path / "plots" / (name + ".png")).stat().st_size > 1000


def test_summary_reproduces_analyze_statistics(model, tmp_path, capsys):
    bag = shared_path("bags", "people_walking_mcap")
    rc, _, err = run_cli(capsys, analyze_argv(bag, BAG_TOPICS["people_walking_mcap"][0], model, tmp_path,
                                              "--visibility-threshold", "0.015"))
    assert rc == 0, err
    rc, out, err = run_cli(capsys, ["bag", "summary", str(tmp_path / "poses"), "--summary",
                                    str(tmp_path / "again.json"), "--visibility-threshold", "0.015"])
    assert rc == 0, err
    analyzed = json.loads((tmp_path / "summary.json").read_text())
    summarized = json.loads((tmp_path / "again.json").read_text())
    for key in ("people_per_frame", "keypoint_scores", "keypoint_visibility", "source_stream"):
        assert summarized[key] == analyzed[key], key
    fractions = analyzed["keypoint_visibility"]["fraction"].values()
    assert any(0 < f < 1 for f in fractions)  # the threshold splits: a non-trivial comparison
    # PoseArray.processing_ms is float32: equal up to its rounding
    for stat, value in analyzed["latency_ms"]["processing"].items():
        assert summarized["latency_ms"]["processing"][stat] == pytest.approx(value, rel=1e-5, abs=1e-3)
    assert summarized["frames"]["processed"] == 35


def test_every_and_time_window(model, tmp_path, capsys):
    bag = shared_path("bags", "people_walking_sqlite3")
    topic = "/camera/image_raw/compressed"
    source = source_stamps(bag, topic)
    start_ns = source[0][0]
    in_window = [s for s in source if start_ns + 0.5e9 <= s[0] < start_ns + 2.0e9]
    rc, out, err = run_cli(capsys, analyze_argv(bag, topic, model, tmp_path, "--start", "0.5", "--end", "2.0",
                                                "--every", "3"))
    assert rc == 0, err
    expected = in_window[::3]
    stamps = [int(r["stamp_ns"]) for r in csv.DictReader(open(str(tmp_path / "frames.csv")))]
    assert sorted(set(stamps)) == [s for _, s in expected]
    poses = read_topic(tmp_path / "poses", "/poses")
    assert [t for _, t, _ in poses] == [t for t, _ in expected]
    frames = json.loads((tmp_path / "summary.json").read_text())["frames"]
    assert (frames["read"], frames["selected"], frames["processed"]) == (len(in_window), len(expected), len(expected))
    indices = sorted({int(r["frame_index"]) for r in csv.DictReader(open(str(tmp_path / "frames.csv")))})
    assert indices == list(range(0, len(in_window), 3))


def test_ctrl_c_stops_and_leaves_a_valid_bag(model, tmp_path, capsys):
    """A real SIGINT to this process mid-run (sent from inside the 5th inference)."""
    from litepose_ros.bag import analyze
    from litepose_ros.cli import build_parser
    from litepose_ros.pipeline.estimator import PoseEstimator

    class InterruptingEstimator(object):
        def __init__(self, inner):
            self.inner, self.calls = inner, 0
            self.metadata, self.backend = inner.metadata, inner.backend

        def estimate(self, image):
            self.calls += 1
            if self.calls == 5:
                os.kill(os.getpid(), signal.SIGINT)
            return self.inner.estimate(image)

    bag = shared_path("bags", "people_walking_mcap")
    args = build_parser().parse_args(analyze_argv(bag, "/camera/image_raw/compressed", model, tmp_path,
                                                  "--storage", "mcap"))
    estimator = InterruptingEstimator(PoseEstimator.from_model(str(model), threads=1, detection_threshold=0.01,
                                                               max_num_people=3))
    previous = signal.getsignal(signal.SIGINT)
    rc = analyze.run(args, estimator=estimator)
    _, err = capsys.readouterr()
    assert rc == analyze.EXIT_INTERRUPTED
    assert "interrupted" in err
    assert signal.getsignal(signal.SIGINT) is previous  # handler restored
    assert len(read_topic(tmp_path / "poses", "/poses")) == 5  # metadata and index were written
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["run"]["interrupted"] is True and summary["frames"]["processed"] == 5


def test_missing_topic_lists_the_bags_topics(model, tmp_path, capsys):
    rc, out, err = run_cli(capsys, analyze_argv(shared_path("bags", "people_walking_sqlite3"), "/camera/rgb",
                                                model, tmp_path))
    assert rc == 1
    assert "topic /camera/rgb not in bag" in err
    assert "/camera/image_raw (sensor_msgs/msg/Image, 35)" in err and "/camera/image_raw/compressed" in err
    assert not (tmp_path / "poses").exists()


def test_truncated_bag_is_a_clear_error(model, tmp_path, capsys):
    for name, keep in (("people_walking_sqlite3", 0.5), ("people_walking_mcap", 0.5)):
        source = shared_path("bags", name)
        broken = tmp_path / name
        broken.mkdir()
        (broken / "metadata.yaml").write_bytes((source / "metadata.yaml").read_bytes())
        data = next(p for p in source.iterdir() if p.suffix in (".db3", ".mcap"))
        (broken / data.name).write_bytes(data.read_bytes()[: int(data.stat().st_size * keep)])
        rc, out, err = run_cli(capsys, analyze_argv(broken, "/camera/image_raw/compressed", model,
                                                    tmp_path / ("out_" + name)))
        assert rc == 1
        assert "cannot read bag" in err and "Traceback" not in err + out


def test_summary_statistics_values(model, tmp_path, capsys):
    """The numbers in the summary agree with the table they summarise."""
    bag = shared_path("bags", "people_walking_mcap")
    rc, _, err = run_cli(capsys, analyze_argv(bag, "/camera/image_raw/compressed", model, tmp_path, "--every", "2"))
    assert rc == 0, err
    rows = list(csv.DictReader(open(str(tmp_path / "frames.csv"))))
    summary = json.loads((tmp_path / "summary.json").read_text())
    scores = np.array([float(r[k]) for r in rows for k in r if k.endswith("_score") and k != "person_score"])
    assert summary["keypoint_scores"]["count"] == scores.size == 18 * 3 * 17
    # absent joints (score 0) are left out of the statistics; this bag has plenty of them
    found = scores[scores > 0]
    assert 0 < summary["keypoint_scores"]["found"] == found.size < scores.size
    distribution = summary["keypoint_scores"]["distribution"]
    assert distribution["p50"] == pytest.approx(np.percentile(found, 50), abs=1e-4) and distribution["min"] > 0
    assert sum(summary["keypoint_scores"]["histogram"]["counts"]) == found.size
    inference = sorted({float(r["inference_ms"]) for r in rows})
    assert summary["latency_ms"]["inference"]["max"] == pytest.approx(max(inference), abs=1e-3)
    assert summary["source_stream"]["messages"] == 35  # gaps are judged on every frame read


def test_an_empty_time_window_is_a_one_line_error(model, tmp_path, capsys):
    bag = shared_path("bags", "people_walking_mcap")
    for window in (["--start", "3", "--end", "1"], ["--start", "2", "--end", "2"], ["--start", "-1"]):
        rc, out, err = run_cli(capsys, analyze_argv(bag, "/camera/image_raw/compressed", model, tmp_path, *window))
        assert rc == 1, window
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: --"), err
        assert not (tmp_path / "poses").exists() and not (tmp_path / "summary.json").exists()


def test_summary_takes_no_progress_like_analyze(model, tmp_path, capsys):
    bag = shared_path("bags", "people_walking_mcap")
    rc, _, err = run_cli(capsys, analyze_argv(bag, "/camera/image_raw/compressed", model, tmp_path))
    assert rc == 0, err
    rc, out, err = run_cli(capsys, ["bag", "summary", str(tmp_path / "poses"), "--no-progress"])
    assert rc == 0, err
    assert "35 processed" in out and err == ""
    rc, out, err = run_cli(capsys, ["bag", "summary", str(tmp_path / "poses")])
    assert rc == 0 and "summary: 100%" in err and "35/35" in err  # the bar, on stderr


def _figures(poses_bag: Path) -> tuple:
    from litepose_ros.bag.plots import plot_figures
    from litepose_ros.bag.summary import summarize_poses_bag

    summary, records = summarize_poses_bag(str(poses_bag), "/poses", 0.1)
    return summary, dict(plot_figures(records, summary))


@pytest.mark.parametrize("threshold,people", [("0.01", 3), ("0.99", 0)])
def test_plots_count_people_in_whole_numbers_and_say_when_no_one_was_found(model, tmp_path, capsys, threshold,
                                                                          people):
    """A flat series (3 people in every frame, or none) is where matplotlib picks fractional ticks."""
    import matplotlib.pyplot as plt

    bag = shared_path("bags", "people_walking_mcap")
    argv = analyze_argv(bag, "/camera/image_raw/compressed", model, tmp_path) + ["--detection-threshold", threshold]
    rc, _, err = run_cli(capsys, argv)
    assert rc == 0, err
    summary, figures = _figures(tmp_path / "poses")
    assert summary["people_per_frame"]["histogram"] == {str(people): 35}
    axes = figures["people_over_time.png"].axes[0]
    low, high = axes.get_ylim()
    ticks = [t for t in axes.get_yticks() if low <= t <= high]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert low == 0 and people in ticks
    notes = [text.get_text() for text in figures["keypoint_visibility.png"].axes[0].texts]
    assert notes == ([] if people else ["no people found in 35 frames"])
    for figure in figures.values():
        plt.close(figure)
