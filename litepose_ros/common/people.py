"""The decoder's result: every person's keypoints and score, in one coordinate frame."""
from typing import Dict, List, NamedTuple

import numpy as np


class People(NamedTuple):
    """``keypoints`` is float32 [N, J, 3] (x, y, score); ``scores`` is float32 [N].

    A keypoint with score 0 was not found. Coordinates are continuous pixel coordinates
    (pixel i spans [i, i+1)) of whatever image the producer states: network input for the
    decoder, source image after ``Letterbox.to_source``.
    """

    keypoints: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls, num_joints: int) -> "People":
        return cls(np.zeros((0, num_joints, 3), np.float32), np.zeros((0,), np.float32))

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.keypoints.shape[1])

    def boxes(self) -> np.ndarray:
        """Tight [N, 4] boxes (x_min, y_min, x_max, y_max) around each person's found keypoints."""
        found = (self.keypoints[:, :, 2] > 0)[:, :, None]
        xy = self.keypoints[:, :, :2]
        lower = np.where(found, xy, np.float32(np.inf)).min(axis=1, initial=np.inf)
        upper = np.where(found, xy, np.float32(-np.inf)).max(axis=1, initial=-np.inf)
        boxes = np.concatenate([lower, upper], axis=1).astype(np.float32)
        boxes[~found[:, :, 0].any(axis=1)] = 0.0  # nobody found: all zero
        return boxes

    def filtered(self, min_score: float = 0.0, max_people: int = 0) -> "People":
        """People with score >= min_score, best first, at most max_people (0 = no limit)."""
        order = np.argsort(-self.scores, kind="stable")
        order = order[self.scores[order] >= min_score]
        if max_people > 0:
            order = order[:max_people]
        return People(self.keypoints[order], self.scores[order])

    def clipped_to_image(self, width: int, height: int, margin_fraction: float = 0.02) -> "People":
        """Keep keypoints on the image, as consumers of source-pixel coordinates expect.

        The decoder can place keypoints in the letterbox padding, mostly when refinement fills
        in joints it did not find. Those more than a small margin outside the image become
        "not found" (score 0), every coordinate is clamped into [0, width] x [0, height], and
        people left without any found keypoint are dropped.
        """
        if len(self) == 0:
            return self
        keypoints = self.keypoints.copy()
        margin = margin_fraction * max(width, height)
        x, y = keypoints[..., 0], keypoints[..., 1]
        outside = (x < -margin) | (x > width + margin) | (y < -margin) | (y > height + margin)
        keypoints[..., 2][outside] = 0.0
        np.clip(x, 0.0, float(width), out=x)
        np.clip(y, 0.0, float(height), out=y)
        keep = (keypoints[..., 2] > 0).any(axis=1)
        return People(keypoints[keep], self.scores[keep])

    def to_coco_results(self, image_id: int, category_id: int = 1) -> List[Dict[str, object]]:
        """COCO keypoint results, one dict per person."""
        return [
            {
                "image_id": int(image_id),
                "category_id": int(category_id),
                "keypoints": [round(float(v), 3) for v in person.reshape(-1)],
                "score": float(score),
            }
            for person, score in zip(self.keypoints, self.scores)
        ]
