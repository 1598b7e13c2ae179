"""Geometric augmentation applied identically to image, joints and ignore masks.

The default geometry is the official LitePose one (HigherHRNet's ``RandomAffineTransform``
with ``SCALE_TYPE: short``): a square crop whose side is the image's short side times a random
factor ``s``, centred on the image centre shifted by a random whole number of source pixels,
rotated about its centre and resized to the input. ``crop="long"`` takes the long side instead,
which without augmentation is the letterbox inference uses (``image.preprocess.Letterbox``).

Coordinates are continuous (pixel i spans [i, i+1)). Every transform is one 2x3 affine matrix
from source pixels to network-input pixels; the masks reuse it, scaled to each output
resolution, so the three can never disagree.
"""
from typing import NamedTuple, Sequence, Tuple

import cv2
import numpy as np

from ..image.preprocess import Letterbox

CROPS = ("short", "long")
# Official unit of MAX_TRANSLATE: source pixels per 200 pixels of crop side.
TRANSLATE_UNIT = 200.0


class AugmentConfig(NamedTuple):
    """Official LitePose ranges (``experiments/*/mobilenet/mobile.yaml``)."""

    max_rotation: float = 30.0  # degrees, uniform in [-max, max]
    min_scale: float = 0.75  # crop side = base side x U(min_scale, max_scale)
    max_scale: float = 1.5
    max_translate: float = 40.0  # centre shift: whole source pixels, |shift| < max * side / 200 per axis
    flip_prob: float = 0.5


NO_AUGMENT = AugmentConfig(0.0, 1.0, 1.0, 0.0, 0.0)


def base_side(width: int, height: int, crop: str) -> float:
    """Source pixels the crop side spans at scale 1: the short side (official) or the long one."""
    if crop not in CROPS:
        raise ValueError("crop must be one of {}, got {!r}".format(CROPS, crop))
    return float(min(width, height) if crop == "short" else max(width, height))


def translate_bound(side: float, max_translate: float) -> Tuple[int, int]:
    """[low, high) of the official centre shift, in whole source pixels, for a crop of ``side``.

    The official draws ``randint(-max * scale, max * scale)`` with ``scale = side / 200``; the
    float bounds become integers by truncation towards zero.
    """
    bound = max_translate * side / TRANSLATE_UNIT
    return int(-bound), int(bound)


class AugmentParams(NamedTuple):
    rotation: float = 0.0  # degrees, counter-clockwise on screen
    scale: float = 1.0  # crop side factor: the image appears 1 / scale times as large
    translate: Tuple[float, float] = (0.0, 0.0)  # crop centre shift, source pixels
    flip: bool = False

    @classmethod
    def sample(cls, config: AugmentConfig, rng: np.random.Generator, width: int, height: int,
               crop: str = "short") -> "AugmentParams":
        scale = float(rng.uniform(config.min_scale, config.max_scale))
        rotation = float(rng.uniform(-config.max_rotation, config.max_rotation))
        low, high = translate_bound(base_side(width, height, crop) * scale, config.max_translate)
        shift = (0.0, 0.0)
        if high > low:
            shift = (float(rng.integers(low, high)), float(rng.integers(low, high)))
        return cls(rotation=rotation, scale=scale, translate=shift, flip=bool(rng.random() < config.flip_prob))


def _homogeneous(matrix: np.ndarray) -> np.ndarray:
    return np.vstack([matrix, [0.0, 0.0, 1.0]])


def base_matrix(width: int, height: int, input_size: Tuple[int, int], crop: str) -> np.ndarray:
    """3x3 source -> input map without augmentation.

    ``short``: the centred square of the short side fills the input (the long side is cut).
    ``long``: the letterbox of ``image.preprocess.Letterbox`` (the long side fills the input, padding
    on the short side), so that un-augmented samples are exactly what inference sees.
    """
    in_w, in_h = input_size
    if crop == "long":
        box = Letterbox.fit(width, height, in_w, in_h)
        return np.array([[box.scale_x, 0, box.pad_x], [0, box.scale_y, box.pad_y], [0, 0, 1]], np.float64)
    zoom_x, zoom_y = in_w / base_side(width, height, crop), in_h / base_side(width, height, crop)
    return np.array([[zoom_x, 0, in_w / 2.0 - zoom_x * width / 2.0],
                     [0, zoom_y, in_h / 2.0 - zoom_y * height / 2.0], [0, 0, 1]], np.float64)


def input_matrix(width: int, height: int, input_size: Tuple[int, int], params: AugmentParams,
                 crop: str = "short") -> np.ndarray:
    """2x3 map from source to input pixels.

    As the official transform: the crop centre moves by ``translate`` source pixels, then the
    crop (``scale`` x the base side) is rotated about its centre and resized to the input, then
    the result is mirrored when ``flip``.
    """
    in_w, in_h = input_size
    base = base_matrix(width, height, input_size, crop)
    shift = np.array([[1, 0, -base[0, 0] * params.translate[0]], [0, 1, -base[1, 1] * params.translate[1]],
                      [0, 0, 1]], np.float64)
    # Positive angles turn the image counter-clockwise on screen (OpenCV's convention).
    around = cv2.getRotationMatrix2D((in_w / 2.0, in_h / 2.0), params.rotation, 1.0 / params.scale)
    matrix = _homogeneous(around) @ shift @ base
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
