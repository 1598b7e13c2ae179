"""sensor_msgs Image / CompressedImage -> validated HxWx3 uint8 BGR numpy array.

Everything a camera driver (or a broken bag) can send is checked before any buffer is
interpreted, so a bad frame raises ``BadImage`` with a reason the node can log, and never
crashes or allocates absurd amounts of memory.
"""
import array
from typing import Any, Dict

import cv2
import numpy as np
from cv_bridge import CvBridge, CvBridgeError
from sensor_msgs.msg import CompressedImage, Image

from ..preprocess import MAX_PIXELS, as_bgr8

# Encodings the node accepts, with their bytes per pixel. 16-bit and float images are
# depth-like and have no meaning for an RGB pose model; yuv422 (UYVY) is what many USB
# camera drivers publish.
SUPPORTED_ENCODINGS = {
    "bgr8": 3,
    "rgb8": 3,
    "bgra8": 4,
    "rgba8": 4,
    "mono8": 1,
    "8UC1": 1,
    "8UC3": 3,  # assumed BGR, as cv_bridge does
    "yuv422": 2,
}  # type: Dict[str, int]

# A compressed frame larger than this is not a camera frame (64 MiB).
MAX_COMPRESSED_BYTES = 1 << 26

_bridge = CvBridge()


class BadImage(ValueError):
    """An input frame that cannot be used; the message says why."""


def image_to_bgr(msg: Image) -> np.ndarray:
    """Raw sensor_msgs/Image -> BGR8 array (a copy; the message buffer is not kept)."""
    encoding = msg.encoding
    if encoding not in SUPPORTED_ENCODINGS:
        raise BadImage(
            "unsupported encoding {!r}; supported: {}".format(encoding, ", ".join(sorted(SUPPORTED_ENCODINGS)))
        )
    width, height = int(msg.width), int(msg.height)
    if width <= 0 or height <= 0:
        raise BadImage("empty image ({}x{})".format(width, height))
    if width * height > MAX_PIXELS:
        raise BadImage("absurd image size {}x{} (limit {} pixels)".format(width, height, MAX_PIXELS))
    row_bytes = width * SUPPORTED_ENCODINGS[encoding]
    if msg.step < row_bytes:
        raise BadImage("step {} is shorter than a {}-pixel {} row ({} bytes)".format(
            msg.step, width, encoding, row_bytes))
    needed = msg.step * (height - 1) + row_bytes
    if len(msg.data) < needed:
        raise BadImage("truncated image: {} bytes of data, {}x{} {} needs {}".format(
            len(msg.data), width, height, encoding, needed))
    if msg.step != row_bytes or len(msg.data) != row_bytes * height:
        msg = _compact(msg, row_bytes)
    if encoding == "yuv422":  # not known to the PyPI cv_bridge; the same conversion as ROS' cv_bridge
        uyvy = np.frombuffer(msg.data, np.uint8, count=row_bytes * height).reshape(height, width, 2)
        return _checked(cv2.cvtColor(uyvy, cv2.COLOR_YUV2BGR_UYVY))
    bridge_encoding = "bgr8" if encoding == "8UC3" else "mono8" if encoding == "8UC1" else encoding
    try:
        if bridge_encoding != encoding:
            msg = _with_encoding(msg, bridge_encoding)
        image = _bridge.imgmsg_to_cv2(msg, desired_encoding="bgr8")
    except (CvBridgeError, ValueError, TypeError, KeyError) as error:
        raise BadImage("cv_bridge cannot convert {} image: {}".format(encoding, error)) from None
    return _checked(np.array(image, dtype=np.uint8, copy=True))


def compressed_to_bgr(msg: CompressedImage) -> np.ndarray:
    """sensor_msgs/CompressedImage (JPEG, PNG, ...) -> BGR8 array."""
    size = len(msg.data)
    if size == 0:
        raise BadImage("empty compressed image")
    if size > MAX_COMPRESSED_BYTES:
        raise BadImage("absurd compressed image of {} bytes".format(size))
    try:
        image = _bridge.compressed_imgmsg_to_cv2(msg, desired_encoding="passthrough")
    except (CvBridgeError, ValueError, TypeError) as error:
        raise BadImage("cannot decode compressed image ({!r}): {}".format(msg.format, error)) from None
    if image is None:
        raise BadImage("cannot decode compressed image ({!r}, {} bytes): corrupt or truncated".format(
            msg.format, size))
    return _checked(image)


def _checked(image: np.ndarray) -> np.ndarray:
    try:
        return as_bgr8(image)
    except ValueError as error:
        raise BadImage(str(error)) from None


def _compact(msg: Image, row_bytes: int) -> Image:
    """Copy of ``msg`` without row padding (the PyPI cv_bridge ignores ``step``)."""
    data = np.frombuffer(msg.data, np.uint8)
    height = int(msg.height)
    rows = np.lib.stride_tricks.as_strided(data, shape=(height, row_bytes), strides=(msg.step, 1))
    fields = _image_fields(msg)
    # array.array is taken as is; bytes would be checked element by element in Python.
    fields.update(step=row_bytes, data=array.array("B", rows.tobytes()))
    return Image(**fields)


def _with_encoding(msg: Image, encoding: str) -> Image:
    fields = _image_fields(msg)
    fields.update(encoding=encoding)
    return Image(**fields)


def _image_fields(msg: Image) -> Dict[str, Any]:
    return {
        "header": msg.header,
        "height": msg.height,
        "width": msg.width,
        "encoding": msg.encoding,
        "is_bigendian": msg.is_bigendian,
        "step": msg.step,
        "data": msg.data,
    }
