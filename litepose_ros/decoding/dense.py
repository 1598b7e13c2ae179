"""The one bilinear resize both decoders use, so that their dense maps agree bit for bit.

OpenCV's INTER_LINEAR uses the same pixel-centre mapping as torch's F.interpolate(mode=
'bilinear', align_corners=False) and matches it to about an ulp; the decoders compare map
values exactly (NMS plateaus, quarter offsets, groups keyed by tag value, round(distance)
at .5, the tag threshold), so they must both get their maps from this one function, on
the same float32 inputs, in the same order of operations.
"""
from typing import Callable, List, Optional

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


def resize2x_window(source: Callable[[int, int, int, int], np.ndarray], height: int, width: int,
                    y0: int, y1: int, x0: int, x1: int, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``resize_map(src, 2 * height, 2 * width)[y0:y1, x0:x1]``, bit for bit, from the part of
    ``src`` it depends on: ``source(sy0, sy1, sx0, sx1)`` returns ``src[sy0:sy1, sx0:sx1]``.
    ``out``: a C-contiguous float32 destination of the window's shape (the whole map is
    resized straight into it).

    OpenCV's 2x bilinear reads source rows k-1..k+1 for output rows 2k and 2k+1 (clamped at
    the border) with weights that only depend on the row's parity, so an even-aligned crop with
    a one-pixel margin, resized, holds the same values inside (``crop_resize_is_exact``).
    """
    if out is not None and (y0, y1, x0, x1) == (0, 2 * height, 0, 2 * width):
        return resize_map(source(0, height, 0, width), 2 * height, 2 * width, out)
    sy0, sy1 = max(y0 // 2 - 1, 0), min((y1 + 1) // 2 + 1, height)
    sx0, sx1 = max(x0 // 2 - 1, 0), min((x1 + 1) // 2 + 1, width)
    up = resize_map(source(sy0, sy1, sx0, sx1), 2 * (sy1 - sy0), 2 * (sx1 - sx0))
    window = up[y0 - 2 * sy0:y1 - 2 * sy0, x0 - 2 * sx0:x1 - 2 * sx0]
    if out is None:
        return window
    out[...] = window
    return out


_CROP_EXACT: List[bool] = []


def crop_resize_is_exact() -> bool:
    """Whether this OpenCV build computes ``resize2x_window`` bit for bit like the whole map.

    Checked once per process on random maps (SIMD bodies and scalar tails, every border), as it
    depends on OpenCV's vectorisation on this CPU; if not, the decoder resizes whole maps.
    """
    if not _CROP_EXACT:
        rng = np.random.RandomState(0)
        exact = True
        for h, w in ((37, 70), (9, 13), (112, 112)):
            src = rng.normal(size=(h, w)).astype(np.float32)
            full = resize_map(src, 2 * h, 2 * w)
            for _ in range(12):
                y0, x0 = rng.randint(0, 2 * h - 1), rng.randint(0, 2 * w - 1)
                y1, x1 = rng.randint(y0 + 1, 2 * h + 1), rng.randint(x0 + 1, 2 * w + 1)
                window = resize2x_window(lambda a, b, c, d, s=src: s[a:b, c:d], h, w, y0, y1, x0, x1)
                exact = exact and np.array_equal(window, full[y0:y1, x0:x1])
        _CROP_EXACT.append(bool(exact))
    return _CROP_EXACT[0]
