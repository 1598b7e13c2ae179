"""The one bilinear resize both decoders use, so that their dense maps agree bit for bit, and
the same 2x upsampling evaluated at chosen pixels only.

OpenCV's INTER_LINEAR uses the same pixel-centre mapping as torch's F.interpolate(mode=
'bilinear', align_corners=False) and matches it to a few ulps; the decoders compare map
values exactly (NMS plateaus, quarter offsets, groups keyed by tag value, round(distance)
at .5, the tag threshold), so they must both get their maps from this one function, on
the same float32 inputs, in the same order of operations.

It runs OpenCV's own code, not Intel IPP's (x86 wheels bundle IPP, which rounds
differently): that code is two float32 passes, columns then rows, each ``a * wa + b * wb``,
which ``Upsample2x`` repeats with numpy at any set of pixels (``upsample_at_pixels_is_exact``
checks it once per process).
"""
from functools import lru_cache
from typing import Callable, List, Optional, Tuple

import cv2
import numpy as np


def resize_map(src: np.ndarray, height: int, width: int, out: Optional[np.ndarray] = None) -> np.ndarray:
    """One float32 [h, w] map to [height, width] (``out``: C-contiguous float32 destination)."""
    src = np.ascontiguousarray(src, dtype=np.float32)
    ipp = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(False)  # per thread in OpenCV; restored below
    try:
        if out is None:
            return cv2.resize(src, (width, height), interpolation=cv2.INTER_LINEAR)
        return cv2.resize(src, (width, height), dst=out, interpolation=cv2.INTER_LINEAR)
    finally:
        cv2.ipp.setUseIPP(ipp)


def resize_maps(maps: np.ndarray, height: int, width: int, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Float32 [C, h, w] maps to [C, height, width], channel by channel (``out``: a C-contiguous
    float32 destination)."""
    if out is None:
        out = np.empty((maps.shape[0], height, width), np.float32)
    for c in range(maps.shape[0]):
        resize_map(maps[c], height, width, out[c])
    return out


Axis = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
# source(c, y, x) -> float32 values of the source maps at integer pixels (arrays of one shape)
Source = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _axis(n: int) -> Axis:
    """For each of the 2n output positions: the two source positions and their float32 weights.
    Output 2k reads k-1, k (0.25, 0.75), output 2k+1 reads k, k+1 (0.75, 0.25); outside the
    map OpenCV clamps to the edge with weights (1, 0)."""
    out = np.arange(2 * n)
    low = out // 2 - 1 + out % 2
    w_low = np.where(out % 2 == 0, 0.25, 0.75).astype(np.float32)
    w_high = (1 - w_low).astype(np.float32)
    edge = (low < 0) | (low + 1 > n - 1)
    high = np.clip(low + 1, 0, n - 1)
    low = np.clip(low, 0, n - 1)
    w_low[edge], w_high[edge] = 1, 0
    return low, high, w_low, w_high


class Upsample2x(object):
    """``resize_map(m, 2h, 2w)`` of [h, w] maps, bit for bit, evaluated only at the pixels asked for."""

    def __init__(self, height: int, width: int) -> None:
        self.rows, self.cols = _axis(height), _axis(width)

    def at(self, source: Source, c: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Values of channel(s) ``c`` at output pixels (y, x), from ``source`` values."""
        y0, y1, wy0, wy1 = (a[y] for a in self.rows)
        x0, x1, wx0, wx1 = (a[x] for a in self.cols)
        top = source(c, y0, x0) * wx0 + source(c, y0, x1) * wx1
        bottom = source(c, y1, x0) * wx0 + source(c, y1, x1) * wx1
        return top * wy0 + bottom * wy1

    def rows_at(self, maps: np.ndarray, c: np.ndarray, y: np.ndarray) -> np.ndarray:
        """[n, 2w]: whole output rows ``y`` of channels ``c`` of [C, h, w] ``maps``."""
        y0, y1, wy0, wy1 = (a[y] for a in self.rows)
        x0, x1, wx0, wx1 = self.cols
        top, bottom = maps[c, y0], maps[c, y1]
        top = top[:, x0] * wx0 + top[:, x1] * wx1
        bottom = bottom[:, x0] * wx0 + bottom[:, x1] * wx1
        return top * wy0[:, None] + bottom * wy1[:, None]


@lru_cache(maxsize=16)
def upsample2x(height: int, width: int) -> Upsample2x:
    """The ``Upsample2x`` of [height, width] maps (its tables are built once)."""
    return Upsample2x(height, width)


def gather(maps: np.ndarray) -> Source:
    """``Source`` reading C-contiguous [C, h, w] ``maps``."""
    flat, (h, w) = maps.reshape(-1), maps.shape[1:]
    return lambda c, y, x: flat[(c * h + y) * w + x]


_AT_PIXELS_EXACT: List[bool] = []


def upsample_at_pixels_is_exact() -> bool:
    """Whether ``Upsample2x`` reproduces ``resize_map`` bit for bit with this OpenCV build.

    Checked once per process on random maps of several sizes and magnitudes (SIMD bodies,
    scalar tails, every border): it depends on how OpenCV was compiled for this CPU (fused
    multiply-adds would differ); if not, the decoder resizes whole maps.
    """
    if not _AT_PIXELS_EXACT:
        rng = np.random.RandomState(0)
        exact = True
        for h, w in ((37, 70), (9, 13), (112, 112), (1, 5), (6, 1)):
            src = (rng.normal(size=(h, w)) * 10.0 ** rng.uniform(-3, 3, (h, w))).astype(np.float32)
            whole = resize_map(src, 2 * h, 2 * w)
            y, x = np.divmod(np.arange(4 * h * w), 2 * w)
            values = Upsample2x(h, w).at(gather(src[None]), np.zeros_like(y), y, x)
            exact = exact and np.array_equal(values, whole.ravel())
        _AT_PIXELS_EXACT.append(bool(exact))
    return _AT_PIXELS_EXACT[0]


def upsample2x_stack(maps: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``resize_maps(maps, 2h, 2w)`` for C-contiguous float32 [C, h, w] maps in one OpenCV call
    on the channels stacked into one image (``out``: a C-contiguous float32 destination). There
    each map's first and last output rows read the neighbouring channel, so those two rows come
    from ``Upsample2x``; channel by channel where that is not exact here."""
    c, h, w = maps.shape
    if c == 1 or not upsample_at_pixels_is_exact():
        return resize_maps(maps, 2 * h, 2 * w, out)
    if out is None:
        out = np.empty((c, 2 * h, 2 * w), np.float32)
    resize_map(maps.reshape(c * h, w), 2 * c * h, 2 * w, out.reshape(2 * c * h, 2 * w))
    up, channel = upsample2x(h, w), np.arange(c)
    out[:, 0] = up.rows_at(maps, channel, np.full(c, 0))
    out[:, -1] = up.rows_at(maps, channel, np.full(c, 2 * h - 1))
    return out


def upsample2x_rows(maps: np.ndarray, c: np.ndarray, y: np.ndarray) -> np.ndarray:
    """[n, 2w]: distinct output rows ``y`` of channels ``c`` of ``upsample2x_stack(maps)``,
    computed with one OpenCV call on the source rows they read: each run of consecutive rows
    with a one-row margin, stacked. Inside a run the rows read the same source rows as in the
    whole map; the map's first and last rows, where OpenCV clamps, come from ``Upsample2x``.
    Exact where ``upsample_at_pixels_is_exact`` holds."""
    channels, h, w = maps.shape
    if len(c) == 0:
        return np.zeros((0, 2 * w), np.float32)
    order = np.lexsort((y, c))
    if np.any(np.diff(order) != 1):
        rows = np.empty((len(c), 2 * w), np.float32)
        rows[order] = upsample2x_rows(maps, c[order], y[order])
        return rows
    starts = (np.diff(c * 2 * h + y, prepend=-2) != 1) | (y == 0)  # a run starts: not the next row
    first, run = np.flatnonzero(starts), np.cumsum(starts) - 1
    last = np.append(first[1:], len(c)) - 1
    s0 = np.maximum(y[first] // 2 - 1, 0)
    s1 = np.minimum((y[last] + 1) // 2 + 1, h)
    length = s1 - s0
    offset = np.cumsum(length) - length  # of each run's source rows in the stack
    source = np.repeat(c[first] * h + s0 - offset, length) + np.arange(int(length.sum()))
    stack = resize_map(maps.reshape(channels * h, w)[source], 2 * len(source), 2 * w)
    rows = stack[2 * offset[run] + y - 2 * s0[run]]
    edge = (y == 0) | (y == 2 * h - 1)
    if edge.any():
        rows[edge] = upsample2x(h, w).rows_at(maps, c[edge], y[edge])
    return rows
