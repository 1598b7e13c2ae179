"""Image -> network tensor, keeping the aspect ratio, and the exact way back to source pixels.

Coordinates are continuous (pixel i spans [i, i+1)), so the letterbox is the affine map
``u = x * scale_x + pad_x`` in both directions without half-pixel fudge terms. The official
test resize (``OfficialResize``, evaluation only) keeps the official code's pixel-index
convention instead, so that its AP is the official protocol's.
"""
from typing import Any, NamedTuple, Tuple

import cv2
import numpy as np

from ..common.metadata import ModelMetadata
from ..common.people import People

# A frame larger than this (about 64 megapixels) is rejected rather than risk exhausting memory.
MAX_PIXELS = 1 << 26
# "letterbox": the square input the robot runs; "official": the official test resize (non-square).
RESIZES = ("letterbox", "official")


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


def round_up_64(value: float) -> int:
    """The official rounding of a side length up to a multiple of 64."""
    return int((value + 63) // 64 * 64)


class OfficialResize(NamedTuple):
    """The official LitePose / HigherHRNet test resize (``get_multi_scale_size`` at scale 1).

    The short side becomes the input size (rounded up to a multiple of 64), the long side
    keeps the aspect ratio and is rounded up to a multiple of 64, and the image centre
    ``(int(w / 2 + 0.5), int(h / 2 + 0.5))`` lands on the centre of that canvas. Like the
    official code this works in pixel-index coordinates (pixel centres at integers), both
    for the warp and for the way back, so results match the official ones exactly.
    """

    input_width: int
    input_height: int
    scale: float  # input pixels per source pixel
    center_x: int
    center_y: int
    source_width: int
    source_height: int

    @classmethod
    def fit(cls, source_width: int, source_height: int, input_size: int) -> "OfficialResize":
        short_input = round_up_64(input_size)
        if source_width < source_height:
            width, height = short_input, round_up_64(short_input / float(source_width) * source_height)
            scale = width / float(source_width)
        else:
            width, height = round_up_64(short_input / float(source_height) * source_width), short_input
            scale = height / float(source_height)
        return cls(width, height, scale, int(source_width / 2.0 + 0.5), int(source_height / 2.0 + 0.5),
                   source_width, source_height)

    def matrix(self) -> np.ndarray:
        """2x3 source -> input map in pixel-index coordinates (what cv2.warpAffine takes)."""
        return np.array([
            [self.scale, 0.0, self.input_width / 2.0 - self.scale * self.center_x],
            [0.0, self.scale, self.input_height / 2.0 - self.scale * self.center_y],
        ], np.float64)

    def to_input(self, xy: np.ndarray) -> np.ndarray:
        out = np.array(xy, dtype=np.float64, copy=True)
        out[..., 0] = (out[..., 0] - self.center_x) * self.scale + self.input_width / 2.0
        out[..., 1] = (out[..., 1] - self.center_y) * self.scale + self.input_height / 2.0
        return out.astype(np.float32)

    def to_source(self, xy: np.ndarray) -> np.ndarray:
        """Decoded input-resolution points [..., 2] -> source pixels, as the official ``transform_preds``."""
        out = np.array(xy, dtype=np.float64, copy=True)
        out[..., 0] = (out[..., 0] - self.input_width / 2.0) / self.scale + self.center_x
        out[..., 1] = (out[..., 1] - self.input_height / 2.0) / self.scale + self.center_y
        return out.astype(np.float32)

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
    """Letterboxes BGR frames into the normalised NCHW float32 tensor the model expects.

    Per frame: one ``cv2.resize``, one ``cv2.split`` into planes, and per channel one
    ``cv2.LUT`` from the 256 possible byte values to their normalised float, written straight
    into the image's region of the output plane (the padding is filled with black's value):
    normalisation, channel order and HWC -> CHW in one pass. The table holds exactly what
    ``pixel * scale + offset`` gives in float32, so the values are those of the plain formula.
    Every call returns a new tensor (callers may keep it); no state between calls.
    """

    def __init__(self, metadata: ModelMetadata, resize: str = "letterbox") -> None:
        if resize not in RESIZES:
            raise ValueError("resize must be one of {}, got {!r}".format(RESIZES, resize))
        if resize == "official" and metadata.input_width != metadata.input_height:
            raise ValueError("the official resize needs a square input size, the model has {}x{}".format(
                metadata.input_width, metadata.input_height))
        self.resize = resize
        self.input_width = metadata.input_width
        self.input_height = metadata.input_height
        self.swap_rb = metadata.color_order == "rgb"
        # (pixel / 255 - mean) / std as one multiply-add per channel, tabulated per byte value.
        std = np.asarray(metadata.std, np.float32)
        self._scale = (1.0 / (255.0 * std)).astype(np.float32)
        self._offset = (-np.asarray(metadata.mean, np.float32) / std).astype(np.float32)
        values = np.arange(256, dtype=np.float32)
        self._tables = [values * self._scale[c] + self._offset[c] for c in range(3)]
        # Output channel c is BGR plane _sources[c] looked up in _tables[c].
        self._sources = (2, 1, 0) if self.swap_rb else (0, 1, 2)

    def __call__(self, image: np.ndarray) -> Tuple[np.ndarray, Any]:
        """(NCHW tensor, the map back to source pixels: a ``Letterbox`` or an ``OfficialResize``)."""
        image = as_bgr8(image)
        if self.resize == "official":
            return self._official(image)
        box = Letterbox.fit(image.shape[1], image.shape[0], self.input_width, self.input_height)
        width, height = box.resized_size
        planes = cv2.split(cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR))
        tensor = np.empty((1, 3, self.input_height, self.input_width), np.float32)
        top, left, bottom, right = box.pad_y, box.pad_x, box.pad_y + height, box.pad_x + width
        for channel, source in enumerate(self._sources):
            plane, table = tensor[0, channel], self._tables[channel]
            for pad in (plane[:top], plane[bottom:], plane[top:bottom, :left], plane[top:bottom, right:]):
                pad.fill(table[0])
            region = plane[top:bottom, left:right]
            _into(cv2.LUT(planes[source], table, dst=region), region)
        return tensor, box


    def _official(self, image: np.ndarray) -> Tuple[np.ndarray, OfficialResize]:
        fit = OfficialResize.fit(image.shape[1], image.shape[0], self.input_width)
        if fit.input_width * fit.input_height > MAX_PIXELS:  # extreme aspect ratios
            raise ValueError("the official resize of a {}x{} image would be a {}x{} input, over the {} pixel "
                             "limit".format(image.shape[1], image.shape[0], fit.input_width, fit.input_height,
                                            MAX_PIXELS))
        # The official warp: bilinear, black outside the image, then normalised.
        warped = cv2.warpAffine(image, fit.matrix(), (fit.input_width, fit.input_height), flags=cv2.INTER_LINEAR)
        planes = cv2.split(warped)
        tensor = np.empty((1, 3, fit.input_height, fit.input_width), np.float32)
        for channel, source in enumerate(self._sources):
            _into(cv2.LUT(planes[source], self._tables[channel], dst=tensor[0, channel]), tensor[0, channel])
        return tensor, fit


def _into(result: np.ndarray, target: np.ndarray) -> None:
    """OpenCV writes into ``dst`` when it can use it as is; copy where it made a new array."""
    if result.__array_interface__["data"][0] != target.__array_interface__["data"][0]:
        target[...] = result


def flip_tensor(tensor: np.ndarray) -> np.ndarray:
    """The horizontally mirrored input used by the flip test."""
    return np.ascontiguousarray(tensor[..., ::-1])
