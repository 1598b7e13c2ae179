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
from typing import List, NamedTuple, Optional, Sequence

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


class _MotionFilter(object):
    """Independent 1-D constant-velocity Kalman filters, one per coordinate (keypoint x/y, box
    edges); coordinates never measured have no state and predict nothing."""

    def __init__(self, size: int) -> None:
        self.pos = np.zeros(size)
        self.vel = np.zeros(size)
        self.p00 = np.zeros(size)  # covariance [[p00, p01], [p01, p11]]
        self.p01 = np.zeros(size)
        self.p11 = np.zeros(size)
        self.known = np.zeros(size, bool)

    def predict(self, dt: float, scale: float) -> None:
        if dt <= 0.0:
            return
        q = (ACCEL_NOISE * scale) ** 2
        self.pos += self.vel * dt
        self.p00 += dt * (2.0 * self.p01 + dt * self.p11) + q * dt ** 3 / 3.0
        self.p01 += dt * self.p11 + q * dt ** 2 / 2.0
        self.p11 += q * dt

    def update(self, z: np.ndarray, measured: np.ndarray, scale: float) -> None:
        r = (MEASUREMENT_NOISE * scale) ** 2
        new = measured & ~self.known
        if new.any():
            self.pos[new], self.vel[new] = z[new], 0.0
            self.p00[new], self.p01[new], self.p11[new] = r, 0.0, (INITIAL_SPEED * scale) ** 2
            self.known |= new
        old = measured & ~new
        innovation = np.where(old, z - self.pos, 0.0)
        k0 = np.where(old, self.p00 / (self.p00 + r), 0.0)
        k1 = np.where(old, self.p01 / (self.p00 + r), 0.0)
        self.pos += k0 * innovation
        self.vel += k1 * innovation
        self.p11 -= k1 * self.p01
        self.p01 *= 1.0 - k0
        self.p00 *= 1.0 - k0


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


class _Track(object):
    def __init__(self, num_joints: int, time_s: float, config: TrackerConfig) -> None:
        self.track_id = TRACK_ID_NONE  # assigned at confirmation: ids are never spent on noise
        self.motion = _MotionFilter(num_joints * 2 + 4)
        self.hits: List[float] = []  # stamps of detections while tentative
        self.last_hit_s = time_s
        self.time_s = time_s
        self._scale = MIN_SCALE_PX
        self.smoother = (_OneEuro(num_joints, config.smoothing_min_cutoff_hz, config.smoothing_beta)
                         if config.smoothing else None)

    @property
    def confirmed(self) -> bool:
        return self.track_id != TRACK_ID_NONE

    def box(self) -> np.ndarray:
        return self.motion.pos[-4:]

    def scale(self) -> float:
        return self._scale

    def _update_scale(self) -> None:
        self._scale = _box_scale(self.motion.pos[-4:])

    def predict(self, time_s: float) -> None:
        self.motion.predict(time_s - self.time_s, self._scale)
        self.time_s = time_s
        self._update_scale()

    def update(self, keypoints: np.ndarray, box: np.ndarray, time_s: float) -> None:
        z = np.concatenate([keypoints[:, :2].reshape(-1), box])
        found = np.repeat(keypoints[:, 2] > 0, 2)
        self.motion.update(z, np.concatenate([found, _BOX_MEASURED]), self._scale if self.hits or self.confirmed
                           else _box_scale(box))
        self._update_scale()
        if not self.confirmed:
            self.hits.append(time_s)
        self.last_hit_s = time_s


_BOX_MEASURED = np.ones(4, bool)


def _box_scale(box: np.ndarray) -> float:
    """Person size for the noise and OKS: sqrt of the box area, at least MIN_SCALE_PX."""
    x0, y0, x1, y1 = box.tolist()
    return max(math.sqrt(max(x1 - x0, 0.0) * max(y1 - y0, 0.0)), MIN_SCALE_PX)


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[T, 4] x [D, 4] boxes (x_min, y_min, x_max, y_max) -> IoU [T, D]."""
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0.0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0.0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0.0, None), axis=1)
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
        self.tracks: List[_Track] = []
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
        return sum(1 for t in self.tracks if t.confirmed)

    def _reset(self) -> None:
        self.tracks = []  # next_id keeps counting: ids are never reused within a run
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

        for track in self.tracks:
            track.predict(time_s)
        self._end_lost(time_s)
        boxes = people.boxes().astype(np.float64)
        assigned = self._associate(people, boxes)
        for det, track in enumerate(assigned):
            if track is None:
                track = _Track(people.num_joints, time_s, self.config)
                self.tracks.append(track)
                assigned[det] = track
            track.update(people.keypoints[det], boxes[det], time_s)
        self._confirm(time_s)
        return self._publish(people, assigned, time_s, reason)

    def _end_lost(self, time_s: float) -> None:
        window = self.config.confirm_window_s
        self.tracks = [t for t in self.tracks
                       if time_s - t.last_hit_s <= (self.config.coast_s if t.confirmed else window)]

    def _confirm(self, time_s: float) -> None:
        for track in self.tracks:
            if not track.confirmed:
                track.hits = [h for h in track.hits if time_s - h <= self.config.confirm_window_s]
                if len(track.hits) >= self.config.confirm_hits:
                    track.track_id, self.next_id = self.next_id, self.next_id + 1
                    track.hits = []

    def _associate(self, people: People, boxes: np.ndarray) -> List[Optional[_Track]]:
        """Track per detection (None = unmatched): confirmed tracks first, then tentative ones."""
        assigned: List[Optional[_Track]] = [None] * len(people)
        if not len(people):
            return assigned
        free = list(range(len(people)))
        for confirmed in (True, False):
            tracks = [t for t in self.tracks if t.confirmed == confirmed]
            if not tracks or not free:
                continue
            similarity = self.similarity(tracks, people.keypoints[free], boxes[free])
            rows, cols = linear_sum_assignment(-similarity)
            taken = set()
            for r, c in zip(rows, cols):
                if similarity[r, c] >= max(self.config.min_similarity, 1e-9):
                    assigned[free[c]] = tracks[r]
                    taken.add(free[c])
            free = [d for d in free if d not in taken]
        return assigned

    def similarity(self, tracks: Sequence[_Track], keypoints: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """[T, D] in [0, 1]: OKS and box terms against each track's predicted position, both
        widened by the prediction's variance (a track coasting for a second may have moved)."""
        j = keypoints.shape[1]
        pos = np.stack([t.motion.pos for t in tracks])
        var = np.stack([t.motion.p00 for t in tracks])
        known = np.stack([t.motion.known for t in tracks])
        scale2 = np.array([t.scale() for t in tracks]) ** 2
        pred_xy = pos[:, :2 * j].reshape(-1, j, 2)
        pred_var = var[:, :2 * j].reshape(-1, j, 2).mean(axis=2)
        d2 = ((pred_xy[:, None] - keypoints[None, :, :, :2]) ** 2).sum(axis=3)  # [T, D, J]
        spread = scale2[:, None, None] * self._kappa2[None, None, :] + pred_var[:, None, :]
        visible = known[:, 0:2 * j:2][:, None, :] & (keypoints[None, :, :, 2] > 0)
        count = visible.sum(axis=2)
        oks = np.where(visible, np.exp(-d2 / (2.0 * spread)), 0.0).sum(axis=2) / np.maximum(count, 1)

        pred_box = pos[:, -4:]
        centre_d2 = (((pred_box[:, None, :2] + pred_box[:, None, 2:]) - (boxes[None, :, :2] + boxes[None, :, 2:]))
                     ** 2).sum(axis=2) / 4.0
        centre_var = var[:, -4:].mean(axis=1)
        centre = np.exp(-centre_d2 / (2.0 * (CENTRE_SIGMA ** 2 * scale2 + centre_var))[:, None])
        box_term = 0.5 * _box_iou(pred_box, boxes) + 0.5 * centre
        return np.where(count > 0, OKS_WEIGHT * oks + (1.0 - OKS_WEIGHT) * box_term, box_term)

    def _publish(self, people: People, assigned: List[Optional[_Track]], time_s: float,
                 reason: Optional[str]) -> TrackedPeople:
        ids = np.array([t.track_id for t in assigned], np.int32) if assigned else np.zeros(0, np.int32)
        keypoints = people.keypoints
        if self.config.smoothing and len(people):
            keypoints = np.stack([t.smoother(kps, time_s) for t, kps in zip(assigned, people.keypoints)])
            keypoints = keypoints.astype(np.float32)
        keep = np.ones(len(people), bool) if self.config.publish_unconfirmed else ids != TRACK_ID_NONE
        return TrackedPeople(People(keypoints[keep], people.scores[keep]), ids[keep], reason)

