"""The /diagnostics level rule (litepose_ros.ros.frames.health) on the recent window only."""
from litepose_ros.ros.frames import ERROR, OK, WARN, StageStats, health

STAGES = {"preprocess_ms": 1.0, "inference_ms": 10.0, "decode_ms": 2.0, "latency_ms": 20.0}


def _level(stats, now):
    return health(stats.snapshot(now=now), stats.window_s, stats.last_problem, "/image_raw")


def _frames(stats, start, outcomes, latency_ms=20.0):
    for i, outcome in enumerate(outcomes):
        t = start + 0.1 * i
        stats.input(now=t)
        if outcome == "ok":
            stats.output(dict(STAGES, latency_ms=latency_ms), now=t)
        elif outcome == "bad":
            stats.bad_frame("truncated image", now=t)
        else:
            stats.error("RuntimeError('onnxruntime failed')", now=t)


def test_levels_over_the_window():
    stats = StageStats(window_s=5.0)
    assert _level(stats, 100.0) == (WARN, "no input images on /image_raw in the last 5 s")
    _frames(stats, 100.0, ["ok"] * 10)
    assert _level(stats, 101.0) == (OK, "running")
    _frames(stats, 101.0, ["bad"])
    level, message = _level(stats, 101.5)
    assert level == WARN and message == "1 of 11 frames in the last 5 s were unusable: truncated image"
    # the good frames age out while only bad ones come: ERROR
    _frames(stats, 102.0, ["bad"] * 60)
    level, message = _level(stats, 108.0)
    assert level == ERROR and message.startswith("all ") and "unusable" in message
    # good frames again: WARN while the bad ones are in the window, then OK
    _frames(stats, 108.0, ["ok"] * 20)
    assert _level(stats, 110.0)[0] == WARN
    _frames(stats, 110.0, ["ok"] * 60)
    assert _level(stats, 116.0) == (OK, "running")


def test_backend_errors_are_error_and_slowness_warns():
    stats = StageStats(window_s=5.0)
    _frames(stats, 100.0, ["ok"] * 9 + ["error"])
    level, message = _level(stats, 101.0)
    assert level == ERROR and message == ("inference failed on 1 of 10 frames in the last 5 s: "
                                          "RuntimeError('onnxruntime failed')")
    assert _level(stats, 107.0)[0] == WARN  # the error aged out; now there is no input
    _frames(stats, 107.0, ["ok"] * 10, latency_ms=1500.0)
    level, message = _level(stats, 108.0)
    assert level == WARN and message.startswith("slow: mean latency 1500 ms")


def test_frames_lost_by_dds_warn_with_cause_and_fix_while_in_the_window():
    stats = StageStats(window_s=5.0)
    _frames(stats, 100.0, ["ok"] * 10)
    stats.lost(3, now=100.5)
    stats.lost(2, now=101.0)
    level, message = _level(stats, 101.5)
    assert level == WARN
    assert message.startswith("5 frames lost by DDS before reaching the node in the last 5 s (received 10): ")
    assert "net.core.rmem_max" in message and "share/litepose_ros/config/dds/" in message
    assert stats.snapshot(now=101.5)["lost_samples"] == 5
    _frames(stats, 106.5, ["ok"] * 10)  # the losses aged out; the total stays
    assert _level(stats, 107.5) == (OK, "running")
    assert stats.snapshot(now=107.5)["lost_samples"] == 5
