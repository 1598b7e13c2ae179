"""Person tracks across frames: stable ids, optional keypoint smoothing. Pure numpy/scipy.

A track is a person's centre, moved by a constant-velocity Kalman filter in header-stamp
time, and their shape: each joint's offset from the centre in units of the person's size,
averaged over the detections. Per frame (``PersonTracker.update``):

1. ``StampClock`` turns the header stamp into tracker time: a frame a little out of order
   does not move time back, only a real jump back resets; stamps that stop advancing
   (drivers stamping 0, a paused clock) fall back to counting frames.
2. Tracks are predicted to that time; those without detections for too long end.
3. ``similarity``: each track's predicted joints against each detection's, on the joints
   both have, with tolerances from the track's size (the extent of all joints it has seen,
   so it does not shrink when the lower body is not detected) widened by the prediction's
   uncertainty. Hungarian matching: confirmed tracks seen lately first, then other confirmed
   ones, then new ones (so spurious detections cannot take a person from a new track).
4. A left-over detection and a left-over track seen a frame ago that are each other's only
   plausible partner match at a lower similarity. Two matches that could as well be swapped
   (people overlapping) stand, but publish no id this frame (an id flipping between two people
   is worse for a consumer than a frame without one).
   Matched tracks take the detection; unmatched detections start new tracks, which get an id
   after ``confirm_hits`` detections within ``confirm_window_s`` (at once for a confident,
   full skeleton at the image edge that no confirmed track resembles), unless they continue a
   recently lost track along its predicted path (that track's id comes back); one lying
   mostly inside a person tracked in this frame (a fragment of them, or someone behind them)
   waits for its id until it stands apart.
5. Of two confirmed tracks on one person (one follows the detections, the other shadows it)
   the shadow ends.

The node and ``litepose bag analyze`` both call this class (via
``node_settings.tracker_from_settings``); the defaults are the node parameter table's.
"""
import math
import threading
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from .common.people import People
from .settings.parameters import BY_NAME

TRACK_ID_NONE = -1
MIN_SIZE_PX = 32.0  # people with one or two keypoints have a (near) zero extent
# Motion filter, in units of the person's size (so resolution-free).
ACCEL_NOISE = 0.5  # white-noise acceleration density: size / s^1.5
INITIAL_SPEED = 2.5  # speed uncertainty of a new track: size / s (a run across the view)
CENTRE_NOISE = 0.04  # one detection's centre: size
NOISE_PX = 6.0  # a detector's keypoint noise at any size, pixels
# A joint's tolerance, in person sizes: the dataset's OKS sigma plus room for limbs moving
# between the averaged shape and this frame (gait, gestures).
TOLERANCE_BASE = 0.04
POSITION_TOLERANCE = 0.08  # a person's centre may leave the prediction by this many sizes
GATE_SPEED = 1.0  # an unseen person may leave the predicted path by this many sizes / s (stops, turns)
COVERAGE_POWER = 0.5  # a detection with a share c of the track's joints counts c ** this (fragments lose)
OUT_MISSED_FRAMES = 2.5  # a track unseen for this many frame periods ends once predicted out of the image
RESCUE_FACTOR = 0.4  # a track seen in the last RESCUE_FRAMES frame periods and a left-over detection
RESCUE_FRAMES = 2.5  # that are each other's only candidate match at this multiple of track_min_similarity
HOLD_INSIDE = 0.4  # a new track this much (area share) inside a followed person waits for its id
SHAPE_RATE = 0.35  # share of a new detection in a track's averaged shape
SIZE_RATE = 0.2  # share of a new detection in a track's size
RECENT_S, RECENT_FRAMES = 0.3, 2.5  # tracks unseen for less (the longer of the two) choose first
RECOVER_FACTOR = 1.0  # a lost track is recovered at this multiple of track_min_similarity ...
RECOVER_SPEED = 0.5  # ... and velocities this close (sizes / s) beyond their uncertainty
SHADOW_SIMILARITY = 0.5  # an unmatched track this similar to a matched one's detection ...
SHADOW_S = 0.5  # ... for this long is a duplicate of it
# A clear, confident skeleton at the image edge (someone walking in) gets its id after
# FAST_CONFIRM_HITS detections instead of track_confirm_hits: false partial skeletons have few
# joints and low scores.
FAST_CONFIRM_HITS = 1
STRONG_JOINTS = 6  # at least this many joints ...
STRONG_SCORE = 0.4  # ... each scored at least this
EDGE_MARGIN = 0.1  # ... with a joint this close to the image edge (share of its width or height)
AMBIGUOUS_RATIO = 0.8  # two matches that could as well be swapped (this close) publish no id this frame
STALL_FRAMES = 2  # frames in a row whose stamps do not advance before frame counting takes over
DEFAULT_PERIOD_S = 1.0 / 30.0  # frame period assumed before any advancing stamps were seen


def _default(name: str) -> Any:
    return BY_NAME[name].default


class TrackerConfig(NamedTuple):
    """The tracker's settings; defaults, names and ranges are the node parameter table's
    (``node_settings.PARAMETERS``, ``track_*``, ``keypoint_smoothing``, ``smoothing_*``)."""

    confirm_hits: int = _default("track_confirm_hits")
    confirm_window_s: float = _default("track_confirm_window_s")
    coast_s: float = _default("track_coast_s")
    min_similarity: float = _default("track_min_similarity")
    publish_unconfirmed: bool = _default("track_publish_unconfirmed")
    smoothing: bool = _default("keypoint_smoothing")
    smoothing_min_cutoff_hz: float = _default("smoothing_min_cutoff_hz")
    smoothing_beta: float = _default("smoothing_beta")
    max_tracks: int = _default("track_max_tracks")
    reset_jump_back_s: float = _default("track_reset_jump_back_s")

    def problem(self) -> Optional[str]:
        """Why this configuration cannot work; None if it can."""
        for parameter, value in zip(PARAMETER_NAMES, self):
            problem = BY_NAME[parameter].problem(value)
            if problem:
                return problem
        return None


# TrackerConfig field -> node parameter, in field order
PARAMETER_NAMES = ("track_confirm_hits", "track_confirm_window_s", "track_coast_s", "track_min_similarity",
                   "track_publish_unconfirmed", "keypoint_smoothing", "smoothing_min_cutoff_hz", "smoothing_beta",
                   "track_max_tracks", "track_reset_jump_back_s")


class TrackedPeople(NamedTuple):
    people: People  # the published people, in input order (smoothed if enabled)
    track_ids: np.ndarray  # int32 [N]; TRACK_ID_NONE for unconfirmed
    reset_reason: Optional[str]  # set when this frame reset the tracker (log it)


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
    calls for 1 or 30 people.

    Motion: the centre (x, y) with a constant-velocity Kalman filter per axis; both axes share
    one covariance [[p00, p01], [p01, p11]] (same noise in x and y). Shape: ``offset`` [T, J, 2]
    of each joint from the centre in units of ``unit`` (px), ``known`` where a joint was ever
    seen. ``size`` (px) is the extent of the known shape: what tolerances scale with."""

    _ARRAYS = ("centre", "velocity", "p00", "p01", "p11", "offset", "known", "unit", "size", "track_id",
               "last_hit_s", "shadow_s", "matched")

    def __init__(self, num_joints: int) -> None:
        self.centre, self.velocity = np.zeros((0, 2)), np.zeros((0, 2))
        self.p00, self.p01, self.p11 = np.zeros(0), np.zeros(0), np.zeros(0)
        self.offset, self.known = np.zeros((0, num_joints, 2)), np.zeros((0, num_joints), bool)
        self.unit, self.size = np.zeros(0), np.zeros(0)
        self.track_id = np.zeros(0, np.int64)  # TRACK_ID_NONE until confirmed: no ids spent on noise
        self.last_hit_s, self.shadow_s = np.zeros(0), np.zeros(0)
        self.matched = np.zeros(0, bool)  # took a detection this frame
        self.hits: List[List[float]] = []  # stamps of detections while tentative
        self.smoothers: List[Optional[_OneEuro]] = []
        self.time_s = 0.0  # every track is predicted to the current frame

    def __len__(self) -> int:
        return len(self.track_id)

    def predict(self, time_s: float) -> None:
        dt, self.time_s = time_s - self.time_s, time_s
        self.matched[:] = False
        if dt <= 0.0 or not len(self):
            return
        q = (ACCEL_NOISE * self.size) ** 2
        self.centre += self.velocity * dt
        self.p00 += dt * (2.0 * self.p01 + dt * self.p11) + q * (dt ** 3 / 3.0)
        self.p01 += dt * self.p11 + q * (dt ** 2 / 2.0)
        self.p11 += q * dt

    def keep(self, mask: np.ndarray) -> None:
        for name in self._ARRAYS:
            setattr(self, name, getattr(self, name)[mask])
        rows = np.flatnonzero(mask).tolist()
        self.hits = [self.hits[i] for i in rows]
        self.smoothers = [self.smoothers[i] for i in rows]

    def add(self, keypoints: np.ndarray, smoother: Optional[Callable[[], _OneEuro]]) -> np.ndarray:
        """New tentative tracks for these detections [N, J, 3]; returns their rows."""
        count = len(keypoints)
        found = keypoints[:, :, 2] > 0
        xy = keypoints[:, :, :2].astype(np.float64)
        centre = (xy * found[:, :, None]).sum(axis=1) / np.maximum(found.sum(axis=1), 1)[:, None]
        unit = np.maximum(_extent(xy, found), MIN_SIZE_PX)
        offset = np.where(found[:, :, None], (xy - centre[:, None]) / unit[:, None, None], 0.0)
        p00 = (CENTRE_NOISE * unit) ** 2
        new = dict(centre=centre, velocity=np.zeros((count, 2)), p00=p00, p01=np.zeros(count),
                   p11=(INITIAL_SPEED * unit) ** 2, offset=offset, known=found, unit=unit, size=unit,
                   track_id=np.full(count, TRACK_ID_NONE, np.int64),
                   last_hit_s=np.full(count, self.time_s), shadow_s=np.zeros(count), matched=np.ones(count, bool))
        rows = np.arange(len(self), len(self) + count)
        for name in self._ARRAYS:
            setattr(self, name, np.concatenate([getattr(self, name), new[name]]))
        self.hits += [[self.time_s] for _ in range(count)]
        self.smoothers += [smoother() if smoother else None for _ in range(count)]
        return rows

    def update(self, rows: np.ndarray, keypoints: np.ndarray, centres: np.ndarray, counts: np.ndarray) -> None:
        """Detections [M, J, 3] with their centres [M, 2] measured against the (distinct) track
        ``rows`` from ``counts`` shared joints each."""
        unit = self.unit[rows]
        r = (CENTRE_NOISE * self.size[rows]) ** 2 * 3.0 / np.minimum(np.maximum(counts, 1), 3) + NOISE_PX ** 2
        p00, p01, p11 = self.p00[rows], self.p01[rows], self.p11[rows]
        k0, k1 = p00 / (p00 + r), p01 / (p00 + r)
        innovation = centres - self.centre[rows]
        self.centre[rows] += k0[:, None] * innovation
        self.velocity[rows] += k1[:, None] * innovation
        self.p11[rows] = p11 - k1 * p01
        self.p01[rows] = p01 * (1.0 - k0)
        self.p00[rows] = p00 * (1.0 - k0)

        found = keypoints[:, :, 2] > 0
        xy = keypoints[:, :, :2].astype(np.float64)
        known = self.known[rows]
        shared = found & known
        # size: how far the shared joints spread around their centre, against the shape's spread
        seen = (xy - self.centre[rows][:, None]) / unit[:, None, None]
        spread_now = _spread(seen, shared)
        spread_shape = _spread(self.offset[rows], shared)
        enough = (shared.sum(axis=1) >= 3) & (spread_shape > 0.05) & (spread_now > 0.0)
        ratio = np.where(enough, spread_now / np.maximum(spread_shape, 1e-9), 1.0)
        unit = unit * np.exp(SIZE_RATE * np.log(np.clip(ratio, 0.5, 2.0)))
        seen = (xy - self.centre[rows][:, None]) / unit[:, None, None]
        offset = np.where(shared[:, :, None], self.offset[rows] + SHAPE_RATE * (seen - self.offset[rows]),
                          np.where(found[:, :, None], seen, self.offset[rows]))
        self.offset[rows] = offset
        self.known[rows] = known | found
        self.unit[rows] = unit
        self.size[rows] = np.maximum(unit * _extent(offset, self.known[rows]), MIN_SIZE_PX)
        self.last_hit_s[rows] = self.time_s
        self.matched[rows] = True
        for row in rows[self.track_id[rows] == TRACK_ID_NONE].tolist():
            self.hits[row].append(self.time_s)

    def copy_state(self, source: int, target: int) -> None:
        """Track ``target`` continues with ``source``'s motion and shape (a merge)."""
        for name in ("centre", "velocity", "p00", "p01", "p11", "offset", "known", "unit", "size", "last_hit_s",
                     "matched"):
            getattr(self, name)[target] = getattr(self, name)[source]
        self.shadow_s[target] = 0.0


def _extent(xy: np.ndarray, found: np.ndarray) -> np.ndarray:
    """[N, J, 2] points, [N, J] found -> the larger side of each box around the found points."""
    lower = np.where(found[:, :, None], xy, np.inf).min(axis=1)
    upper = np.where(found[:, :, None], xy, -np.inf).max(axis=1)
    sides = np.where(found.any(axis=1)[:, None], upper - lower, 0.0)
    return sides.max(axis=1)


def _weighted_mean(points: np.ndarray, weight: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """[..., J, 2] points, [..., J] weights -> [..., 2]; ``fallback`` where all weights are ~0."""
    total = weight.sum(axis=-1)[..., None]
    mean = (points * weight[..., None]).sum(axis=-2) / np.maximum(total, 1e-12)
    return np.where(total > 1e-9, mean, fallback)


def _spread(xy: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """RMS distance of the masked points of each row from their mean."""
    count = np.maximum(mask.sum(axis=1), 1)
    mean = (xy * mask[:, :, None]).sum(axis=1) / count[:, None]
    return np.sqrt((((xy - mean[:, None]) ** 2).sum(axis=2) * mask).sum(axis=1) / count)


class PersonTracker(object):
    """Assigns track ids to the people of successive frames of one camera."""

    def __init__(self, sigmas: Sequence[float], config: Optional[TrackerConfig] = None) -> None:
        self.config = config or TrackerConfig()
        problem = self.config.problem()
        if problem:
            raise ValueError(problem)
        self.sigmas = np.asarray(sigmas, np.float64)
        self._tolerance2 = (TOLERANCE_BASE + self.sigmas) ** 2
        self.tracks = _Tracks(len(self.sigmas))
        self.clock = StampClock(self.config.reset_jump_back_s)
        self.next_id = 0
        self.resets = 0
        self._pairs = np.zeros((0, 0))  # this frame's similarity of the tracks it began with
        self._reset_lock = threading.Lock()
        self._reset_reason: Optional[str] = None

    # -- state ---------------------------------------------------------------------------

    def request_reset(self, reason: str = "reset requested") -> None:
        """Forget all tracks before the next frame (safe to call from another thread)."""
        with self._reset_lock:
            self._reset_reason = reason

    def _take_reset_request(self) -> Optional[str]:
        with self._reset_lock:  # a request between reading and clearing would be lost
            reason, self._reset_reason = self._reset_reason, None
        return reason

    def active_tracks(self) -> int:
        """Confirmed tracks not yet ended (visible or coasting)."""
        return int(np.count_nonzero(self.tracks.track_id != TRACK_ID_NONE))

    def _reset(self) -> None:
        self.tracks = _Tracks(len(self.sigmas))  # next_id keeps counting: ids are never reused
        self.clock = StampClock(self.config.reset_jump_back_s)
        self.resets += 1

    # -- per frame -----------------------------------------------------------------------

    def update(self, people: People, stamp_ns: int, image_size: Optional[Tuple[int, int]] = None
               ) -> TrackedPeople:
        """Track ids for ``people`` seen at ``stamp_ns`` (the header stamp). ``image_size``
        (width, height) lets tracks predicted to have walked out of the image end at once."""
        if people.num_joints != len(self.sigmas):
            raise ValueError("people have {} keypoints, the tracker's dataset {}".format(
                people.num_joints, len(self.sigmas)))
        reason = self._take_reset_request()
        if reason is None:
            time_s, reason = self.clock.advance(stamp_ns)
        if reason is not None:
            self._reset()
            time_s, _ = self.clock.advance(stamp_ns)

        tracks = self.tracks
        dt = max(time_s - tracks.time_s, 0.0)
        tracks.predict(time_s)
        keypoints = people.keypoints
        self._end_lost(time_s, image_size)
        # every existing track against every detection, once: association, recovery and
        # duplicates all read it (for tracks the frame did not update)
        pairs = self.similarity(np.arange(len(tracks)), keypoints)
        self._pairs = pairs[0]
        rows, centres, counts = self._associate(pairs)
        matched = rows >= 0
        unsure = self._ambiguous(rows)
        if matched.any():
            tracks.update(rows[matched], keypoints[matched], centres[matched], counts[matched])
        unmatched = np.flatnonzero(~matched)
        if len(unmatched):
            rows[unmatched] = tracks.add(keypoints[unmatched], self._smoother())
        rows = self._confirm(time_s, rows, keypoints, image_size)
        rows = self._merge_shadows(rows, dt)
        rows = self._bound(rows)
        return self._publish(people, np.where(unsure, -1, rows), time_s, reason)

    def _ambiguous(self, rows: np.ndarray) -> np.ndarray:
        """[D]: detections matched to confirmed tracks that could as well be swapped with
        another such pair (two people overlapping): the matches stand, but the tracks' motion
        and shape are not taken from them (each might be the other person)."""
        pairs = self._pairs
        out = np.zeros(len(rows), bool)
        threshold = max(self.config.min_similarity, 1e-9)
        if not pairs.size or np.count_nonzero(pairs >= threshold, axis=1).max() < 2:
            return out  # no track with two plausible detections: no swap (the usual frame, cheap)
        dets = np.flatnonzero((rows >= 0) & (rows < len(pairs)))
        dets = dets[self.tracks.track_id[rows[dets]] != TRACK_ID_NONE]
        if len(dets) < 2:
            return out
        square = pairs[np.ix_(rows[dets], dets)]  # [i, j]: track of detection i against detection j
        own = np.diag(square)
        swapped = square + square.T  # i's track takes j's detection and j's track takes i's
        kept = own[:, None] + own[None, :]
        plausible = np.minimum(square, square.T) >= threshold
        np.fill_diagonal(plausible, False)
        out[dets] = (plausible & (swapped >= AMBIGUOUS_RATIO * kept)).any(axis=1)
        return out

    def _smoother(self) -> Optional[Callable[[], _OneEuro]]:
        if not self.config.smoothing:
            return None
        return lambda: _OneEuro(len(self.sigmas), self.config.smoothing_min_cutoff_hz, self.config.smoothing_beta)

    def _end_lost(self, time_s: float, image_size: Optional[Tuple[int, int]]) -> None:
        """End tracks unseen too long, and unseen ones predicted to have walked out of the
        image (most of their joints outside): someone entering there is someone else."""
        tracks = self.tracks
        limit = np.where(tracks.track_id != TRACK_ID_NONE, self.config.coast_s, self.config.confirm_window_s)
        alive = time_s - tracks.last_hit_s <= limit
        if len(tracks) and image_size is not None:
            joints = tracks.centre[:, None] + tracks.offset * tracks.unit[:, None, None]
            outside = ((joints < 0.0) | (joints > np.asarray(image_size, np.float64))).any(axis=2) & tracks.known
            missed = time_s - tracks.last_hit_s > OUT_MISSED_FRAMES * self.clock.period_s
            alive &= ~missed | (outside.sum(axis=1) * 2 <= tracks.known.sum(axis=1))
        if not alive.all():
            tracks.keep(alive)

    def _associate(self, pairs: Tuple[np.ndarray, np.ndarray, np.ndarray]
                   ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Track row per detection (-1 = unmatched), the detection's centre measured against
        that track's shape and the joints they share. Hungarian matching in stages: confirmed
        tracks seen lately, then other confirmed ones, then new ones."""
        all_similarity, all_centre, all_common = pairs
        count = all_similarity.shape[1]
        rows = np.full(count, -1, np.int64)
        centres, shared = np.zeros((count, 2)), np.zeros(count, np.int64)
        free = np.arange(count)
        tracks = self.tracks
        confirmed = tracks.track_id != TRACK_ID_NONE
        # tracks seen lately choose first: a long-unseen track's wide prediction must not take
        # a person from the track that has been following them
        recent = tracks.time_s - tracks.last_hit_s <= max(RECENT_S, RECENT_FRAMES * self.clock.period_s)
        threshold = max(self.config.min_similarity, 1e-9)
        for stage in (confirmed & recent, confirmed & ~recent, ~confirmed):
            candidates = np.flatnonzero(stage)
            if not len(candidates) or not len(free):
                continue
            similarity = all_similarity[np.ix_(candidates, free)]
            centre, common = all_centre[np.ix_(candidates, free)], all_common[np.ix_(candidates, free)]
            track, det = linear_sum_assignment(-similarity)
            good = similarity[track, det] >= threshold
            track, det = track[good], det[good]
            rows[free[det]] = candidates[track]
            centres[free[det]] = centre[track, det]
            shared[free[det]] = common[track, det]
            free = free[rows[free] < 0]
        last_frame = tracks.time_s - tracks.last_hit_s <= RESCUE_FRAMES * self.clock.period_s + 1e-9
        self._rescue(all_similarity, all_centre, all_common, rows, centres, shared, confirmed & last_frame)
        return rows, centres, shared

    def _rescue(self, similarity: np.ndarray, centre: np.ndarray, common: np.ndarray, rows: np.ndarray,
                centres: np.ndarray, shared: np.ndarray, eligible: np.ndarray) -> None:
        """A detection left over and a recent track left over that are each other's only
        plausible partner match at a lower similarity (a frame where the person looked odd)."""
        free = np.flatnonzero(rows < 0)
        if not len(free):
            return
        taken = np.zeros(len(eligible), bool)
        taken[rows[rows >= 0]] = True
        idle = np.flatnonzero(eligible & ~taken)
        if not len(idle):
            return
        floor = RESCUE_FACTOR * max(self.config.min_similarity, 1e-9)
        for det in free.tolist():
            column = similarity[:, det]
            track = int(idle[np.argmax(column[idle])])
            best = column[track]
            others = np.delete(column, track)
            rival = np.delete(similarity[track], det)
            if best >= floor and (not len(others) or others.max() < 0.5 * best) and \
                    (not len(rival) or rival.max() < 0.5 * best) and track not in rows:
                rows[det], centres[det], shared[det] = track, centre[track, det], common[track, det]

    def similarity(self, rows: np.ndarray, keypoints: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Track ``rows`` x detections: similarity [T, D] in [0, 1], the detection's centre
        [T, D, 2] as that track's shape places it, and the number of joints both have [T, D].

        Two terms, on the joints both have: where the detection is (its centre by the track's
        shape against the predicted centre, within the prediction's uncertainty plus
        ``POSITION_TOLERANCE`` sizes) and what it looks like (each joint against the track's
        shape placed there, within the joint's tolerance). Their product is scaled by n / (n + 1)
        for n shared joints, so that a detection sharing few joints loses against one sharing
        many. A wrong prediction (a turn while hidden) thus lowers only the position term."""
        tracks = self.tracks
        unit, size = tracks.unit[rows], tracks.size[rows]
        found = keypoints[:, :, 2] > 0
        shared = tracks.known[rows][:, None, :] & found[None, :, :]  # [T, D, J]
        common = shared.sum(axis=2)
        xy = keypoints[:, :, :2].astype(np.float64)
        offset = tracks.offset[rows][:, None] * unit[:, None, None, None]  # [T, 1, J, 2]
        placed = xy[None] - offset  # [T, D, J, 2]: the centre by each joint
        spread = (size[:, None] ** 2 * self._tolerance2[None, :] + NOISE_PX ** 2)[:, None, :]  # [T, 1, J]
        # the centre: mean of the joints' votes, then again with far-off votes (outliers) weighed down
        weight = shared.astype(np.float64)
        centre = _weighted_mean(placed, weight, tracks.centre[rows][:, None])
        weight = weight * np.exp(-((placed - centre[:, :, None]) ** 2).sum(axis=3) / (8.0 * spread))
        centre = _weighted_mean(placed, weight, centre)
        residual2 = ((placed - centre[:, :, None]) ** 2).sum(axis=3)
        shape = np.where(shared, np.exp(-residual2 / (2.0 * spread)), 0.0).sum(axis=2) / np.maximum(common, 1)
        moved2 = ((centre - tracks.centre[rows][:, None]) ** 2).sum(axis=2)
        unseen_s = tracks.time_s - tracks.last_hit_s[rows]
        room = tracks.p00[rows] + NOISE_PX ** 2 + (POSITION_TOLERANCE * size) ** 2 + (GATE_SPEED * size * unseen_s) ** 2
        position = np.exp(-moved2 / (2.0 * room[:, None]))
        coverage = common / np.maximum(tracks.known[rows].sum(axis=1), 1)[:, None]
        similarity = shape * position * common / (common + 1.0) * coverage ** COVERAGE_POWER
        return np.where(common > 0, similarity, 0.0), centre, common

    def _confirm(self, time_s: float, rows: np.ndarray, keypoints: np.ndarray,
                 image_size: Optional[Tuple[int, int]]) -> np.ndarray:
        """New tracks with enough hits get an id: a lost track's, if they continue its path."""
        tracks = self.tracks
        window = self.config.confirm_window_s
        tentative = np.flatnonzero(rows >= 0)
        tentative = tentative[tracks.track_id[rows[tentative]] == TRACK_ID_NONE]
        if not len(tentative):
            return rows
        fast = self._walking_in(keypoints, image_size)
        ready = []
        for det in tentative.tolist():
            row = int(rows[det])
            tracks.hits[row] = [h for h in tracks.hits[row] if time_s - h <= window]
            needed = min(FAST_CONFIRM_HITS, self.config.confirm_hits) if fast[det] else self.config.confirm_hits
            if len(tracks.hits[row]) >= needed:
                ready.append(row)
        if ready:
            ready = self._not_inside_followed(ready)
        if not ready:
            return rows
        lost = np.flatnonzero((tracks.track_id != TRACK_ID_NONE) & ~tracks.matched)
        gone = np.zeros(len(tracks), bool)
        if len(lost):
            detections = np.array([int(np.flatnonzero(rows == row)[0]) for row in ready])
            similarity = self._pairs[np.ix_(lost, detections)] * self._same_motion(lost, np.asarray(ready))
            track, det = linear_sum_assignment(-similarity)
            good = similarity[track, det] >= RECOVER_FACTOR * max(self.config.min_similarity, 1e-9)
            for old, new in zip(lost[track[good]].tolist(), np.asarray(ready)[det[good]].tolist()):
                tracks.copy_state(new, old)  # the lost person is back: their id continues
                rows[rows == new] = old
                gone[new] = True
        for row in ready:
            if not gone[row]:
                tracks.track_id[row], self.next_id = self.next_id, self.next_id + 1
                tracks.hits[row] = []
        return self._drop(rows, gone)

    @staticmethod
    def _walking_in(keypoints: np.ndarray, image_size: Optional[Tuple[int, int]]) -> np.ndarray:
        """[D]: detections that are clear, confident skeletons next to the image edge (someone
        walking into the view; false partial skeletons have few joints and low scores)."""
        if image_size is None:
            return np.zeros(len(keypoints), bool)
        strong = (keypoints[:, :, 2] >= STRONG_SCORE).sum(axis=1) >= STRONG_JOINTS
        found = keypoints[:, :, 2] > 0
        size = np.asarray(image_size, np.float64)
        xy = keypoints[:, :, :2]
        near = ((xy < EDGE_MARGIN * size) | (xy > (1.0 - EDGE_MARGIN) * size)).any(axis=2) & found
        return strong & near.any(axis=1)

    def _not_inside_followed(self, ready: List[int]) -> List[int]:
        """The new tracks ``ready`` whose body is not mostly inside the body of a confirmed track
        that took a detection this frame (a fragment of that person, or someone hidden behind
        them: they wait until they stand apart)."""
        tracks = self.tracks
        followed = np.flatnonzero((tracks.track_id != TRACK_ID_NONE) & tracks.matched)
        if not len(followed):
            return ready
        boxes = self._boxes(np.asarray(ready + followed.tolist()))
        new, old = boxes[:len(ready)], boxes[len(ready):]
        low = np.maximum(new[:, None, :2], old[None, :, :2])
        high = np.minimum(new[:, None, 2:], old[None, :, 2:])
        inside = np.prod(np.maximum(high - low, 0.0), axis=2)
        area = np.maximum(np.prod(new[:, 2:] - new[:, :2], axis=1), 1.0)
        held = (inside / area[:, None]).max(axis=1) > HOLD_INSIDE
        return [row for row, hold in zip(ready, held.tolist()) if not hold]

    def _boxes(self, rows: np.ndarray) -> np.ndarray:
        """[R, 4] boxes around the known joints of tracks ``rows`` as they are now."""
        tracks = self.tracks
        joints = tracks.centre[rows][:, None] + tracks.offset[rows] * tracks.unit[rows][:, None, None]
        known = tracks.known[rows][:, :, None]
        return np.concatenate([np.where(known, joints, np.inf).min(axis=1),
                               np.where(known, joints, -np.inf).max(axis=1)], axis=1)

    def _same_motion(self, old: np.ndarray, new: np.ndarray) -> np.ndarray:
        """[O, N] in (0, 1]: how well the velocities of new tracks agree with those of old ones
        (someone walking the other way is not the lost person)."""
        tracks = self.tracks
        difference2 = ((tracks.velocity[old][:, None] - tracks.velocity[new][None]) ** 2).sum(axis=2)
        room = (tracks.p11[old][:, None] + tracks.p11[new][None] + (RECOVER_SPEED * tracks.size[old][:, None]) ** 2)
        return np.exp(-difference2 / (2.0 * room))

    def _merge_shadows(self, rows: np.ndarray, dt: float) -> np.ndarray:
        """Two confirmed tracks on one person: the unmatched one predicts onto the matched one's
        detection. After SHADOW_S of that it ends (the published id stays)."""
        tracks = self.tracks
        confirmed = tracks.track_id != TRACK_ID_NONE
        idle = np.flatnonzero(confirmed & ~tracks.matched)
        busy = [d for d in range(len(rows)) if confirmed[rows[d]]]
        tracks.shadow_s[~confirmed | tracks.matched] = 0.0
        if not len(idle) or not busy:
            return rows
        sizes = _similar_size(tracks.size[idle][:, None], tracks.size[rows[busy]][None, :])
        similarity = self._pairs[np.ix_(idle, busy)] * sizes
        best = similarity.argmax(axis=1)
        shadowing = similarity[np.arange(len(idle)), best] >= SHADOW_SIMILARITY
        tracks.shadow_s[idle] = np.where(shadowing, tracks.shadow_s[idle] + dt, 0.0)
        gone = np.zeros(len(tracks), bool)
        for i in np.flatnonzero(tracks.shadow_s[idle] >= SHADOW_S).tolist():
            shadow = int(idle[i])
            gone[shadow] = True  # the id being published stays: no switch at the merge
        return self._drop(rows, gone)

    def _bound(self, rows: np.ndarray) -> np.ndarray:
        """At most max_tracks: new tracks go first, then those unseen longest."""
        tracks = self.tracks
        excess = len(tracks) - self.config.max_tracks
        if excess <= 0:
            return rows
        worth = tracks.last_hit_s + np.where(tracks.track_id != TRACK_ID_NONE, 1e9, 0.0)
        gone = np.zeros(len(tracks), bool)
        gone[np.argsort(worth, kind="stable")[:excess]] = True
        return self._drop(rows, gone)

    def _drop(self, rows: np.ndarray, gone: np.ndarray) -> np.ndarray:
        """Remove the ``gone`` tracks; detections on them become untracked (-1); rows renumbered."""
        if not gone.any():
            return rows
        new_row = np.cumsum(~gone) - 1
        self.tracks.keep(~gone)
        self._pairs = self._pairs[~gone[:len(self._pairs)]]
        return np.where((rows >= 0) & ~gone[np.maximum(rows, 0)], new_row[np.maximum(rows, 0)], -1)

    def _publish(self, people: People, rows: np.ndarray, time_s: float, reason: Optional[str]) -> TrackedPeople:
        tracked = rows >= 0
        ids = np.full(len(people), TRACK_ID_NONE, np.int32)
        ids[tracked] = self.tracks.track_id[rows[tracked]]
        keypoints = people.keypoints
        if self.config.smoothing and tracked.any():
            keypoints = keypoints.copy()
            smoothers = self.tracks.smoothers
            for index in np.flatnonzero(tracked).tolist():
                keypoints[index] = smoothers[rows[index]](people.keypoints[index], time_s)
        keep = np.ones(len(people), bool) if self.config.publish_unconfirmed else ids != TRACK_ID_NONE
        return TrackedPeople(People(keypoints[keep], people.scores[keep]), ids[keep], reason)


def _similar_size(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 for equal sizes, falling to 0 at a ratio of 2."""
    ratio = np.maximum(a, b) / np.maximum(np.minimum(a, b), 1e-9)
    return np.clip(2.0 - ratio, 0.0, 1.0)
