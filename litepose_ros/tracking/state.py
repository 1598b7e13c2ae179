"""Every track's state in arrays, a row per track, so that a frame costs the same few numpy
calls for 1 or 30 people.

A track is tentative until it has been detected often enough, then confirmed (it has an id,
never reused). Each frame it is either matched (took a detection) or coasting (moved by its
motion filter alone) until it ends. What it holds:

- motion: the centre under the constant-velocity Kalman filter of ``motion.py``;
- shape: ``offset`` [T, J, 2] of each joint from the centre in units of ``unit`` (px), averaged
  over the detections, and ``known`` where a joint was ever seen. ``size`` (px) is the extent of
  the known shape: what tolerances scale with, so it does not shrink when the lower body is not
  detected;
- looseness: how much more loosely this person's detections fit the shape than the
  similarity's tolerances assume (learned; above 1 it widens them for this track).
"""
from typing import Callable, List, Optional

import numpy as np

from . import motion
from .smoothing import OneEuroFilter

TRACK_ID_NONE = -1  # published for people whose track has no id (yet)
TENTATIVE, CONFIRMED = 0, 1  # ``status`` of a track
MIN_SIZE_PX = 32.0  # people with one or two keypoints have a (near) zero extent
SHAPE_RATE = 0.35  # share of a new detection in a track's averaged shape
SIZE_RATE = 0.2  # share of a new detection in a track's size
LOOSENESS_RATE = 0.1  # share of a new detection in a track's looseness


class TrackTable(object):
    """The tracks of one camera, row by row."""

    _ARRAYS = ("status", "centre", "velocity", "p00", "p01", "p11", "offset", "known", "unit", "size", "looseness",
               "track_id", "last_hit_s", "shadow_s", "matched")
    _CONTINUED = ("centre", "velocity", "p00", "p01", "p11", "offset", "known", "unit", "size", "looseness",
                  "last_hit_s", "matched")  # what a merge carries over from one track to another

    def __init__(self, num_joints: int) -> None:
        self.status = np.zeros(0, np.int8)  # TENTATIVE or CONFIRMED
        self.centre, self.velocity = np.zeros((0, 2)), np.zeros((0, 2))
        self.p00, self.p01, self.p11 = np.zeros(0), np.zeros(0), np.zeros(0)
        self.offset, self.known = np.zeros((0, num_joints, 2)), np.zeros((0, num_joints), bool)
        self.unit, self.size = np.zeros(0), np.zeros(0)
        # how much noisier this person's keypoints are than the similarity's tolerances assume (learned)
        self.looseness = np.zeros(0)
        self.track_id = np.zeros(0, np.int64)  # TRACK_ID_NONE until confirmed: no ids spent on noise
        self.last_hit_s, self.shadow_s = np.zeros(0), np.zeros(0)
        self.matched = np.zeros(0, bool)  # took a detection this frame
        self.hits: List[List[float]] = []  # stamps of detections while tentative
        self.smoothers: List[Optional[OneEuroFilter]] = []
        self.time_s = 0.0  # every track is predicted to the current frame

    def __len__(self) -> int:
        return len(self.track_id)

    @property
    def confirmed(self) -> np.ndarray:
        return self.status == CONFIRMED

    @property
    def coasting(self) -> np.ndarray:
        """Confirmed tracks without a detection this frame (so far)."""
        return self.confirmed & ~self.matched

    def confirm(self, row: int, track_id: int) -> None:
        self.status[row], self.track_id[row] = CONFIRMED, track_id
        self.hits[row] = []

    def predict(self, time_s: float) -> None:
        """Every track to ``time_s``; none has a detection in the new frame yet."""
        dt, self.time_s = time_s - self.time_s, time_s
        self.matched[:] = False
        if dt <= 0.0 or not len(self):
            return
        motion.predict(self.centre, self.velocity, self.p00, self.p01, self.p11, self.size, dt)

    def keep(self, mask: np.ndarray) -> None:
        for name in self._ARRAYS:
            setattr(self, name, getattr(self, name)[mask])
        rows = np.flatnonzero(mask).tolist()
        self.hits = [self.hits[i] for i in rows]
        self.smoothers = [self.smoothers[i] for i in rows]

    def add(self, keypoints: np.ndarray, smoother: Optional[Callable[[], OneEuroFilter]]) -> np.ndarray:
        """New tentative tracks for these detections [N, J, 3]; returns their rows."""
        count = len(keypoints)
        found = keypoints[:, :, 2] > 0
        xy = keypoints[:, :, :2].astype(np.float64)
        centre = (xy * found[:, :, None]).sum(axis=1) / np.maximum(found.sum(axis=1), 1)[:, None]
        unit = np.maximum(extent(xy, found), MIN_SIZE_PX)
        offset = np.where(found[:, :, None], (xy - centre[:, None]) / unit[:, None, None], 0.0)
        p00, p01, p11 = motion.initial_covariance(unit)
        new = dict(status=np.full(count, TENTATIVE, np.int8), centre=centre, velocity=np.zeros((count, 2)),
                   p00=p00, p01=p01, p11=p11, offset=offset, known=found, unit=unit, size=unit,
                   looseness=np.ones(count),
                   track_id=np.full(count, TRACK_ID_NONE, np.int64),
                   last_hit_s=np.full(count, self.time_s), shadow_s=np.zeros(count), matched=np.ones(count, bool))
        rows = np.arange(len(self), len(self) + count)
        for name in self._ARRAYS:
            setattr(self, name, np.concatenate([getattr(self, name), new[name]]))
        self.hits += [[self.time_s] for _ in range(count)]
        self.smoothers += [smoother() if smoother else None for _ in range(count)]
        return rows

    def update(self, rows: np.ndarray, keypoints: np.ndarray, centres: np.ndarray, counts: np.ndarray,
               looseness: np.ndarray) -> None:
        """Detections [M, J, 3] with their centres [M, 2] measured against the (distinct) track
        ``rows`` from ``counts`` shared joints each, and how loosely their joints fit the shape
        ``looseness`` [M] (NaN: not measured)."""
        learned = self.looseness[rows]
        seen = np.where(np.isnan(looseness), learned, looseness)  # not measured: unchanged
        self.looseness[rows] = learned + LOOSENESS_RATE * (seen - learned)
        unit = self.unit[rows]
        motion.correct(self.centre, self.velocity, self.p00, self.p01, self.p11, rows, centres, self.size[rows],
                       counts)
        found = keypoints[:, :, 2] > 0
        xy = keypoints[:, :, :2].astype(np.float64)
        known = self.known[rows]
        shared = found & known
        # size: how far the shared joints spread around their centre, against the shape's spread
        seen = (xy - self.centre[rows][:, None]) / unit[:, None, None]
        spread_now, spread_shape = spread(np.concatenate([seen, self.offset[rows]]),
                                          np.concatenate([shared, shared])).reshape(2, -1)
        enough = (shared.sum(axis=1) >= 3) & (spread_shape > 0.05) & (spread_now > 0.0)
        ratio = np.where(enough, spread_now / np.maximum(spread_shape, 1e-9), 1.0)
        unit = unit * np.exp(SIZE_RATE * np.log(np.clip(ratio, 0.5, 2.0)))
        seen = (xy - self.centre[rows][:, None]) / unit[:, None, None]
        offset = np.where(shared[:, :, None], self.offset[rows] + SHAPE_RATE * (seen - self.offset[rows]),
                          np.where(found[:, :, None], seen, self.offset[rows]))
        self.offset[rows] = offset
        self.known[rows] = known | found
        self.unit[rows] = unit
        self.size[rows] = np.maximum(unit * extent(offset, self.known[rows]), MIN_SIZE_PX)
        self.last_hit_s[rows] = self.time_s
        self.matched[rows] = True
        for row in rows[self.status[rows] == TENTATIVE].tolist():
            self.hits[row].append(self.time_s)

    def copy_state(self, source: int, target: int) -> None:
        """Track ``target`` continues with ``source``'s motion and shape (a merge)."""
        for name in self._CONTINUED:
            getattr(self, name)[target] = getattr(self, name)[source]
        self.shadow_s[target] = 0.0

    def joints(self, rows: np.ndarray) -> np.ndarray:
        """[R, J, 2] where the shape of tracks ``rows`` places their joints now."""
        return self.centre[rows][:, None] + self.offset[rows] * self.unit[rows][:, None, None]


def extent(xy: np.ndarray, found: np.ndarray) -> np.ndarray:
    """[N, J, 2] points, [N, J] found -> the larger side of each box around the found points."""
    lower = np.where(found[:, :, None], xy, np.inf).min(axis=1)
    upper = np.where(found[:, :, None], xy, -np.inf).max(axis=1)
    sides = np.where(found.any(axis=1)[:, None], upper - lower, 0.0)
    return sides.max(axis=1)


def spread(xy: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """RMS distance of the masked points of each row from their mean."""
    count = np.maximum(mask.sum(axis=1), 1)
    mean = (xy * mask[:, :, None]).sum(axis=1) / count[:, None]
    return np.sqrt((((xy - mean[:, None]) ** 2).sum(axis=2) * mask).sum(axis=1) / count)
