"""Header stamps -> tracker time: small reordering tolerated, a real jump back resets."""
from typing import Optional, Tuple

STALL_FRAMES = 2  # frames in a row whose stamps do not advance before frame counting takes over
DEFAULT_PERIOD_S = 1.0 / 30.0  # frame period assumed before any advancing stamps were seen


class StampClock(object):
    """Header stamps -> tracker seconds that never go back.

    A stamp up to ``jump_back_s`` older than the newest one seen is a frame out of order: time
    stays. Further back is a new stream (bag looped, camera restarted): ``reset`` is returned.
    When stamps stop advancing for ``STALL_FRAMES`` frames in a row, each further frame counts
    as one recent frame period, so tracks still end and the number of tracks stays bounded."""

    def __init__(self, jump_back_s: float) -> None:
        self.jump_back_s = jump_back_s
        self.newest_ns: Optional[int] = None
        self.time_s = 0.0
        self.period_s = DEFAULT_PERIOD_S
        self.stalled = 0  # frames in a row whose stamp did not advance

    def advance(self, stamp_ns: int) -> Tuple[float, Optional[str]]:
        """Tracker seconds for this stamp, and the reason to reset (None: no reset)."""
        if self.newest_ns is None:
            self.newest_ns = stamp_ns
            return self.time_s, None
        step_ns = stamp_ns - self.newest_ns
        if step_ns > 0:
            step_s = step_ns / 1e9
            self.period_s += 0.2 * (min(max(step_s, 1e-3), 1.0) - self.period_s)
            self.time_s += step_s
            self.newest_ns, self.stalled = stamp_ns, 0
            return self.time_s, None
        if -step_ns > self.jump_back_s * 1e9:
            return self.time_s, "header stamp went back {:.3f} s (bag looped or camera restarted)".format(
                -step_ns / 1e9)
        self.stalled += 1
        if self.stalled >= STALL_FRAMES:
            self.time_s += self.period_s
        return self.time_s, None
