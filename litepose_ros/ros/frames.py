"""The node's frame hand-over and statistics, free of ROS so they are easy to test.

``LatestFrame`` is a one-slot mailbox between the subscription callback and the inference
worker: a new frame replaces one that was not taken yet (that one is counted as dropped), so
the worker always gets the freshest frame and latency cannot grow with a fast camera.
"""
import threading
import time
from collections import deque
from typing import Any, Dict, NamedTuple, Optional, Tuple


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

    STAGES = ("preprocess_ms", "inference_ms", "decode_ms", "latency_ms")

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._lock = threading.Lock()
        self._inputs = deque()  # type: deque
        self._outputs = deque()  # type: deque  # of (time, stage times)
        self.processed = 0
        self.bad_frames = 0
        self.errors = 0
        self.last_problem = ""

    def input(self, now: Optional[float] = None) -> None:
        with self._lock:
            self._inputs.append(time.monotonic() if now is None else now)

    def output(self, stages: Dict[str, float], now: Optional[float] = None) -> None:
        with self._lock:
            self.processed += 1
            self._outputs.append((time.monotonic() if now is None else now, dict(stages)))

    def bad_frame(self, reason: str) -> None:
        with self._lock:
            self.bad_frames += 1
            self.last_problem = reason

    def error(self, reason: str) -> None:
        with self._lock:
            self.errors += 1
            self.last_problem = reason

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
            }
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


def _rate(times: Any, now: float, window_s: float) -> float:
    """Events per second over the window (over the time actually covered when it is short)."""
    if len(times) < 2:
        return 0.0
    span = max(now - times[0], times[-1] - times[0])
    return (len(times) - 1) / span if span > 0 else 0.0
