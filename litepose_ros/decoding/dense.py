"""The 2x bilinear upsampling of the official inference, in plain float32 numpy.

torch's F.interpolate(mode='bilinear', align_corners=False) to twice the size: output pixel o
reads source pixels (o + 0.5) / 2 - 0.5 apart, so 2k reads k-1, k with weights (0.25, 0.75) and
2k+1 reads k, k+1 with (0.75, 0.25); beyond the edges the edge pixel with (1, 0). Computed as
two float32 passes, rows first then columns, each output ``a * wa + b * wb``: the native core
(``litepose_ros/native/decoder.c``, built without fused multiply-adds) does the same operations,
so both decoders' maps agree bit for bit on every CPU. (It matches torch to a few ulps; no
library's internal rounding is relied on.)
"""
from functools import lru_cache
from typing import Tuple

import numpy as np

Axis = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@lru_cache(maxsize=32)
def axis_taps(n: int) -> Axis:
    """For each of the 2n outputs: the two source positions and their float32 weights."""
    out = np.arange(2 * n)
    low = out // 2 - 1 + out % 2
    w_low = np.where(out % 2 == 0, 0.25, 0.75).astype(np.float32)
    w_high = (1 - w_low).astype(np.float32)
    edge = (low < 0) | (low + 1 > n - 1)
    high = np.clip(low + 1, 0, n - 1)
    low = np.clip(low, 0, n - 1)
    w_low[edge], w_high[edge] = 1, 0
    return low, high, w_low, w_high


def upsample2x(maps: np.ndarray) -> np.ndarray:
    """Float32 [C, h, w] maps to [C, 2h, 2w]."""
    maps = np.asarray(maps, dtype=np.float32)
    _, h, w = maps.shape
    x0, x1, wx0, wx1 = axis_taps(w)
    y0, y1, wy0, wy1 = axis_taps(h)
    rows = maps[:, :, x0] * wx0 + maps[:, :, x1] * wx1
    return rows[:, y0, :] * wy0[:, None] + rows[:, y1, :] * wy1[:, None]
