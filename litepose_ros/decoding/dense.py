"""The one bilinear resize both decoders use, so that their dense maps agree bit for bit.

OpenCV's INTER_LINEAR uses the same pixel-centre mapping as torch's F.interpolate(mode=
'bilinear', align_corners=False) and matches it to about an ulp; the decoders compare map
values exactly (NMS plateaus, quarter offsets, groups keyed by tag value, round(distance)
at .5, the tag threshold), so they must both get their maps from this one function, on
the same float32 inputs, in the same order of operations.
"""
from typing import Optional

import cv2
import numpy as np


def resize_map(src: np.ndarray, height: int, width: int, out: Optional[np.ndarray] = None) -> np.ndarray:
    """One float32 [h, w] map to [height, width] (``out``: C-contiguous float32 destination)."""
    src = np.ascontiguousarray(src, dtype=np.float32)
    if out is None:
        return cv2.resize(src, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(src, (width, height), dst=out, interpolation=cv2.INTER_LINEAR)


def resize_maps(maps: np.ndarray, height: int, width: int) -> np.ndarray:
    """Float32 [C, h, w] maps to [C, height, width], channel by channel."""
    out = np.empty((maps.shape[0], height, width), np.float32)
    for c in range(maps.shape[0]):
        resize_map(maps[c], height, width, out[c])
    return out
