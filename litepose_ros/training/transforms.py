"""Geometric augmentation applied identically to image, joints and ignore masks.

Coordinates are continuous (pixel i spans [i, i+1)), as in ``preprocess.Letterbox``:
without augmentation a training sample is exactly the letterboxed image inference sees.
Every transform is one 2x3 affine matrix from source pixels to network-input pixels; the
masks reuse it, scaled to each output resolution, so the three can never disagree.
"""
from typing import NamedTuple, Sequence, Tuple

import cv2
import numpy as np

from ..preprocess import Letterbox


class AugmentConfig(NamedTuple):
    """Reference ranges (LitePose / HigherHRNet training settings)."""

    max_rotation: float = 30.0  # degrees, uniform in [-max, max]
    min_scale: float = 0.75
    max_scale: float = 1.5
    max_translate: float = 40.0  # network-input pixels, uniform in [-max, max] per axis
    flip_prob: float = 0.5


NO_AUGMENT = AugmentConfig(0.0, 1.0, 1.0, 0.0, 0.0)


class AugmentParams(NamedTuple):
    rotation: float = 0.0
    scale: float = 1.0
    translate: Tuple[float, float] = (0.0, 0.0)
    flip: bool = False

    @classmethod
    def sample(cls, config: AugmentConfig, rng: np.random.Generator) -> "AugmentParams":
        return cls(
            rotation=float(rng.uniform(-config.max_rotation, config.max_rotation)),
            scale=float(rng.uniform(config.min_scale, config.max_scale)),
            translate=(float(rng.uniform(-config.max_translate, config.max_translate)),
                       float(rng.uniform(-config.max_translate, config.max_translate))),
            flip=bool(rng.random() < config.flip_prob),
        )


def _homogeneous(matrix: np.ndarray) -> np.ndarray:
    return np.vstack([matrix, [0.0, 0.0, 1.0]])


def input_matrix(width: int, height: int, input_size: Tuple[int, int], params: AugmentParams) -> np.ndarray:
    """2x3 map from source to input pixels: letterbox, then rotate/scale about the input centre, shift, flip."""
    in_w, in_h = input_size
    box = Letterbox.fit(width, height, in_w, in_h)
    letterbox = np.array([[box.scale_x, 0, box.pad_x], [0, box.scale_y, box.pad_y], [0, 0, 1]], np.float64)
    cx, cy = in_w / 2.0, in_h / 2.0
    # Positive angles turn the image counter-clockwise on screen (OpenCV's convention).
    around = cv2.getRotationMatrix2D((cx, cy), params.rotation, params.scale)
    shift = np.array([[1, 0, params.translate[0]], [0, 1, params.translate[1]], [0, 0, 1]], np.float64)
    matrix = shift @ _homogeneous(around) @ letterbox
    if params.flip:
        matrix = np.array([[-1, 0, in_w], [0, 1, 0], [0, 0, 1]], np.float64) @ matrix
    return matrix[:2]


def scaled(matrix: np.ndarray, factor: float) -> np.ndarray:
    """The same map into an image ``factor`` times the size (e.g. 1/4 for the stride-4 output)."""
    return matrix * factor


def _index_matrix(matrix: np.ndarray) -> np.ndarray:
    # cv2.warpAffine places pixel centres at integers; ours are at i + 0.5.
    out = matrix.copy()
    out[:, 2] += matrix[:, :2].sum(axis=1) * 0.5 - 0.5
    return out


def warp(image: np.ndarray, matrix: np.ndarray, size: Tuple[int, int], border: float = 0.0,
         interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Warp ``image`` with a continuous-coordinate matrix into a ``size`` = (w, h) canvas."""
    return cv2.warpAffine(image, _index_matrix(matrix), size, flags=interpolation,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def transform_joints(joints: np.ndarray, matrix: np.ndarray, flip: bool, flip_index: Sequence[int]) -> np.ndarray:
    """[N, J, 3] (x, y, v) -> the same in the transformed frame; a flip also swaps left and right."""
    out = joints.astype(np.float32, copy=True)
    xy = joints[..., :2].astype(np.float64)
    out[..., :2] = xy @ matrix[:, :2].T + matrix[:, 2]
    if flip:
        out = out[:, list(flip_index)]
    out[out[..., 2] <= 0] = 0.0  # unlabelled joints keep (0, 0, 0), as in the annotations
    return out

