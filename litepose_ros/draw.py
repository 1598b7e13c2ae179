"""Skeleton overlays for debug images and `litepose predict --draw`."""
from typing import Sequence, Tuple

import cv2
import numpy as np

from .people import People

_PALETTE = (
    (255, 128, 0), (0, 200, 255), (80, 220, 80), (255, 64, 200), (0, 128, 255),
    (200, 200, 0), (128, 0, 255), (0, 255, 160),
)


def person_color(index: int) -> Tuple[int, int, int]:
    return _PALETTE[index % len(_PALETTE)]


def draw_people(
    image: np.ndarray, people: People, skeleton: Sequence[Tuple[int, int]], min_keypoint_score: float = 0.0
) -> np.ndarray:
    """Return a copy of the BGR image with each person's limbs and keypoints drawn."""
    canvas = image.copy()
    thickness = max(1, int(round(max(image.shape[:2]) / 320.0)))
    for index, person in enumerate(people.keypoints):
        color = person_color(index)
        visible = person[:, 2] > min_keypoint_score
        points = [(int(round(x)), int(round(y))) for x, y in person[:, :2]]
        for a, b in skeleton:
            if visible[a] and visible[b]:
                cv2.line(canvas, points[a], points[b], color, thickness, cv2.LINE_AA)
        for joint in np.flatnonzero(visible):
            cv2.circle(canvas, points[joint], thickness + 1, color, -1, cv2.LINE_AA)
    return canvas
