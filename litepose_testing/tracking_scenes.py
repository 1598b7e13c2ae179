"""Synthetic tracking scenes with known identities, scored with ``motmetrics`` (MOTA, IDF1, ID
switches). Shared by test/test_tracking.py and bench/bench_tracking.py; not needed at run time.

A person is a COCO pose template (units of body height, origin at the box centre) scaled to a
height in pixels and moved along a straight path; each frame adds keypoint jitter, keypoints
not found, missed people and spurious people, and hands the detections over in random order
(the decoder sorts by score, not by identity).
"""
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from litepose_ros.common.keypoints import COCO
from litepose_ros.common.people import People
from litepose_ros.tracking import TRACK_ID_NONE, PersonTracker, TrackerConfig

_STANDING = np.array([
    (0.0, -0.44), (0.02, -0.46), (-0.02, -0.46), (0.05, -0.45), (-0.05, -0.45),
    (0.12, -0.32), (-0.12, -0.32), (0.15, -0.12), (-0.15, -0.12), (0.16, 0.05), (-0.16, 0.05),
    (0.08, 0.02), (-0.08, 0.02), (0.09, 0.25), (-0.09, 0.25), (0.09, 0.48), (-0.09, 0.48),
])


def _variant(changes: Dict[int, Tuple[float, float]]) -> np.ndarray:
    pose = _STANDING.copy()
    for joint, xy in changes.items():
        pose[joint] = xy
    return pose


# Keypoint layouts that differ where people overlap when crossing: the arms and the legs.
TEMPLATES = {
    "standing": _STANDING,
    "arms_up": _variant({7: (0.2, -0.45), 8: (-0.2, -0.45), 9: (0.22, -0.6), 10: (-0.22, -0.6)}),
    "arms_out": _variant({7: (0.3, -0.32), 8: (-0.3, -0.32), 9: (0.46, -0.32), 10: (-0.46, -0.32)}),
    # the same box as "standing" (elbows as wide as standing's wrists): only keypoints differ
    "hands_on_hips": _variant({7: (0.16, -0.15), 8: (-0.16, -0.15), 9: (0.08, 0.0), 10: (-0.08, 0.0)}),
    "wide_stance": _variant({13: (0.16, 0.25), 14: (-0.16, 0.25), 15: (0.24, 0.48), 16: (-0.24, 0.48)}),
}


class Walker(NamedTuple):
    start: Tuple[float, float]  # box centre at t = 0, pixels
    velocity: Tuple[float, float]  # pixels / s
    height: float  # pixels
    template: str
    hidden: Sequence[Tuple[float, float]] = ()  # (from_s, to_s): not detected (occluded)

    def keypoints(self, time_s: float) -> np.ndarray:
        centre = np.asarray(self.start) + np.asarray(self.velocity) * time_s
        return centre + TEMPLATES[self.template] * self.height

    def visible(self, time_s: float) -> bool:
        return not any(a <= time_s < b for a, b in self.hidden)


class Scene(NamedTuple):
    name: str
    walkers: Sequence[Walker]
    times_s: np.ndarray  # frame stamps (seconds), in arrival order
    miss_rate: float = 0.0  # share of people not detected in a frame
    spurious_rate: float = 0.0  # spurious people per true detection
    jitter: float = 0.01  # keypoint noise, share of body height
    seed: int = 0


class Frame(NamedTuple):
    stamp_ns: int
    people: People
    truth: np.ndarray  # int [N]: walker index per detection, -1 for spurious
    truth_boxes: Dict[int, np.ndarray]  # walker index -> noiseless box, for every visible walker


def frames(scene: Scene, image_size: Tuple[int, int] = (640, 480)) -> List[Frame]:
    rng = np.random.RandomState(scene.seed)
    out = []
    for time_s in scene.times_s:
        poses, truth, boxes = [], [], {}
        for index, walker in enumerate(scene.walkers):
            if not walker.visible(time_s):
                continue
            exact = walker.keypoints(time_s)
            boxes[index] = np.concatenate([exact.min(axis=0), exact.max(axis=0)])
            if rng.uniform() < scene.miss_rate:
                continue
            poses.append(exact + rng.normal(0.0, scene.jitter * walker.height, exact.shape))
            truth.append(index)
        for _ in range(rng.poisson(scene.spurious_rate * max(len(boxes), 1))):
            template = TEMPLATES[sorted(TEMPLATES)[rng.randint(len(TEMPLATES))]]
            poses.append(rng.uniform((0, 0), image_size) + template * rng.uniform(80, 300))
            truth.append(-1)
        out.append(Frame(int(round(time_s * 1e9)) + 1700000000 * 10 ** 9, _as_people(poses, rng),
                         np.array(truth, int), boxes))
    for frame in out:  # the decoder's order says nothing about identity
        order = rng.permutation(len(frame.people))
        frame.people.keypoints[:] = frame.people.keypoints[order]
        frame.people.scores[:] = frame.people.scores[order]
        frame.truth[:] = frame.truth[order]
    return out


def _as_people(poses: List[np.ndarray], rng: np.random.RandomState) -> People:
    if not poses:
        return People.empty(COCO.num_joints)
    keypoints = np.zeros((len(poses), COCO.num_joints, 3), np.float32)
    keypoints[:, :, :2] = poses
    keypoints[:, :, 2] = rng.uniform(0.3, 0.9, keypoints.shape[:2]) * (rng.uniform(size=keypoints.shape[:2]) > 0.1)
    return People(keypoints, keypoints[:, :, 2].mean(axis=1).astype(np.float32))


def steady_times(duration_s: float, rate_hz: float) -> np.ndarray:
    return np.arange(0.0, duration_s, 1.0 / rate_hz)


def varying_times(duration_s: float, low_hz: float, high_hz: float, seed: int = 0) -> np.ndarray:
    """Frame period drawn anew every second between 1/high_hz and 1/low_hz."""
    rng = np.random.RandomState(seed)
    times, t = [], 0.0
    while t < duration_s:
        rate = rng.uniform(low_hz, high_hz)
        for _ in range(max(int(rate), 1)):
            times.append(t)
            t += 1.0 / rate
    return np.array(times)


def dropped(times: np.ndarray, share: float, seed: int = 0) -> np.ndarray:
    """Frames lost at random (a busy network or a slow model)."""
    return times[np.random.RandomState(seed).uniform(size=len(times)) >= share]


def scenes() -> List[Scene]:
    """The standard scenes of the test and the benchmark (640x480, 30 Hz unless stated)."""
    crossing = [Walker((100, 240), (120, 0), 220, "arms_up"), Walker((540, 240), (-120, 0), 220, "standing")]
    side = [Walker((100, 200), (90, 10), 200, "standing"), Walker((170, 200), (90, 10), 200, "arms_out")]
    crowd = [Walker((80, 150), (60, 20), 180, "standing"), Walker((560, 160), (-50, 30), 200, "arms_up"),
             Walker((320, 330), (20, -30), 220, "arms_out"), Walker((200, 380), (40, -10), 160, "wide_stance")]
    occluded = [Walker((60, 240), (100, 0), 200, "standing", hidden=((1.5, 2.5),)),
                Walker((500, 250), (0, 0), 210, "arms_out")]
    return [
        Scene("crossing", crossing, steady_times(4.0, 30.0)),
        Scene("crossing, 5 Hz", crossing, steady_times(4.0, 5.0), seed=1),
        Scene("side by side", side, steady_times(4.0, 30.0), seed=2),
        Scene("occluded 1 s", occluded, steady_times(4.0, 15.0), seed=3),
        Scene("10% missed, 5% spurious", crowd, steady_times(6.0, 15.0), miss_rate=0.1, spurious_rate=0.05, seed=4),
        Scene("30% frames dropped", crowd, dropped(steady_times(6.0, 30.0), 0.3, seed=5), seed=5),
        Scene("rate 5-30 Hz", crowd + crossing, varying_times(6.0, 5.0, 30.0, seed=6), seed=6),
    ]


class Result(NamedTuple):
    metrics: Dict[str, float]  # mota, idf1, num_switches, ... (motmetrics names)
    ids_by_walker: Dict[int, List[int]]  # every distinct published id that covered each walker
    tracked: List[np.ndarray]  # per frame: published track ids
    resets: int


def run_tracker(scene_frames: Sequence[Frame], tracker: Optional[PersonTracker] = None,
                on_frame: Optional[Callable[[int], None]] = None, detected_truth: bool = True) -> Result:
    """Track the frames and score them against the truth with motmetrics (IoU >= 0.5 match).

    ``detected_truth``: the truth of a frame is the people the detector found in it, which is
    all a tracker of detections can publish; False adds the missed people (IDF1 with 10 %
    missed detections can then not exceed about 0.947).
    """
    import motmetrics

    tracker = tracker or PersonTracker(COCO.sigmas, TrackerConfig())
    accumulator = motmetrics.MOTAccumulator(auto_id=True)
    ids_by_walker: Dict[int, List[int]] = {}
    tracked = []
    for index, frame in enumerate(scene_frames):
        if on_frame:
            on_frame(index)
        result = tracker.update(frame.people, frame.stamp_ns)
        ids = result.track_ids
        tracked.append(ids)
        for walker, track_id in zip(frame.truth, ids):  # publish_unconfirmed keeps input order
            if walker >= 0 and track_id != TRACK_ID_NONE and track_id not in ids_by_walker.setdefault(walker, []):
                ids_by_walker[walker].append(int(track_id))
        hyp = ids != TRACK_ID_NONE
        truth_ids = sorted(set(frame.truth[frame.truth >= 0]) if detected_truth else frame.truth_boxes)
        truth_boxes = np.array([_xywh(frame.truth_boxes[i]) for i in truth_ids]).reshape(-1, 4)
        hyp_boxes = np.array([_xywh(b) for b in result.people.boxes()[hyp]]).reshape(-1, 4)
        distances = _iou_distances(motmetrics, truth_boxes, hyp_boxes)
        accumulator.update(truth_ids, [int(i) for i in ids[hyp]], distances)
    summary = motmetrics.metrics.create().compute(
        accumulator, metrics=["mota", "idf1", "num_switches", "num_false_positives", "num_misses",
                              "num_unique_objects", "mostly_tracked"])
    metrics = {key: float(summary[key].iloc[0]) for key in summary.columns}
    return Result(metrics, ids_by_walker, tracked, tracker.resets)


def _iou_distances(motmetrics: Any, truth: np.ndarray, hyp: np.ndarray, max_distance: float = 0.5) -> np.ndarray:
    """motmetrics.distances.iou_matrix, whose np.asfarray is gone from numpy 2 (motmetrics 1.4.0)."""
    if not truth.size or not hyp.size:
        return np.empty((0, 0))
    distance = 1.0 - motmetrics.distances.boxiou(truth[:, None], hyp[None, :])
    return np.where(distance > max_distance, np.nan, distance)


def _xywh(box: np.ndarray) -> List[float]:
    return [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]
