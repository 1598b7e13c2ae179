"""Keypoint smoothing of one track: the One Euro filter (Casiez et al., CHI 2012)."""
import math

import numpy as np


class OneEuroFilter(object):
    """One Euro filter on every keypoint coordinate of one track; joints not found in a frame
    keep their state until they are found again."""

    def __init__(self, num_joints: int, min_cutoff_hz: float, beta: float) -> None:
        self.min_cutoff, self.beta = min_cutoff_hz, beta
        self.value = np.zeros((num_joints, 2))
        self.speed = np.zeros((num_joints, 2))
        self.known = np.zeros(num_joints, bool)
        self.time_s = 0.0

    @staticmethod
    def _alpha(dt: float, cutoff: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff * dt))

    def __call__(self, keypoints: np.ndarray, time_s: float) -> np.ndarray:
        """[J, 3] keypoints seen at ``time_s`` -> the same with smoothed x, y."""
        found = keypoints[:, 2] > 0
        xy = keypoints[:, :2].astype(np.float64)
        dt = time_s - self.time_s
        old = found & self.known
        if dt > 0.0 and old.any():
            speed = (xy[old] - self.value[old]) / dt
            speed = self.speed[old] + self._alpha(dt, np.ones(1)) * (speed - self.speed[old])
            alpha = self._alpha(dt, self.min_cutoff + self.beta * np.abs(speed))
            xy[old] = self.value[old] + alpha * (xy[old] - self.value[old])
            self.speed[old] = speed
        self.speed[found & ~self.known] = 0.0
        self.value[found] = xy[found]
        self.known |= found
        self.time_s = time_s
        out = keypoints.copy()
        out[found, :2] = xy[found]
        return out
