"""One frame, all the way: image (+ stamp, optional depth) -> people, track ids, 3D, timings.

``PoseEstimator`` stops at people; this adds what every caller did after it, in one place:
the published selection (``min_person_score``, ``max_people``), tracking and the lift to 3D.
The ROS node and ``litepose bag analyze`` call ``FrameProcessor.process`` and add only their
input and output (messages, bags, CSV). Pure Python: no ROS import.
"""
import threading
import time
from typing import Any, Dict, NamedTuple, Optional, Tuple

import numpy as np

from ..common.people import People
from .estimator import PoseEstimator, StageTimings


class FrameResult(NamedTuple):
    people: People  # what gets published, best first (smoothed keypoints when smoothing is on)
    track_ids: Optional[np.ndarray]  # int32 [N], -1 for no id yet; None with tracking off
    reset_reason: Optional[str]  # set when this frame reset the tracks (callers log it)
    positions: Optional[Any]  # People3D from depth, or None (no depth, or no pairing this frame)
    frame_id: str  # the 3D's frame: camera_info's, else the image's
    timings: StageTimings  # preprocess, inference, decode
    track_ms: float  # the selection and the tracker
    image_size: Tuple[int, int]  # (width, height) of the image the keypoints are in


def select_people(people: People, settings: Dict[str, Any]) -> People:
    """What gets published: best first, above min_person_score, at most max_people."""
    return people.filtered(float(settings["min_person_score"]), int(settings["max_people"]))


def track_people(tracker: Any, people: People, stamp_ns: int, image_size: Any = None
                 ) -> Tuple[People, Optional[np.ndarray], Optional[str]]:
    """The published people after tracking (all untracked with tracking off); ``image_size``
    (width, height) of the image the keypoints are in."""
    if tracker is None:
        return people, None, None
    return tracker.update(people, stamp_ns, image_size)


class FrameProcessor(object):
    """The per-frame chain shared by the node and ``bag analyze``.

    ``settings`` is the node's parameter dict; the selection reads it on every frame, under
    ``lock``, so run-time parameter changes (made under the same lock) apply from the next
    frame. ``tracker`` is a ``PersonTracker`` or None (tracking off)."""

    def __init__(self, estimator: PoseEstimator, settings: Dict[str, Any], tracker: Any = None,
                 lock: Optional[Any] = None) -> None:
        self.estimator, self.settings, self.tracker = estimator, settings, tracker
        self.lock = lock if lock is not None else threading.Lock()

    def process(self, image: np.ndarray, stamp_ns: int, lifter: Any = None, image_frame_id: str = ""
                ) -> FrameResult:
        """``lifter``: a ``depth.lift.DepthLifter`` (or None); ``image_frame_id`` names the 3D's frame
        when the camera_info has none. Model failures (``BackendError``) propagate."""
        people, timings = self.estimator.estimate(image)
        start = time.perf_counter()
        with self.lock:
            people = select_people(people, self.settings)
        height, width = image.shape[:2]
        people, track_ids, reset_reason = track_people(self.tracker, people, stamp_ns, (width, height))
        track_ms = (time.perf_counter() - start) * 1000.0
        positions, frame_id = None, ""
        if lifter is not None:
            positions, frame_id = lifter.lift(people.keypoints, stamp_ns, (width, height))
            frame_id = frame_id or image_frame_id
        return FrameResult(people, track_ids, reset_reason, positions, frame_id, timings, track_ms,
                           (width, height))
