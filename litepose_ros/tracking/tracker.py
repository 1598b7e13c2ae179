"""The person tracker: stable ids across frames, optional keypoint smoothing. Pure numpy/scipy.

Its parts: ``clock`` (header stamps -> tracker time), ``motion`` (the centre's Kalman filter),
``state`` (every track's state in arrays: tentative or confirmed, matched or coasting; motion and
shape), ``similarity`` (track x detection), ``smoothing`` (One Euro). Per frame
(``PersonTracker.update``):

1. ``StampClock`` turns the header stamp into tracker time: a frame a little out of order
   does not move time back, only a real jump back resets; stamps that stop advancing
   (drivers stamping 0, a paused clock) fall back to counting frames.
2. Tracks are predicted to that time; those without detections for too long end.
3. Every track against every detection (``similarity``). Hungarian matching: confirmed tracks
   seen lately first, then other confirmed ones, then tentative ones (so spurious detections
   cannot take a person from a new track).
4. A left-over detection and a left-over track seen a frame ago that are each other's only
   plausible partner match at a lower similarity, or where their boxes overlap (someone who
   turned round no longer fits the track's shape, but is where it predicts them). Two matches
   that could as well be swapped (people overlapping) stand, but publish no id this frame (an
   id flipping between two people is worse for a consumer than a frame without one).
   A detection matched while a confirmed track seen lately and left without one fits it about
   as well (two people close, one of them missed) publishes no id either.
   Matched tracks take the detection (motion, shape, and how loosely the person's joints
   fit the shape: noisy detections widen the tolerances); unmatched detections start
   tentative tracks, confirmed with an id after ``confirm_hits`` detections within
   ``confirm_window_s`` (at once for a confident, full skeleton at the image edge that no
   confirmed track resembles), unless they continue a recently lost track along its predicted
   path (that track's id comes back); one lying mostly inside a person tracked in this frame
   (a fragment of them, or someone behind them) waits for its id until it stands apart.
5. Of two confirmed tracks on one person (one follows the detections, the other shadows it)
   the shadow ends.

The node and ``litepose bag analyze`` both call this class (via the frame processor); the
defaults are the node parameter table's.
"""
import threading
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..common.people import People
from ..settings.parameters import BY_NAME
from . import similarity as similarity_model
from .clock import StampClock
from .smoothing import OneEuroFilter
from .state import TRACK_ID_NONE, TrackTable

OUT_MISSED_FRAMES = 2.5  # a track unseen for this many frame periods ends once predicted out of the image
RESCUE_FACTOR = 0.4  # a track seen in the last RESCUE_FRAMES frame periods and a left-over detection
RESCUE_FRAMES = 2.5  # that are each other's only candidate match at this multiple of track_min_similarity
# ... or whose boxes (over the joints both have) overlap this much (IoU), each other's only such
# candidate: a person who turned round or changed posture no longer fits the track's shape, but
# is where the track predicts them
RESCUE_BOX_IOU = 0.35
RESCUE_BOX_JOINTS = 6  # ... sharing at least this many joints
HOLD_INSIDE = 0.4  # a new track this much (area share) inside a followed person waits for its id
RECENT_S, RECENT_FRAMES = 0.3, 2.5  # tracks unseen for less (the longer of the two) choose first
RECOVER_FACTOR = 1.0  # a lost track is recovered at this multiple of track_min_similarity
SHADOW_SIMILARITY = 0.5  # an unmatched track this similar to a matched one's detection ...
SHADOW_S = 0.5  # ... for this long is a duplicate of it
# A clear, confident skeleton at the image edge (someone walking in) gets its id after
# FAST_CONFIRM_HITS detections instead of track_confirm_hits: false partial skeletons have few
# joints and low scores.
FAST_CONFIRM_HITS = 1
STRONG_JOINTS = 6  # at least this many joints ...
STRONG_SCORE = 0.4  # ... each scored at least this
EDGE_MARGIN = 0.1  # ... with a joint this close to the image edge (share of its width or height)
CONTEST_RATIO = 0.85  # a match a missed person's track nearly as similar to (this share) publishes no id
# Each track learns how loosely its person's detections fit the shape (a small person far off, a
# noisy model): the mean of their joints' squared distances, in units of twice the joint's
# tolerance and capped at FIT_CAP (outliers), over FIT_MEAN. Above 1 it widens the tolerances.
# FIT_MEAN is the bench's choice (bench/bench_tracking_peers.py, 8 seeds: 0.2-0.69 tried).
FIT_MEAN = 0.29
FIT_CAP = 3.0
AMBIGUOUS_RATIO = 0.8  # two matches that could as well be swapped (this close) publish no id this frame,
SWAP_FLOOR = 0.5  # counting swapped pairs down to this multiple of track_min_similarity


def _default(name: str) -> Any:
    return BY_NAME[name].default


class TrackerConfig(NamedTuple):
    """The tracker's settings; defaults, names and ranges are the node parameter table's
    (``settings.parameters.PARAMETERS``, ``track_*``, ``keypoint_smoothing``, ``smoothing_*``)."""

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


class PersonTracker(object):
    """Assigns track ids to the people of successive frames of one camera."""

    def __init__(self, sigmas: Sequence[float], config: Optional[TrackerConfig] = None) -> None:
        self.config = config or TrackerConfig()
        problem = self.config.problem()
        if problem:
            raise ValueError(problem)
        self.sigmas = np.asarray(sigmas, np.float64)
        self._tolerance2 = similarity_model.joint_tolerance2(self.sigmas)
        self._min_similarity = max(self.config.min_similarity, 1e-9)  # 0 would match anything
        self.tracks = TrackTable(len(self.sigmas))
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
        return int(np.count_nonzero(self.tracks.confirmed))

    def _reset(self) -> None:
        self.tracks = TrackTable(len(self.sigmas))  # next_id keeps counting: ids are never reused
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
        rows, centres, counts = self._associate(pairs[:3], keypoints)
        matched = rows >= 0
        unsure = self._ambiguous(rows) | self._contested(rows)
        if matched.any():
            dets = _nonzero(matched)
            tracks.update(rows[dets], keypoints[dets], centres[dets], counts[dets],
                          self._looseness(pairs[3][rows[dets], dets], rows[dets], keypoints[dets]))
        unmatched = _nonzero(~matched)
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
        threshold = self._min_similarity
        if not pairs.size or np.count_nonzero(pairs >= SWAP_FLOOR * threshold, axis=1).max() < 2:
            return out  # no track with two plausible detections: no swap (the usual frame, cheap)
        dets = _nonzero((rows >= 0) & (rows < len(pairs)))
        dets = dets[self.tracks.confirmed[rows[dets]]]
        if len(dets) < 2:
            return out
        square = pairs[_grid(rows[dets], dets)]  # [i, j]: track of detection i against detection j
        own = np.diag(square)
        swapped = square + square.T  # i's track takes j's detection and j's track takes i's
        kept = own[:, None] + own[None, :]
        plausible = np.minimum(square, square.T) >= SWAP_FLOOR * threshold
        np.fill_diagonal(plausible, False)
        out[dets] = (plausible & (swapped >= AMBIGUOUS_RATIO * kept)).any(axis=1)
        return out

    def _looseness(self, residual: np.ndarray, rows: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
        """[M] how loosely detections matched to tracks ``rows`` fit their shapes: the mean of
        their joints' normalised squared distances over that of a detector whose noise the
        tolerances describe; NaN with fewer than 4 joints shared."""
        shared = self.tracks.known[rows] & (keypoints[:, :, 2] > 0)
        count = shared.sum(axis=1)
        # a mean (a median costs more than the rest of the update), outliers capped
        mean = np.where(shared, np.minimum(residual, FIT_CAP), 0.0).sum(axis=1) / np.maximum(count, 1)
        return np.where(count >= 4, mean / FIT_MEAN, np.nan)

    def _contested(self, rows: np.ndarray) -> np.ndarray:
        """[D]: detections matched to confirmed tracks that another confirmed track, seen lately
        and left without a detection, resembles about as much (one of two people missed)."""
        pairs = self._pairs
        out = np.zeros(len(rows), bool)
        if not pairs.size:
            return out
        tracks = self.tracks
        count = len(pairs)
        taken = np.zeros(count, bool)
        taken[rows[(rows >= 0) & (rows < count)]] = True
        recent = self._recent()[:count]
        rivals = _nonzero(tracks.confirmed[:count] & ~taken & recent)
        if not len(rivals):
            return out
        dets = _nonzero((rows >= 0) & (rows < count))
        dets = dets[tracks.confirmed[rows[dets]]]
        if not len(dets):
            return out
        own = pairs[rows[dets], dets]
        best_rival = pairs[_grid(rivals, dets)].max(axis=0)
        threshold = self._min_similarity
        out[dets] = (best_rival >= threshold) & (best_rival >= CONTEST_RATIO * own)
        return out

    def _recent(self) -> np.ndarray:
        """[T]: tracks seen lately (within RECENT_S or RECENT_FRAMES frame periods, the longer)."""
        tracks = self.tracks
        return tracks.time_s - tracks.last_hit_s <= max(RECENT_S, RECENT_FRAMES * self.clock.period_s)

    def _smoother(self) -> Optional[Callable[[], OneEuroFilter]]:
        if not self.config.smoothing:
            return None
        return lambda: OneEuroFilter(len(self.sigmas), self.config.smoothing_min_cutoff_hz, self.config.smoothing_beta)

    def _end_lost(self, time_s: float, image_size: Optional[Tuple[int, int]]) -> None:
        """End tracks unseen too long, and unseen ones predicted to have walked out of the
        image (most of their joints outside): someone entering there is someone else."""
        tracks = self.tracks
        unseen_s = time_s - tracks.last_hit_s
        alive = unseen_s <= np.where(tracks.confirmed, self.config.coast_s, self.config.confirm_window_s)
        missed = _nonzero(alive & (unseen_s > OUT_MISSED_FRAMES * self.clock.period_s))
        if len(missed) and image_size is not None:
            joints, known = tracks.joints(missed), tracks.known[missed]
            outside = ((joints < 0.0) | (joints > np.asarray(image_size, np.float64))).any(axis=2) & known
            alive[missed] = outside.sum(axis=1) * 2 <= known.sum(axis=1)
        if not alive.all():
            tracks.keep(alive)

    def _associate(self, pairs: Tuple[np.ndarray, np.ndarray, np.ndarray], keypoints: np.ndarray
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
        confirmed = tracks.confirmed
        # tracks seen lately choose first: a long-unseen track's wide prediction must not take
        # a person from the track that has been following them
        recent = self._recent()
        threshold = self._min_similarity
        for stage in (confirmed & recent, confirmed & ~recent, ~confirmed):
            candidates = _nonzero(stage)
            if not len(candidates) or not len(free):
                continue
            grid = _grid(candidates, free)
            similarity, centre, common = all_similarity[grid], all_centre[grid], all_common[grid]
            track, det = linear_sum_assignment(-similarity)
            good = similarity[track, det] >= threshold
            track, det = track[good], det[good]
            rows[free[det]] = candidates[track]
            centres[free[det]] = centre[track, det]
            shared[free[det]] = common[track, det]
            free = free[rows[free] < 0]
        if len(free):  # detections left over: recent tracks left over may rescue them
            last_frame = tracks.time_s - tracks.last_hit_s <= RESCUE_FRAMES * self.clock.period_s + 1e-9
            self._rescue(all_similarity, all_centre, all_common, rows, centres, shared, confirmed & last_frame)
            self._rescue_by_box(keypoints, all_centre, all_common, rows, centres, shared, confirmed & last_frame)
        return rows, centres, shared

    def _rescue(self, similarity: np.ndarray, centre: np.ndarray, common: np.ndarray, rows: np.ndarray,
                centres: np.ndarray, shared: np.ndarray, eligible: np.ndarray) -> None:
        """A detection left over and a recent track left over that are each other's only
        plausible partner match at a lower similarity (a frame where the person looked odd)."""
        free, idle = _left_over(rows, eligible)
        if not len(free) or not len(idle):
            return
        floor = RESCUE_FACTOR * self._min_similarity
        # rivals are confirmed tracks: a new track's wide prediction (often noise) blocks no rescue
        rivals = np.where(self.tracks.confirmed[:, None], similarity, 0.0)
        for det in free.tolist():
            column = similarity[:, det]
            track = int(idle[np.argmax(column[idle])])
            best = column[track]
            others = np.delete(rivals[:, det], track)
            rival = np.delete(similarity[track], det)
            if best >= floor and (not len(others) or others.max() < 0.5 * best) and \
                    (not len(rival) or rival.max() < 0.5 * best) and track not in rows:
                rows[det], centres[det], shared[det] = track, centre[track, det], common[track, det]

    def _rescue_by_box(self, keypoints: np.ndarray, centre: np.ndarray, common: np.ndarray, rows: np.ndarray,
                       centres: np.ndarray, shared: np.ndarray, eligible: np.ndarray) -> None:
        """A detection left over and a recent track left over whose boxes overlap, each the other's
        only such candidate, match (someone who turned round or changed posture: the shape no
        longer fits, the place does)."""
        free, idle = _left_over(rows, eligible)
        free = free[(keypoints[free, :, 2] > 0).sum(axis=1) >= RESCUE_BOX_JOINTS]  # the others overlap nothing
        if not len(free) or not len(idle):
            return
        overlap = self._box_overlap(idle, keypoints[free])  # [I, F]
        for column in np.argsort(-overlap.max(axis=0), kind="stable").tolist():
            track = int(np.argmax(overlap[:, column]))
            best = overlap[track, column]
            if best < RESCUE_BOX_IOU or idle[track] in rows:
                continue
            # each other's only candidate: the runner-up of either is under half as good
            if _second(overlap[:, column]) < 0.5 * best and _second(overlap[track]) < 0.5 * best:
                row, det = int(idle[track]), int(free[column])
                rows[det], centres[det], shared[det] = row, centre[row, det], common[row, det]

    def _box_overlap(self, rows: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
        """[R, D] IoU of the boxes of tracks ``rows`` (their predicted joints) and of detections,
        each box over the joints the two share; 0 for pairs sharing fewer than RESCUE_BOX_JOINTS."""
        tracks = self.tracks
        both = tracks.known[rows][:, None, :] & (keypoints[:, :, 2] > 0)[None]  # [R, D, J]
        track_low, track_high = _bounds(tracks.joints(rows)[:, None], both)
        seen_low, seen_high = _bounds(keypoints[None, :, :, :2].astype(np.float64), both)
        inside = np.prod(np.maximum(np.minimum(track_high, seen_high) - np.maximum(track_low, seen_low), 0.0), axis=2)
        union = np.prod(track_high - track_low, axis=2) + np.prod(seen_high - seen_low, axis=2) - inside
        return np.where(both.sum(axis=2) >= RESCUE_BOX_JOINTS, inside / np.maximum(union, 1e-9), 0.0)

    def similarity(self, rows: np.ndarray, keypoints: np.ndarray
                   ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Track ``rows`` x detections: ``similarity.similarity`` with this tracker's tolerances."""
        return similarity_model.similarity(self.tracks, rows, keypoints, self._tolerance2)

    def _confirm(self, time_s: float, rows: np.ndarray, keypoints: np.ndarray,
                 image_size: Optional[Tuple[int, int]]) -> np.ndarray:
        """New tracks with enough hits get an id: a lost track's, if they continue its path."""
        tracks = self.tracks
        window = self.config.confirm_window_s
        tentative = _nonzero(rows >= 0)
        tentative = tentative[~tracks.confirmed[rows[tentative]]]
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
        lost = _nonzero(tracks.coasting)
        gone = np.zeros(len(tracks), bool)
        if len(lost):
            detections = np.array([int(_nonzero(rows == row)[0]) for row in ready])
            similarity = self._pairs[_grid(lost, detections)] * similarity_model.same_motion(
                tracks, lost, np.asarray(ready))
            track, det = linear_sum_assignment(-similarity)
            good = similarity[track, det] >= RECOVER_FACTOR * self._min_similarity
            for old, new in zip(lost[track[good]].tolist(), np.asarray(ready)[det[good]].tolist()):
                tracks.copy_state(new, old)  # the lost person is back: their id continues
                rows[rows == new] = old
                gone[new] = True
        for row in ready:
            if not gone[row]:
                tracks.confirm(row, self.next_id)
                self.next_id += 1
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
        followed = _nonzero(tracks.confirmed & tracks.matched)
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
        return np.concatenate(_bounds(self.tracks.joints(rows), self.tracks.known[rows]), axis=1)

    def _merge_shadows(self, rows: np.ndarray, dt: float) -> np.ndarray:
        """Two confirmed tracks on one person: the unmatched one predicts onto the matched one's
        detection. After SHADOW_S of that it ends (the published id stays)."""
        tracks = self.tracks
        confirmed = tracks.confirmed
        idle = _nonzero(confirmed & ~tracks.matched)
        busy = _nonzero((rows >= 0) & confirmed[np.maximum(rows, 0)])  # detections on confirmed tracks
        tracks.shadow_s[~confirmed | tracks.matched] = 0.0
        if not len(idle) or not len(busy):
            return rows
        sizes = similarity_model.similar_size(tracks.size[idle][:, None], tracks.size[rows[busy]][None, :])
        similarity = self._pairs[_grid(idle, busy)] * sizes
        best = similarity.argmax(axis=1)
        shadowing = similarity[np.arange(len(idle)), best] >= SHADOW_SIMILARITY
        tracks.shadow_s[idle] = np.where(shadowing, tracks.shadow_s[idle] + dt, 0.0)
        gone = np.zeros(len(tracks), bool)
        for i in _nonzero(tracks.shadow_s[idle] >= SHADOW_S).tolist():
            shadow = int(idle[i])
            gone[shadow] = True  # the id being published stays: no switch at the merge
        return self._drop(rows, gone)

    def _bound(self, rows: np.ndarray) -> np.ndarray:
        """At most max_tracks: new tracks go first, then those unseen longest."""
        tracks = self.tracks
        excess = len(tracks) - self.config.max_tracks
        if excess <= 0:
            return rows
        worth = tracks.last_hit_s + np.where(tracks.confirmed, 1e9, 0.0)
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
            for index in _nonzero(tracked).tolist():
                keypoints[index] = smoothers[rows[index]](people.keypoints[index], time_s)
        keep = np.ones(len(people), bool) if self.config.publish_unconfirmed else ids != TRACK_ID_NONE
        return TrackedPeople(People(keypoints[keep], people.scores[keep]), ids[keep], reason)


def _grid(rows: np.ndarray, columns: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Index of the rows x columns block of a matrix (``np.ix_`` without its checks: it costs
    more than the indexing itself at a few people)."""
    return rows[:, None], columns[None, :]


def _left_over(rows: np.ndarray, eligible: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Detections without a track (``rows`` < 0) and ``eligible`` tracks without a detection."""
    taken = np.zeros(len(eligible), bool)
    taken[rows[rows >= 0]] = True
    return _nonzero(rows < 0), _nonzero(eligible & ~taken)


def _bounds(points: np.ndarray, mask: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Lower and upper corners [..., 2] of the box around the masked points ([..., J, 2] points,
    [..., J] mask, broadcast together); both 0 where no point is masked."""
    some = mask.any(axis=-1)[..., None]
    mask = mask[..., None]
    low = np.where(some, np.where(mask, points, np.inf).min(axis=-2), 0.0)
    high = np.where(some, np.where(mask, points, -np.inf).max(axis=-2), 0.0)
    return low, high


def _second(values: np.ndarray) -> float:
    """The second largest of ``values`` (0 with fewer than two)."""
    return float(np.partition(values, -2)[-2]) if len(values) >= 2 else 0.0


def _nonzero(mask: np.ndarray) -> np.ndarray:
    """Indices where a 1-D mask is true (``np.flatnonzero`` without its ravel)."""
    return mask.nonzero()[0]
