"""Image -> network tensor, keeping the aspect ratio, and the exact way back to source pixels.

Coordinates are continuous (pixel i spans [i, i+1)), so the letterbox is the affine map
``u = x * scale_x + pad_x`` in both directions without half-pixel fudge terms.
"""
from typing import NamedTuple, Tuple

import cv2
import numpy as np

from .metadata import ModelMetadata
from .people import People

# A frame larger than this (about 64 megapixels) is rejected rather than risk exhausting memory.
MAX_PIXELS = 1 << 26


class Letterbox(NamedTuple):
    """Where the resized source image sits inside the network input."""

    scale_x: float
    scale_y: float
    pad_x: int
    pad_y: int
    source_width: int
    source_height: int

    @classmethod
    def fit(cls, source_width: int, source_height: int, input_width: int, input_height: int) -> "Letterbox":
        scale = min(input_width / float(source_width), input_height / float(source_height))
        width = min(input_width, max(1, int(round(source_width * scale))))
        height = min(input_height, max(1, int(round(source_height * scale))))
        return cls(
            scale_x=width / float(source_width),
            scale_y=height / float(source_height),
            pad_x=(input_width - width) // 2,
            pad_y=(input_height - height) // 2,
            source_width=source_width,
            source_height=source_height,
        )

    @property
    def resized_size(self) -> Tuple[int, int]:
        return int(round(self.source_width * self.scale_x)), int(round(self.source_height * self.scale_y))

    def to_input(self, xy: np.ndarray) -> np.ndarray:
        """Source-image points [..., 2] -> network-input points."""
        out = np.array(xy, dtype=np.float32, copy=True)
        out[..., 0] = out[..., 0] * self.scale_x + self.pad_x
        out[..., 1] = out[..., 1] * self.scale_y + self.pad_y
        return out

    def to_source(self, xy: np.ndarray) -> np.ndarray:
        """Network-input points [..., 2] -> source-image points."""
        out = np.array(xy, dtype=np.float32, copy=True)
        out[..., 0] = (out[..., 0] - self.pad_x) / self.scale_x
        out[..., 1] = (out[..., 1] - self.pad_y) / self.scale_y
        return out

    def people_to_source(self, people: People) -> People:
        keypoints = people.keypoints.copy()
        keypoints[..., :2] = self.to_source(keypoints[..., :2])
        return People(keypoints, people.scores)


def as_bgr8(image: np.ndarray) -> np.ndarray:
    """Validate a decoded frame and return it as HxWx3 uint8 BGR; ValueError says what is wrong."""
    if not isinstance(image, np.ndarray):
        raise ValueError("image must be a numpy array, got {}".format(type(image).__name__))
    if image.dtype != np.uint8:
        raise ValueError("image must be 8-bit, got dtype {}".format(image.dtype))
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("image must have 1, 3 or 4 channels, got shape {}".format(image.shape))
    height, width = image.shape[:2]
    if height == 0 or width == 0:
        raise ValueError("image is empty ({}x{})".format(width, height))
    if height * width > MAX_PIXELS:
        raise ValueError("image of {}x{} exceeds the {} pixel limit".format(width, height, MAX_PIXELS))
    return image


class Preprocessor(object):
    """Letterboxes BGR frames into the normalised NCHW float32 tensor the model expects."""

    def __init__(self, metadata: ModelMetadata) -> None:
        self.input_width = metadata.input_width
        self.input_height = metadata.input_height
        self.swap_rb = metadata.color_order == "rgb"
        # (pixel / 255 - mean) / std as one multiply-add per channel.
        std = np.asarray(metadata.std, np.float32)
        self._scale = (1.0 / (255.0 * std)).astype(np.float32)
        self._offset = (-np.asarray(metadata.mean, np.float32) / std).astype(np.float32)

    def __call__(self, image: np.ndarray) -> Tuple[np.ndarray, Letterbox]:
        image = as_bgr8(image)
        box = Letterbox.fit(image.shape[1], image.shape[0], self.input_width, self.input_height)
        width, height = box.resized_size
        canvas = np.zeros((self.input_height, self.input_width, 3), np.uint8)
        canvas[box.pad_y:box.pad_y + height, box.pad_x:box.pad_x + width] = cv2.resize(
            image, (width, height), interpolation=cv2.INTER_LINEAR
        )
        if self.swap_rb:
            canvas = canvas[:, :, ::-1]
        tensor = canvas.astype(np.float32) * self._scale + self._offset
        return np.ascontiguousarray(tensor.transpose(2, 0, 1)[None]), box


def flip_tensor(tensor: np.ndarray) -> np.ndarray:
    """The horizontally mirrored input used by the flip test."""
    return np.ascontiguousarray(tensor[..., ::-1])
