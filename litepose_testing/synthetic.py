"""Synthetic network outputs for known people: tests, benchmarks and demos without a model.

Draws what a well-trained LitePose network would output: a Gaussian peak per visible
joint in the stage-1 (stride 4) and stage-2 (stride 2) heatmaps, and the person's tag
value in every joint's tag map around that joint.
"""
from typing import Optional, Sequence, Tuple

import numpy as np


def _draw_peak(heatmap: np.ndarray, cx: float, cy: float, sigma: float) -> None:
    """Max-blend exp(-d^2 / 2 sigma^2) centred at heatmap coordinates (cx, cy)."""
    h, w = heatmap.shape
    r = int(3 * sigma) + 1
    x0, x1 = max(int(cx) - r, 0), min(int(cx) + r + 2, w)
    y0, y1 = max(int(cy) - r, 0), min(int(cy) + r + 2, h)
    if x0 >= x1 or y0 >= y1:
        return
    xs = np.arange(x0, x1, dtype=np.float32) - np.float32(cx)
    ys = np.arange(y0, y1, dtype=np.float32) - np.float32(cy)
    peak = np.exp(-(ys[:, None] ** 2 + xs[None, :] ** 2) / np.float32(2 * sigma * sigma))
    np.maximum(heatmap[y0:y1, x0:x1], peak, out=heatmap[y0:y1, x0:x1])


def synthesize_outputs(
    people: np.ndarray,
    input_size: Tuple[int, int],
    tags: Optional[Sequence[float]] = None,
    rng: Optional[np.random.RandomState] = None,
    heat_noise: float = 0.0,
    tag_noise: float = 0.0,
    tag_radius: int = 2,
) -> Tuple[np.ndarray, np.ndarray]:
    """(stage1 [1, 2J, H/4, W/4], stage2 [1, J, H/2, W/2]) for ``people`` [N, J, 3] = (x, y, visible)
    in network-input pixel coordinates (pixel i spans [i, i+1)). ``tags``: one value per person
    (default 2, 4, 6, ...). Noise is uniform [0, heat_noise) on heatmaps, normal on tags."""
    people = np.asarray(people, dtype=np.float64)
    if people.ndim != 3 or people.shape[2] != 3:
        raise ValueError("people must be [N, J, 3], got shape {}".format(people.shape))
    width, height = input_size
    num_joints = people.shape[1]
    tags = np.arange(1, len(people) + 1) * 2.0 if tags is None else np.asarray(tags, np.float64)
    rng = np.random.RandomState(0) if rng is None else rng
    stage1 = np.zeros((2 * num_joints, height // 4, width // 4), np.float32)
    stage2 = np.zeros((num_joints, height // 2, width // 2), np.float32)
    for person, tag in zip(people, tags):
        for j, (x, y, visible) in enumerate(person):
            if visible <= 0:
                continue
            # Pixel centres: heatmap pixel i covers input [i*s, (i+1)*s).
            _draw_peak(stage2[j], x / 2 - 0.5, y / 2 - 0.5, 2.0)
            cx, cy = x / 4 - 0.5, y / 4 - 0.5
            _draw_peak(stage1[j], cx, cy, 1.0)
            ix, iy = int(round(cx)), int(round(cy))
            region = stage1[num_joints + j, max(iy - tag_radius, 0):iy + tag_radius + 1,
                            max(ix - tag_radius, 0):ix + tag_radius + 1]
            region[...] = tag
    if heat_noise > 0:
        stage1[:num_joints] += rng.uniform(0, heat_noise, stage1[:num_joints].shape).astype(np.float32)
        stage2 += rng.uniform(0, heat_noise, stage2.shape).astype(np.float32)
    if tag_noise > 0:
        stage1[num_joints:] += rng.normal(0, tag_noise, stage1[num_joints:].shape).astype(np.float32)
    return stage1[None], stage2[None]


def mirror_people(people: np.ndarray, input_width: int, flip_index: Sequence[int]) -> np.ndarray:
    """The same people in the horizontally flipped input (joints swapped left/right)."""
    mirrored = np.array(people, dtype=np.float64)[:, list(flip_index)]
    mirrored[:, :, 0] = input_width - mirrored[:, :, 0]
    return mirrored
