"""Skeleton overlays for debug images and `litepose predict --draw`.

With track ids, a person keeps one colour while tracked and gets a box labelled with id and
score; untracked people (id -1) are grey. Line widths grow with the image so that a 640x480
view stays readable on dark scenes.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from ..common.people import People

_PALETTE = (
    (255, 128, 0), (0, 200, 255), (80, 220, 80), (255, 64, 200), (0, 128, 255),
    (200, 200, 0), (128, 0, 255), (0, 255, 160),
)
_UNTRACKED = (170, 170, 170)


def person_color(index: int) -> Tuple[int, int, int]:
    return _PALETTE[index % len(_PALETTE)]


def line_thickness(image: np.ndarray) -> int:
    """3 px at 640x480, scaled with the larger side."""
    return max(2, int(round(max(image.shape[:2]) / 213.0)))


def draw_people(
    image: np.ndarray, people: People, skeleton: Sequence[Tuple[int, int]], min_keypoint_score: float = 0.0,
    track_ids: Optional[Sequence[int]] = None,
) -> np.ndarray:
    """Return a copy of the BGR image with each person's limbs and keypoints drawn; with
    ``track_ids`` (one per person) colours follow the ids and boxes carry id and score."""
    canvas = image.copy()
    thickness = line_thickness(image)
    boxes = people.boxes()
    for index, person in enumerate(people.keypoints):
        if track_ids is None:
            color = person_color(index)
        else:
            color = person_color(int(track_ids[index])) if track_ids[index] >= 0 else _UNTRACKED
        visible = person[:, 2] > min_keypoint_score
        points = [(int(round(x)), int(round(y))) for x, y in person[:, :2]]
        for a, b in skeleton:
            if visible[a] and visible[b]:
                cv2.line(canvas, points[a], points[b], color, thickness, cv2.LINE_AA)
        for joint in np.flatnonzero(visible):
            cv2.circle(canvas, points[joint], thickness + 2, color, -1, cv2.LINE_AA)
            cv2.circle(canvas, points[joint], thickness + 2, (0, 0, 0), 1, cv2.LINE_AA)  # seen on light clothes
        if track_ids is not None:
            _label_box(canvas, boxes[index], int(track_ids[index]), float(people.scores[index]), color, thickness)
    return canvas


def _label_box(canvas: np.ndarray, box: np.ndarray, track_id: int, score: float,
               color: Tuple[int, int, int], thickness: int) -> None:
    pad = 2 * thickness
    x0, y0 = int(box[0]) - pad, int(box[1]) - pad
    x1, y1 = int(np.ceil(box[2])) + pad, int(np.ceil(box[3])) + pad
    cv2.rectangle(canvas, (x0, y0), (x1, y1), color, max(1, thickness - 1), cv2.LINE_AA)
    text = "{} {:.2f}".format("id {}".format(track_id) if track_id >= 0 else "new", score)
    font_scale = 0.25 * thickness
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, max(1, thickness - 1))
    top = max(y0 - height - baseline - 2, 0)
    cv2.rectangle(canvas, (x0, top), (x0 + width + 4, top + height + baseline + 2), color, -1)
    cv2.putText(canvas, text, (x0 + 2, top + height + 1), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0),
                max(1, thickness - 1), cv2.LINE_AA)
