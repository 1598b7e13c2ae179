"""`litepose bag analyze` as a real process on real rosbag2 files, ended by everything but a
clean finish (issue 22 items 6, 7, 9, 14): SIGTERM / SIGHUP, an unwritable or failing --csv, a
full disk, a truncated MCAP, a model with NaN outputs, and options that cannot work. Every way
out leaves readable outputs (a bag with metadata, a CSV of whole rows, a whole summary or none)
and says what happened in one line."""
import csv
import json
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("rosbags", reason="bag tools need rosbags (requirements/bags.txt)")

import ros_harness as h  # noqa: E402
from test_ros_node_hostile import nan_model  # noqa: E402

from litepose_ros.bag.types import COMPRESSED_IMAGE, typestore  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TOPIC = "/camera/image_raw/compressed"


def write_camera_bag(path: Path, frames: int, storage: str = "sqlite3", width: int = 640, height: int = 480,
                     grain: int = 0) -> Path:
    """A rosbag2 of JPEG frames at 30 Hz with red markers moving across the view (on sensor
    noise of +-``grain`` levels, which makes each JPEG some 60 KB at grain 20)."""
    noise = np.random.RandomState(0).randint(0, 2 * grain + 1, (height, width, 3)) if grain else 0
    from rosbags.rosbag2 import StoragePlugin, Writer

    store = typestore()
    types = store.types
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(path, version=8, storage_plugin=plugin) as writer:
        connection = writer.add_connection(TOPIC, COMPRESSED_IMAGE, typestore=store)
        for n in range(frames):
            x = 100 + (n * 7) % 400
            image = h.draw_markers(width, height, [(x, 120), (x + 100, 120)], sigma=6)
            ok, jpeg = cv2.imencode(".jpg", np.clip(image + noise, 0, 255).astype(np.uint8))
            stamp_ns = 1_700_000_000_000_000_000 + n * 33_333_333
            header = types["std_msgs/msg/Header"](
                stamp=types["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
                frame_id="camera")
            msg = types[COMPRESSED_IMAGE](header=header, format="bgr8; jpeg compressed bgr8", data=jpeg.reshape(-1))
            writer.write(connection, stamp_ns, store.serialize_cdr(msg, COMPRESSED_IMAGE))
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return h.make_marker_model(tmp_path_factory.mktemp("marker") / "marker.onnx")


@pytest.fixture(scope="module")
def long_bag(tmp_path_factory) -> Path:
    return write_camera_bag(tmp_path_factory.mktemp("bags") / "long", 600)


def analyze_cmd(bag: Path, model: Path, out: Path, *extra: str) -> list:
    return [sys.executable, "-m", "litepose_ros.cli", "bag", "analyze", str(bag), "--topic", TOPIC, "--model",
            str(model), "--no-progress", "--threads", "1"] + [str(e) for e in extra]


def run_analyze(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=240, **kwargs)


def poses_in(bag: Path) -> int:
    from rosbags.rosbag2 import Reader

    with Reader(bag) as reader:  # fails without metadata.yaml or with a broken storage file
        return sum(1 for c, _, _ in reader.messages([c for c in reader.connections if c.topic == "/poses"]))


def whole_rows(path: Path) -> list:
    """The CSV's rows; asserts none is cut (every row as long as the header, ends in a newline)."""
    text = path.read_bytes()
    assert not text or text.endswith(b"\r\n"), "last row cut: {!r}".format(text[-80:])
    rows = list(csv.reader(open(str(path), newline="")))
    assert rows and all(len(row) == len(rows[0]) for row in rows), "a row cut mid-way"
    return rows[1:]


def frames_in_table(rows: list) -> int:
    return len({row[0] for row in rows})


def one_line_error(stderr: str, words: str) -> None:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and words in errors[0], stderr


# -- item 6: SIGTERM / SIGHUP like Ctrl-C -------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_stop_signals_leave_valid_outputs(model, long_bag, tmp_path, sig):
    out = tmp_path / "poses"
    table, summary = tmp_path / "frames.csv", tmp_path / "summary.json"
    proc = subprocess.Popen(analyze_cmd(long_bag, model, tmp_path, "--output", out, "--debug-images", "--csv", table,
                                        "--summary", summary), cwd=str(REPO), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    deadline = time.monotonic() + 120
    while (not table.exists() or table.stat().st_size < 20000) and proc.poll() is None:
        assert time.monotonic() < deadline, "no rows written"
        time.sleep(0.02)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, (proc.returncode, stderr)
    assert "Traceback" not in stderr and "interrupted: outputs hold the" in stderr, stderr
    document = json.loads(summary.read_text())
    processed = document["frames"]["processed"]
    assert document["run"]["interrupted"] is True and document["run"]["stop_signal"] == signal.Signals(sig).name
    assert 0 < processed < 600
    assert poses_in(out) == processed == frames_in_table(whole_rows(table))


# -- item 6: outputs that cannot be written ---------------------------------------------------------

def test_unwritable_csv_is_one_line_before_any_output(model, long_bag, tmp_path):
    (tmp_path / "a_dir").mkdir()
    for csv_path, words in ((tmp_path / "a_dir", "is a directory"),
                            (tmp_path / "missing" / "frames.csv", "does not exist"),
                            (tmp_path / "a_file.txt" / "frames.csv", "does not exist")):
        (tmp_path / "a_file.txt").write_text("x")
        result = run_analyze(analyze_cmd(long_bag, model, tmp_path, "--output", tmp_path / "poses", "--csv", csv_path))
        assert result.returncode == 1
        one_line_error(result.stderr, words)
        assert not (tmp_path / "poses").exists(), "nothing created"


def test_csv_on_a_failing_device_is_one_line_before_any_output(model, long_bag, tmp_path):
    """/dev/full: opening works, every write (the header already) fails with ENOSPC."""
    out = tmp_path / "poses"
    result = run_analyze(analyze_cmd(long_bag, model, tmp_path, "--output", out, "--csv", "/dev/full"))
    assert result.returncode == 1
    one_line_error(result.stderr, "cannot write --csv /dev/full: No space left on device")
    assert not out.exists()


def test_file_size_limit_mid_run_cuts_the_csv_at_a_whole_frame(model, long_bag, tmp_path):
    """A write that fails half-way (EFBIG under RLIMIT_FSIZE, as ENOSPC on a full disk)."""
    table, summary = tmp_path / "frames.csv", tmp_path / "summary.json"
    limit = 150_000

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = run_analyze(analyze_cmd(long_bag, model, tmp_path, "--csv", table, "--summary", summary),
                         preexec_fn=limit_file_size)
    assert result.returncode == 1
    one_line_error(result.stderr, "cannot write --csv")
    rows = whole_rows(table)
    assert table.stat().st_size <= limit
    document = json.loads(summary.read_text())
    assert 0 < document["frames"]["processed"] == frames_in_table(rows) < 600


def test_full_disk_stops_while_the_outputs_can_still_be_closed(model, long_bag, tmp_path):
    """A real small filesystem (tmpfs) that the debug images fill."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)],
                      stderr=subprocess.DEVNULL).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        out, table, summary = disk / "poses", disk / "frames.csv", disk / "summary.json"
        result = run_analyze(analyze_cmd(long_bag, model, tmp_path, "--output", out, "--debug-images", "--csv", table,
                                         "--summary", summary))
        assert result.returncode == 1
        one_line_error(result.stderr, "nearly full")
        document = json.loads(summary.read_text())
        processed = document["frames"]["processed"]
        assert 0 < processed < 600
        assert poses_in(out) == processed == frames_in_table(whole_rows(table))
    finally:
        subprocess.run(["umount", str(disk)])


# -- item 9: NaN model outputs ------------------------------------------------------------------

def test_nan_model_outputs_are_counted_errors(model, tmp_path):
    bag = write_camera_bag(tmp_path / "short", 5)
    summary = tmp_path / "summary.json"
    result = run_analyze(analyze_cmd(bag, nan_model(model, tmp_path / "nan.onnx"), tmp_path, "--summary", summary))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("not finite") == 1, "said once:\n" + result.stderr
    frames = json.loads(summary.read_text())["frames"]
    assert frames["processed"] == 0
    assert list(frames["skipped"].values()) == [5] and "model failed: model output" in list(frames["skipped"])[0]


# -- item 7: a cut MCAP file ----------------------------------------------------------------------

@pytest.mark.parametrize("keep_metadata", [True, False], ids=["with metadata.yaml", "recorder killed"])
def test_truncated_mcap_reads_the_intact_chunks_and_says_so(model, tmp_path_factory, tmp_path, keep_metadata):
    source = write_camera_bag(tmp_path_factory.mktemp("mcap") / "whole", 200, storage="mcap", grain=20)
    data = next(source.glob("*.mcap"))
    cut = tmp_path / "cut"
    cut.mkdir()
    if keep_metadata:
        (cut / "metadata.yaml").write_bytes((source / "metadata.yaml").read_bytes())
    whole = data.read_bytes()
    (cut / data.name).write_bytes(whole[:int(len(whole) * 0.9)])
    summary = tmp_path / "summary.json"
    result = run_analyze(analyze_cmd(cut, model, tmp_path, "--summary", summary, "--csv", tmp_path / "frames.csv"))
    assert result.returncode == 1, result.stderr  # data is missing: not a clean 0
    assert "Traceback" not in result.stderr
    assert "bag broke off: MCAP file ends mid-record at byte" in result.stdout, result.stdout
    frames = json.loads(summary.read_text())["frames"]
    assert 0.8 * 200 <= frames["processed"] < 200, frames  # 1 MiB chunks of ~60 KB frames: ~17 per chunk
    assert frames_in_table(whole_rows(tmp_path / "frames.csv")) == frames["processed"]


def test_truncated_mcap_poses_bag_summarises(model, tmp_path):
    """`bag summary` on a cut poses bag written as MCAP: the same salvage."""
    bag = write_camera_bag(tmp_path / "source", 20)
    out = tmp_path / "poses"
    assert run_analyze(analyze_cmd(bag, model, tmp_path, "--output", out, "--storage", "mcap",
                                   "--debug-images")).returncode == 0  # ~1 MiB a frame: a chunk each
    data = next(out.glob("*.mcap"))
    whole = data.read_bytes()
    data.write_bytes(whole[:int(len(whole) * 0.8)])
    result = run_analyze([sys.executable, "-m", "litepose_ros.cli", "bag", "summary", str(out), "--no-progress"])
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "bag broke off: MCAP file ends mid-record" in result.stdout, result.stdout + result.stderr
    read = int(re.search(r"frames: (\d+) read", result.stdout).group(1))
    assert 0.6 * 20 <= read < 20, result.stdout  # a chunk holds a frame or two


# -- item 14: options that cannot work are one line ---------------------------------------------------

@pytest.fixture(scope="module")
def short_bag(tmp_path_factory) -> Path:
    return write_camera_bag(tmp_path_factory.mktemp("short") / "bag", 4)


def test_impossible_options_are_one_line(model, short_bag, tmp_path, capsys):
    from bag_testing import run_cli

    (tmp_path / "a_dir").mkdir()
    (tmp_path / "a_file").write_text("x")
    same = tmp_path / "same.out"
    cases = [
        (["--summary", tmp_path / "a_dir"], "--summary {} is a directory".format(tmp_path / "a_dir")),
        (["--plots", tmp_path / "a_file"], "--plots {} is a file".format(tmp_path / "a_file")),
        (["--start", "nan"], "--start must be a finite number of seconds, got nan"),
        (["--end", "inf"], "--end must be a finite number of seconds, got inf"),
        (["--visibility-threshold", "nan"], "--visibility-threshold must be a finite number"),
        (["--csv", same, "--summary", same], "--csv and --summary name the same file"),
    ]
    for extra, message in cases:
        argv = ["bag", "analyze", str(short_bag), "--topic", TOPIC, "--model", str(model), "--no-progress"]
        rc, out, err = run_cli(capsys, argv + [str(e) for e in extra])
        assert rc == 1 and message in err, (extra, err)
        assert len(err.strip().splitlines()) == 1, err
    rc, out, err = run_cli(capsys, ["bag", "summary", str(short_bag), "--visibility-threshold", "inf"])
    assert rc == 1 and len(err.strip().splitlines()) == 1 and "finite" in err, err


def test_garbage_metadata_yaml_is_one_line(model, short_bag, tmp_path, capsys):
    import shutil

    from bag_testing import run_cli

    broken = tmp_path / "bag"
    shutil.copytree(str(short_bag), str(broken))
    (broken / "metadata.yaml").write_text("rosbag2_bagfile_information:\n  version: [unclosed\n\tgarbage: {{\n")
    rc, out, err = run_cli(capsys, ["bag", "analyze", str(broken), "--topic", TOPIC, "--model", str(model)])
    assert rc == 1 and "cannot read bag" in err and len(err.strip().splitlines()) == 1, err


def test_cli_in_process_leaves_the_callers_signal_handlers(capsys):
    """main() installs SIGTERM/SIGHUP handlers for the run and puts the caller's back."""
    from litepose_ros import cli

    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    assert cli.main(["bag"]) == 2
    capsys.readouterr()
    assert {sig: signal.getsignal(sig) for sig in before} == before
