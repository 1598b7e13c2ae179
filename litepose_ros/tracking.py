"""Person tracks across frames: stable ids, optional keypoint smoothing. Pure numpy/scipy.

Per frame (``PersonTracker.update``): every track is predicted to the frame's header stamp by
a constant-velocity Kalman filter on its keypoints and box; detections are assigned to tracks
by Hungarian matching on a similarity that combines OKS (the dataset's sigmas, widened by the
prediction's uncertainty) with box overlap and centre distance; confirmed tracks choose first,
so spurious detections cannot steal a person from a tentative track. The life cycle runs in
time, not frames, so dropped frames and camera rates from 5 to 30 Hz behave alike. The node
and ``litepose bag analyze`` both call this class (via ``node_settings.tracker_from_settings``).
"""
import math
from typing import Callable, List, NamedTuple, Optional, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from .people import People

TRACK_ID_NONE = -1
# People with one or two keypoints have a (near) zero box; OKS and distance need a size.
MIN_SCALE_PX = 32.0
# Kalman noise, as fractions of the person's size (sqrt of box area), so it is resolution-free.
ACCEL_NOISE = 3.0  # white-noise acceleration density: scale / s^1.5
MEASUREMENT_NOISE = 0.04  # one keypoint or box edge: scale
INITIAL_SPEED = 1.0  # velocity uncertainty of a new coordinate: scale / s
# Weights of the similarity terms: keypoints decide between overlapping people.
OKS_WEIGHT = 0.6
CENTRE_SIGMA = 0.5  # centre distance similarity width: scale


class TrackerConfig(NamedTuple):
    confirm_hits: int = 3  # a new track is confirmed after this many detections ...
    confirm_window_s: float = 0.5  # ... within this time
    coast_s: float = 1.5  # a confirmed track without detections ends after this time
    min_similarity: float = 0.5  # weaker pairings (0..1) are never matched
    publish_unconfirmed: bool = True  # people of unconfirmed tracks: track_id -1, or dropped
    smoothing: bool = False  # One Euro filter on the published keypoints
    smoothing_min_cutoff_hz: float = 1.0  # lower: smoother when still, more lag
    smoothing_beta: float = 0.01  # higher: less lag when moving fast (per pixel/s)

    def problem(self) -> Optional[str]:
        """Why this configuration cannot work; None if it can."""
        if not self.confirm_hits >= 1:
            return "track_confirm_hits must be >= 1"
        if not self.confirm_window_s >= 0.0 or not self.coast_s >= 0.0:
            return "track_confirm_window_s and track_coast_s must be >= 0"
        if not 0.0 <= self.min_similarity < 1.0:
            return "track_min_similarity must be within [0, 1)"
        if not self.smoothing_min_cutoff_hz > 0.0 or not self.smoothing_beta >= 0.0:
            return "smoothing_min_cutoff_hz must be > 0 and smoothing_beta >= 0"
        return None


class TrackedPeople(NamedTuple):
    people: People  # the published people, in input order (smoothed if enabled)
    track_ids: np.ndarray  # int32 [N]; TRACK_ID_NONE for unconfirmed
    reset_reason: Optional[str]  # set when this frame reset the tracker (log it)


class _OneEuro(object):
    """One Euro filter (Casiez et al., CHI 2012) on every keypoint coordinate of one track."""

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


class _Tracks(object):
    """Every track's state in arrays, a row per track, so that a frame costs the same few numpy
    calls for 1 or 30 people: independent 1-D constant-velocity Kalman filters per coordinate
    (keypoint x/y, then the 4 box edges; covariance [[p00, p01], [p01, p11]]), and the life
    cycle. Coordinates never measured are not ``known`` and carry no information."""

    _ARRAYS = ("pos", "vel", "p00", "p01", "p11", "known", "track_id", "last_hit_s", "scale")

    def __init__(self, size: int, time_s: float) -> None:
        self.size = size
        self.pos, self.vel, self.p00, self.p01, self.p11 = (np.zeros((0, size)) for _ in range(5))
        self.known = np.zeros((0, size), bool)
        self.track_id = np.zeros(0, np.int64)  # TRACK_ID_NONE until confirmed: no ids spent on noise
        self.last_hit_s = np.zeros(0)
        self.scale = np.zeros(0)  # person size: sqrt of the box area, at least MIN_SCALE_PX
        self.hits: List[List[float]] = []  # stamps of detections while tentative
        self.smoothers: List[Optional[_OneEuro]] = []
        self.time_s = time_s  # every track is predicted to the current frame

    def __len__(self) -> int:
        return len(self.track_id)

    def predict(self, time_s: float) -> None:
        dt, self.time_s = time_s - self.time_s, time_s
        if dt <= 0.0 or not len(self):
            return
        q = ((ACCEL_NOISE * self.scale) ** 2)[:, None]
        self.pos += self.vel * dt
        self.p00 += dt * (2.0 * self.p01 + dt * self.p11) + q * (dt ** 3 / 3.0)
        self.p01 += dt * self.p11 + q * (dt ** 2 / 2.0)
        self.p11 += q * dt
        self.scale = _box_scales(self.pos[:, -4:])

    def keep(self, mask: np.ndarray) -> None:
        for name in self._ARRAYS:
            setattr(self, name, getattr(self, name)[mask])
        rows = np.flatnonzero(mask).tolist()
        self.hits = [self.hits[i] for i in rows]
        self.smoothers = [self.smoothers[i] for i in rows]

    def add(self, boxes: np.ndarray, smoother: Optional[Callable[[], _OneEuro]]) -> np.ndarray:
        """New tentative tracks for detections with these boxes; returns their rows."""
        count = len(boxes)
        rows = np.arange(len(self), len(self) + count)
        for name in ("pos", "vel", "p00", "p01", "p11"):
            setattr(self, name, np.concatenate([getattr(self, name), np.zeros((count, self.size))]))
        self.known = np.concatenate([self.known, np.zeros((count, self.size), bool)])
        self.track_id = np.concatenate([self.track_id, np.full(count, TRACK_ID_NONE, np.int64)])
        self.last_hit_s = np.concatenate([self.last_hit_s, np.full(count, self.time_s)])
        self.scale = np.concatenate([self.scale, _box_scales(boxes)])  # sizes the first update's noise
        self.hits += [[] for _ in range(count)]
        self.smoothers += [smoother() if smoother else None for _ in range(count)]
        return rows

    def update(self, rows: np.ndarray, z: np.ndarray, measured: np.ndarray) -> None:
        """Kalman update of the tracks ``rows`` (distinct) with z [M, size] where ``measured``."""
        scale = self.scale[rows][:, None]
        r = (MEASUREMENT_NOISE * scale) ** 2
        known = self.known[rows]
        new, old = measured & ~known, measured & known
        # a coordinate's first measurement: position known, speed not
        pos = np.where(new, z, self.pos[rows])
        vel = np.where(new, 0.0, self.vel[rows])
        p00 = np.where(new, r, self.p00[rows])
        p01 = np.where(new, 0.0, self.p01[rows])
        p11 = np.where(new, (INITIAL_SPEED * scale) ** 2, self.p11[rows])
        k0 = np.where(old, p00 / (p00 + r), 0.0)
        k1 = np.where(old, p01 / (p00 + r), 0.0)
        innovation = np.where(old, z - pos, 0.0)
        self.pos[rows] = pos + k0 * innovation
        self.vel[rows] = vel + k1 * innovation
        self.p11[rows] = p11 - k1 * p01
        self.p01[rows] = p01 * (1.0 - k0)
        self.p00[rows] = p00 * (1.0 - k0)
        self.known[rows] = known | measured
        self.last_hit_s[rows] = self.time_s
        for row in rows[self.track_id[rows] == TRACK_ID_NONE].tolist():
            self.hits[row].append(self.time_s)
        self.scale[rows] = _box_scales(self.pos[rows, -4:])


def _box_scales(boxes: np.ndarray) -> np.ndarray:
    """Person sizes for the noise and OKS: sqrt of each box's area, at least MIN_SCALE_PX."""
    area = np.maximum(boxes[:, 2] - boxes[:, 0], 0.0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0.0)
    return np.maximum(np.sqrt(area), MIN_SCALE_PX)


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[T, 4] x [D, 4] boxes (x_min, y_min, x_max, y_max) -> IoU [T, D]."""
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.maximum(high - low, 0.0), axis=2)
    area_a = np.prod(np.maximum(a[:, 2:] - a[:, :2], 0.0), axis=1)
    area_b = np.prod(np.maximum(b[:, 2:] - b[:, :2], 0.0), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


class PersonTracker(object):
    """Assigns track ids to the people of successive frames of one camera."""

    def __init__(self, sigmas: Sequence[float], config: Optional[TrackerConfig] = None) -> None:
        self.config = config or TrackerConfig()
        problem = self.config.problem()
        if problem:
            raise ValueError(problem)
        self.sigmas = np.asarray(sigmas, np.float64)
        # COCO OKS: exp(-d^2 / (2 s^2 (2 sigma)^2)), s^2 = area
        self._kappa2 = (2.0 * self.sigmas) ** 2
        self.tracks = _Tracks(2 * len(self.sigmas) + 4, 0.0)
        self.next_id = 0
        self.resets = 0
        self._last_stamp_ns: Optional[int] = None
        self._origin_ns = 0
        self._reset_reason: Optional[str] = None

    # -- state ---------------------------------------------------------------------------

    def request_reset(self, reason: str = "reset requested") -> None:
        """Forget all tracks before the next frame (safe to call from another thread)."""
        self._reset_reason = reason

    def active_tracks(self) -> int:
        """Confirmed tracks not yet ended (visible or coasting)."""
        return int(np.count_nonzero(self.tracks.track_id != TRACK_ID_NONE))

    def _reset(self) -> None:
        self.tracks = _Tracks(self.tracks.size, 0.0)  # next_id keeps counting: ids are never reused
        self._last_stamp_ns = None
        self.resets += 1

    # -- per frame -----------------------------------------------------------------------

    def update(self, people: People, stamp_ns: int) -> TrackedPeople:
        if people.num_joints != len(self.sigmas):
            raise ValueError("people have {} keypoints, the tracker's dataset {}".format(
                people.num_joints, len(self.sigmas)))
        reason, self._reset_reason = self._reset_reason, None
        if reason is None and self._last_stamp_ns is not None and stamp_ns < self._last_stamp_ns:
            reason = "header stamp went back {:.3f} s (bag looped or camera restarted)".format(
                (self._last_stamp_ns - stamp_ns) / 1e9)
        if reason is not None:
            self._reset()
        if self._last_stamp_ns is None:
            self._origin_ns = stamp_ns
        self._last_stamp_ns = stamp_ns
        time_s = (stamp_ns - self._origin_ns) / 1e9  # float seconds near 0 keep full precision

        self.tracks.predict(time_s)
        self._end_lost(time_s)
        boxes = people.boxes().astype(np.float64)
        rows = self._associate(people, boxes)
        unmatched = np.flatnonzero(rows < 0)
        if len(unmatched):
            rows[unmatched] = self.tracks.add(boxes[unmatched], self._smoother())
        if len(people):
            found = people.keypoints[:, :, 2] > 0
            z = np.concatenate([people.keypoints[:, :, :2].reshape(len(people), -1), boxes], axis=1)
            measured = np.concatenate([np.repeat(found, 2, axis=1), np.ones((len(people), 4), bool)], axis=1)
            self.tracks.update(rows, z, measured)
        self._confirm(time_s)
        return self._publish(people, rows, time_s, reason)

    def _smoother(self) -> Optional[Callable[[], _OneEuro]]:
        if not self.config.smoothing:
            return None
        return lambda: _OneEuro(len(self.sigmas), self.config.smoothing_min_cutoff_hz, self.config.smoothing_beta)

    def _end_lost(self, time_s: float) -> None:
        tracks = self.tracks
        limit = np.where(tracks.track_id != TRACK_ID_NONE, self.config.coast_s, self.config.confirm_window_s)
        alive = time_s - tracks.last_hit_s <= limit
        if not alive.all():
            tracks.keep(alive)

    def _confirm(self, time_s: float) -> None:
        tracks = self.tracks
        for row in np.flatnonzero(tracks.track_id == TRACK_ID_NONE).tolist():
            tracks.hits[row] = [h for h in tracks.hits[row] if time_s - h <= self.config.confirm_window_s]
            if len(tracks.hits[row]) >= self.config.confirm_hits:
                tracks.track_id[row], self.next_id = self.next_id, self.next_id + 1
                tracks.hits[row] = []

    def _associate(self, people: People, boxes: np.ndarray) -> np.ndarray:
        """Track row per detection (-1 = unmatched): confirmed tracks first, then tentative ones."""
        rows = np.full(len(people), -1, np.int64)
        free = np.arange(len(people))
        confirmed = self.tracks.track_id != TRACK_ID_NONE
        for candidates in (np.flatnonzero(confirmed), np.flatnonzero(~confirmed)):
            if not len(candidates) or not len(free):
                continue
            similarity = self.similarity(candidates, people.keypoints[free], boxes[free])
            track, det = linear_sum_assignment(-similarity)
            good = similarity[track, det] >= max(self.config.min_similarity, 1e-9)
            rows[free[det[good]]] = candidates[track[good]]
            free = free[rows[free] < 0]
        return rows

    def similarity(self, rows: np.ndarray, keypoints: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """[T, D] in [0, 1] for track ``rows`` and detections: OKS and box terms against each
        track's predicted position, both widened by the prediction's variance (a track coasting
        for a second may have moved)."""
        j = keypoints.shape[1]
        tracks = self.tracks
        pos, var, scale2 = tracks.pos[rows], tracks.p00[rows], tracks.scale[rows] ** 2
        pred_xy = pos[:, :2 * j].reshape(-1, j, 2)
        pred_var = var[:, :2 * j].reshape(-1, j, 2).mean(axis=2)
        d2 = ((pred_xy[:, None] - keypoints[None, :, :, :2]) ** 2).sum(axis=3)  # [T, D, J]
        spread = scale2[:, None, None] * self._kappa2[None, None, :] + pred_var[:, None, :]
        visible = tracks.known[rows, 0:2 * j:2][:, None, :] & (keypoints[None, :, :, 2] > 0)
        count = visible.sum(axis=2)
        oks = np.where(visible, np.exp(-d2 / (2.0 * spread)), 0.0).sum(axis=2) / np.maximum(count, 1)

        pred_box = pos[:, -4:]
        centre_d2 = (((pred_box[:, None, :2] + pred_box[:, None, 2:]) - (boxes[None, :, :2] + boxes[None, :, 2:]))
                     ** 2).sum(axis=2) / 4.0
        centre_var = var[:, -4:].mean(axis=1)
        centre = np.exp(-centre_d2 / (2.0 * (CENTRE_SIGMA ** 2 * scale2 + centre_var))[:, None])
        box_term = 0.5 * _box_iou(pred_box, boxes) + 0.5 * centre
        return np.where(count > 0, OKS_WEIGHT * oks + (1.0 - OKS_WEIGHT) * box_term, box_term)

    def _publish(self, people: People, rows: np.ndarray, time_s: float, reason: Optional[str]) -> TrackedPeople:
        ids = self.tracks.track_id[rows].astype(np.int32)
        keypoints = people.keypoints
        if self.config.smoothing and len(people):
            smoothers = self.tracks.smoothers
            keypoints = np.stack([smoothers[row](kps, time_s) for row, kps in zip(rows.tolist(), keypoints)])
            keypoints = keypoints.astype(np.float32)
        keep = np.ones(len(people), bool) if self.config.publish_unconfirmed else ids != TRACK_ID_NONE
        return TrackedPeople(People(keypoints[keep], people.scores[keep]), ids[keep], reason)
