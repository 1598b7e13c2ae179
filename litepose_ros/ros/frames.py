"""The node's frame hand-over and statistics, free of ROS so they are easy to test.

``LatestFrame`` is a one-slot mailbox between the subscription callback and the inference
worker: a new frame replaces one that was not taken yet (that one is counted as dropped), so
the worker always gets the freshest frame and latency cannot grow with a fast camera.
"""
import threading
import time
from collections import deque
from typing import Any, Dict, NamedTuple, Optional, Tuple

# Outcome of a frame, and the /diagnostics levels (DiagnosticStatus OK, WARN, ERROR).
OK, WARN, ERROR = 0, 1, 2
BAD = 3  # a frame skipped as unusable input (a WARN-level outcome)
SLOW_LATENCY_MS = 1000.0  # mean receive-to-publish latency above this is WARN
# why the middleware loses frames before the node sees them, and what fixes it (README "Camera QoS")
LOST_CAUSE = ("frames bigger than the socket buffers, with a best-effort subscription or publisher: raise "
              "net.core.rmem_max and use the DDS profile in share/litepose_ros/config/dds/, or a reliable camera")


class Frame(NamedTuple):
    msg: Any  # sensor_msgs Image or CompressedImage, still undecoded
    received: float  # time.monotonic() when the callback got it


class LatestFrame(object):
    """Holds at most one pending frame; thread-safe."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame = None  # type: Optional[Frame]
        self._closed = False
        self.received = 0
        self.dropped = 0

    def put(self, msg: Any) -> None:
        with self._cond:
            self.received += 1
            if self._frame is not None:
                self.dropped += 1
            self._frame = Frame(msg, time.monotonic())
            self._cond.notify()

    def take(self, timeout: Optional[float] = None) -> Optional[Frame]:
        """The pending frame (removing it), or None on timeout or after ``close``."""
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout)
            frame, self._frame = self._frame, None
            return None if self._closed else frame

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def counts(self) -> Tuple[int, int]:
        """(received, dropped) so far."""
        with self._cond:
            return self.received, self.dropped


class StageStats(object):
    """Counters and per-stage latencies over a sliding window of recent frames; thread-safe."""

    STAGES = ("preprocess_ms", "inference_ms", "decode_ms", "track_ms", "latency_ms")

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._lock = threading.Lock()
        self._inputs = deque()  # type: deque
        self._outputs = deque()  # type: deque  # of (time, stage times)
        self._outcomes = deque()  # type: deque  # of (time, OK / BAD / ERROR) per frame the worker took
        self.processed = 0
        self.bad_frames = 0
        self.errors = 0
        self.last_problem = ""
        self._lost = deque()  # type: deque  # of (time, samples the middleware reported lost)
        self.lost_samples = 0

    def input(self, now: Optional[float] = None) -> None:
        with self._lock:
            self._inputs.append(time.monotonic() if now is None else now)

    def output(self, stages: Dict[str, float], now: Optional[float] = None) -> None:
        with self._lock:
            self.processed += 1
            now = time.monotonic() if now is None else now
            self._outputs.append((now, dict(stages)))
            self._outcomes.append((now, OK))

    def bad_frame(self, reason: str, now: Optional[float] = None) -> None:
        with self._lock:
            self.bad_frames += 1
            self.last_problem = reason
            self._outcomes.append((time.monotonic() if now is None else now, BAD))

    def error(self, reason: str, now: Optional[float] = None) -> None:
        with self._lock:
            self.errors += 1
            self.last_problem = reason
            self._outcomes.append((time.monotonic() if now is None else now, ERROR))

    def lost(self, count: int, now: Optional[float] = None) -> None:
        """``count`` samples the middleware lost before they reached the subscription."""
        with self._lock:
            self.lost_samples += count
            self._lost.append((time.monotonic() if now is None else now, count))

    def snapshot(self, now: Optional[float] = None) -> Dict[str, float]:
        """Rates (Hz) and mean stage times (ms) over the window, plus totals."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._trim(now)
            result = {
                "input_rate_hz": _rate([t for t in self._inputs], now, self.window_s),
                "output_rate_hz": _rate([t for t, _ in self._outputs], now, self.window_s),
                "processed": float(self.processed),
                "bad_frames": float(self.bad_frames),
                "errors": float(self.errors),
                "window_inputs": float(len(self._inputs)),
                "lost_samples": float(self.lost_samples),
                "window_lost": float(sum(n for _, n in self._lost)),
            }
            for outcome, key in ((OK, "window_ok"), (BAD, "window_bad"), (ERROR, "window_errors")):
                result[key] = float(sum(1 for _, o in self._outcomes if o == outcome))
            for stage in self.STAGES:
                values = [s[stage] for _, s in self._outputs if stage in s]
                result[stage] = sum(values) / len(values) if values else 0.0
                result["max_" + stage] = max(values) if values else 0.0
            return result

    def _trim(self, now: float) -> None:
        while self._inputs and self._inputs[0] < now - self.window_s:
            self._inputs.popleft()
        while self._outputs and self._outputs[0][0] < now - self.window_s:
            self._outputs.popleft()
        while self._outcomes and self._outcomes[0][0] < now - self.window_s:
            self._outcomes.popleft()
        while self._lost and self._lost[0][0] < now - self.window_s:
            self._lost.popleft()


def _rate(times: Any, now: float, window_s: float) -> float:
    """Events per second over the window (over the time actually covered when it is short)."""
    if len(times) < 2:
        return 0.0
    span = max(now - times[0], times[-1] - times[0])
    return (len(times) - 1) / span if span > 0 else 0.0


def health(snap: Dict[str, float], window_s: float, problem: str, topic: str) -> Tuple[int, str]:
    """(level, message) for /diagnostics, judged only on the frames of the recent window.

    ERROR: inference failed on a frame (a backend error), or every frame the worker took
    failed. WARN: no input, some bad frames (unusable images), or mean latency over
    SLOW_LATENCY_MS, or frames lost by the middleware (DDS). OK otherwise. Old problems age out
    with the window.
    """
    ok, bad, errors = (int(snap[k]) for k in ("window_ok", "window_bad", "window_errors"))
    span = "in the last {:g} s".format(window_s)
    if errors:
        return ERROR, "inference failed on {} of {} frames {}: {}".format(errors, ok + bad + errors, span, problem)
    if bad and not ok:
        return ERROR, "all {} frames {} were unusable: {}".format(bad, span, problem)
    if not snap["window_inputs"]:
        return WARN, "no input images on {} {}".format(topic, span)
    if bad:
        return WARN, "{} of {} frames {} were unusable: {}".format(bad, ok + bad, span, problem)
    lost = int(snap.get("window_lost", 0))
    if lost:
        return WARN, "{} frames lost by DDS before reaching the node {} (received {}): {}".format(
            lost, span, int(snap["window_inputs"]), LOST_CAUSE)
    if snap["latency_ms"] > SLOW_LATENCY_MS:
        return WARN, "slow: mean latency {:.0f} ms {} (over {:.0f} ms)".format(snap["latency_ms"], span,
                                                                               SLOW_LATENCY_MS)
    return OK, "running"
