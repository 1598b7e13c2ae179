"""The motion filter: each track's centre under a constant-velocity Kalman filter per axis.

Both axes share one covariance [[p00, p01], [p01, p11]] (the same noise in x and y), so the
state of T tracks is five arrays: centre [T, 2], velocity [T, 2], p00, p01, p11 [T]. Noise is in
units of the person's size (``size`` px), so the filter is resolution-free. Functions update the
arrays in place; rows select the tracks a detection measured.
"""
from typing import Tuple

import numpy as np

ACCEL_NOISE = 0.5  # white-noise acceleration density: size / s^1.5
INITIAL_SPEED = 2.5  # speed uncertainty of a new track: size / s (a run across the view)
CENTRE_NOISE = 0.04  # one detection's centre: size
NOISE_PX = 6.0  # a detector's keypoint noise at any size, pixels


def initial_covariance(size: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p00, p01, p11 of new tracks of these sizes: the centre as measured, any speed up to a run."""
    return (CENTRE_NOISE * size) ** 2, np.zeros(len(size)), (INITIAL_SPEED * size) ** 2


def predict(centre: np.ndarray, velocity: np.ndarray, p00: np.ndarray, p01: np.ndarray, p11: np.ndarray,
            size: np.ndarray, dt: float) -> None:
    """Move every track ``dt`` seconds along its velocity; the uncertainty grows."""
    q = (ACCEL_NOISE * size) ** 2
    centre += velocity * dt
    p00 += dt * (2.0 * p01 + dt * p11) + q * (dt ** 3 / 3.0)
    p01 += dt * p11 + q * (dt ** 2 / 2.0)
    p11 += q * dt


def correct(centre: np.ndarray, velocity: np.ndarray, p00: np.ndarray, p01: np.ndarray, p11: np.ndarray,
            rows: np.ndarray, measured: np.ndarray, size: np.ndarray, joints: np.ndarray) -> None:
    """Tracks ``rows`` (distinct) measured at centres [M, 2] from ``joints`` [M] shared joints
    each: a centre from fewer than 3 joints is noisier."""
    r = (CENTRE_NOISE * size) ** 2 * 3.0 / np.minimum(np.maximum(joints, 1), 3) + NOISE_PX ** 2
    c00, c01, c11 = p00[rows], p01[rows], p11[rows]
    k0, k1 = c00 / (c00 + r), c01 / (c00 + r)
    innovation = measured - centre[rows]
    centre[rows] += k0[:, None] * innovation
    velocity[rows] += k1[:, None] * innovation
    p11[rows] = c11 - k1 * c01
    p01[rows] = c01 * (1.0 - k0)
    p00[rows] = c00 * (1.0 - k0)
