"""Straightforward numpy port of the official LitePose / HigherHRNet inference and grouping.

The oracle of the compiled decoder (``litepose_ros/native/decoder.c``) and its fallback where
that is not built: per-joint Python loops, dicts keyed by the first tag value, a naive
sliding-window max-pool, a full sort for top-k and a full-map refine for every joint of every
person; optionally the official solver, the ``munkres`` package (``solver="munkres"``, what the
benchmark times). The deliberate differences from the official code, each so that the
compiled core can compute the same people on any CPU without relying on a library's
rounding: the tie-break in the matching cost (``matching.py``), the 2x bilinear upsampling
written out in float32 (``dense.py``, torch's to a few ulps), person mean tags summed in
float64 in the order the tags were added (numpy's float32 mean sums pairwise from 8 values
on), and, by default, scipy's solver, whose algorithm the core implements, so exact ties the
tie-break cannot separate resolve alike; munkres is a tooling dependency, not a runtime one.
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..common.people import People
from .config import DecoderConfig
from .dense import upsample2x
from .matching import matching_cost
from .outputs import check_pair

Outputs = Sequence[np.ndarray]


# ----------------------------------------------------------------------------- dense steps
def mean_in_order(tags: Sequence[np.ndarray]) -> np.ndarray:
    """float64 mean of [L] tags, summed in list order (what the compiled core computes)."""
    total = np.zeros(len(tags[0]), np.float64)
    for tag in tags:
        total = total + np.asarray(tag, np.float64)
    return total / len(tags)


def max_pool_nms(heatmaps: np.ndarray, kernel: int) -> np.ndarray:
    """Keep values equal to the max of their kernel x kernel window (stride 1, -inf padding)."""
    pad = kernel // 2
    padded = np.pad(heatmaps, ((0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    h, w = heatmaps.shape[1:]
    pooled = np.full_like(heatmaps, -np.inf)
    for dy in range(kernel):
        for dx in range(kernel):
            pooled = np.maximum(pooled, padded[:, dy:dy + h, dx:dx + w])
    return heatmaps * (pooled == heatmaps)


def _stage_maps(outputs: Outputs, num_joints: int) -> Tuple[np.ndarray, np.ndarray]:
    """Mean heatmaps of both stages and the stage-1 tags, at stage-2 resolution."""
    stage1, stage2 = (np.asarray(o, dtype=np.float32)[0] for o in outputs)
    stage1 = upsample2x(stage1)
    heatmaps = (stage1[:num_joints] + stage2) / 2
    return heatmaps, stage1[num_joints:]


def dense_maps(
    outputs: Outputs, config: DecoderConfig, flipped_outputs: Optional[Outputs] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """Heatmaps [J, H, W] and tags [J, H, W, L] at the grouping resolution, as the official inference."""
    j = config.num_joints
    heat, tag = _stage_maps(outputs, j)
    heatmaps, tags = [heat], [tag]
    if flipped_outputs is not None:
        flip = list(config.flip_index)
        heat_f, tag_f = _stage_maps(flipped_outputs, j)
        heatmaps.append(heat_f[:, :, ::-1][flip])
        tags.append(tag_f[:, :, ::-1][flip])
    if config.project_to_input:
        heatmaps = [upsample2x(m) for m in heatmaps]
        tags = [upsample2x(t) for t in tags]
    final = (heatmaps[0] + heatmaps[1]) / 2.0 if len(heatmaps) == 2 else heatmaps[0]
    return final.astype(np.float32), np.stack(tags, axis=3).astype(np.float32)


# ----------------------------------------------------------------------------- grouping
def top_k(heatmaps: np.ndarray, tags: np.ndarray, config: DecoderConfig):
    """Per joint: the k highest NMS peaks (value order, ties by index), their tags and (x, y)."""
    det = max_pool_nms(heatmaps, config.nms_kernel)
    num_joints, h, w = det.shape
    flat = det.reshape(num_joints, -1)
    k = config.max_num_people
    ind = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    val_k = np.take_along_axis(flat, ind, axis=1)
    flat_tags = tags.reshape(num_joints, h * w, -1)
    tag_k = np.stack([np.take_along_axis(flat_tags[:, :, i], ind, axis=1) for i in range(tags.shape[3])], axis=2)
    loc_k = np.stack((ind % w, ind // w), axis=2)
    return tag_k, loc_k, val_k


SOLVERS = ("scipy", "munkres")


def _assign(cost: np.ndarray, solver: str) -> List[Tuple[int, int]]:
    """Optimal (row, column) pairs: scipy's, as ``fast``, or the official code's ``munkres``."""
    if solver == "munkres":
        from munkres import Munkres  # tooling only

        return [(int(r), int(c)) for r, c in Munkres().compute(cost.tolist())]
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols)]


def match_by_tag(tag_k: np.ndarray, loc_k: np.ndarray, val_k: np.ndarray, config: DecoderConfig,
                 solver: str = "scipy") -> np.ndarray:
    default = np.zeros((config.num_joints, 3 + tag_k.shape[2]))
    joint_dict = {}  # type: Dict[float, np.ndarray]
    tag_dict = {}  # type: Dict[float, List[np.ndarray]]
    for i in range(config.num_joints):
        idx = config.joint_order[i]
        tags = tag_k[idx]
        joints = np.concatenate((loc_k[idx], val_k[idx, :, None], tags), 1)
        mask = joints[:, 2] > config.detection_threshold
        tags, joints = tags[mask], joints[mask]
        if joints.shape[0] == 0:
            continue
        if i == 0 or len(joint_dict) == 0:
            for tag, joint in zip(tags, joints):
                key = float(tag[0])
                joint_dict.setdefault(key, np.copy(default))[idx] = joint
                tag_dict[key] = [tag]
            continue
        grouped_keys = list(joint_dict.keys())[: config.max_num_people]
        if config.ignore_too_much and len(grouped_keys) == config.max_num_people:
            continue
        grouped_tags = [mean_in_order(tag_dict[key]) for key in grouped_keys]
        diff = joints[:, None, 3:] - np.array(grouped_tags)[None, :, :]
        dist = np.linalg.norm(diff, ord=2, axis=2)
        pairs = _assign(matching_cost(dist, joints[:, 2], config.use_detection_val), solver)
        assigned = dict(pairs)
        for row in range(joints.shape[0]):
            col = assigned.get(row, -1)
            if col >= 0 and dist[row][col] < config.tag_threshold:
                key = grouped_keys[col]
                joint_dict[key][idx] = joints[row]
                tag_dict[key].append(tags[row])
            else:
                key = float(tags[row][0])
                joint_dict.setdefault(key, np.copy(default))[idx] = joints[row]
                tag_dict[key] = [tags[row]]
    if not joint_dict:
        return np.zeros((0, config.num_joints, 3 + tag_k.shape[2]), np.float32)
    return np.array([joint_dict[key] for key in joint_dict]).astype(np.float32)


def _quarter_offset(heatmap: np.ndarray, x: int, y: int) -> Tuple[float, float]:
    """Shift toward the larger neighbour by a quarter pixel (ties go down), plus the half-pixel centre."""
    h, w = heatmap.shape
    dx = 0.25 if heatmap[y, min(x + 1, w - 1)] > heatmap[y, max(x - 1, 0)] else -0.25
    dy = 0.25 if heatmap[min(y + 1, h - 1), x] > heatmap[max(y - 1, 0), x] else -0.25
    return x + 0.5 + dx, y + 0.5 + dy


def adjust(people: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    for person in people:
        for joint_id, joint in enumerate(person):
            if joint[2] > 0:
                person[joint_id, 0:2] = _quarter_offset(heatmaps[joint_id], int(joint[0]), int(joint[1]))
    return people


def refine(heatmaps: np.ndarray, tags: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """Fill each missing joint with the best heatmap location whose tag is near the person's mean tag."""
    found = []
    for i in range(keypoints.shape[0]):
        if keypoints[i, 2] > 0:
            x, y = keypoints[i][:2].astype(np.int32)
            found.append(tags[i, y, x])
    prev_tag = mean_in_order(found).astype(np.float32)
    num_joints, h, w = heatmaps.shape
    dist = np.sqrt(((tags - prev_tag[None, None, None, :]) ** 2).sum(axis=3))
    positions = (heatmaps - np.round(dist)).reshape(num_joints, -1).argmax(axis=1)
    for i in range(num_joints):
        y, x = divmod(int(positions[i]), w)
        val = heatmaps[i, y, x]
        if val > 0 and keypoints[i, 2] == 0:
            keypoints[i, :2] = _quarter_offset(heatmaps[i], x, y)
            keypoints[i, 2] = val
    return keypoints


def decode_reference(
    outputs: Outputs, config: DecoderConfig, flipped_outputs: Optional[Outputs] = None, solver: str = "scipy"
) -> People:
    """People in network-input pixel coordinates, decoded the way the official code does.

    ``solver``: ``scipy`` (default, decides exact ties as ``fast`` does) or ``munkres``.
    """
    if solver not in SOLVERS:
        raise ValueError("solver must be one of {}, got {!r}".format(SOLVERS, solver))
    config = config.validated()
    outputs, flipped_outputs = check_pair(outputs, flipped_outputs, config.num_joints)
    outputs = [o[None] for o in outputs]
    flipped_outputs = None if flipped_outputs is None else [o[None] for o in flipped_outputs]
    heatmaps, tags = dense_maps(outputs, config, flipped_outputs)
    people = match_by_tag(*top_k(heatmaps, tags, config), config=config, solver=solver)
    if config.adjust:
        people = adjust(people, heatmaps)
    scores = np.array([person[:, 2].astype(np.float64).mean() for person in people], dtype=np.float32)
    if config.refine:
        for i in range(len(people)):
            people[i] = refine(heatmaps, tags, people[i])
    keypoints = np.ascontiguousarray(people[:, :, :3], dtype=np.float32)
    stage2 = np.asarray(outputs[1])
    input_h, input_w = stage2.shape[2] * 2, stage2.shape[3] * 2
    keypoints[:, :, 0] *= np.float32(input_w / heatmaps.shape[2])
    keypoints[:, :, 1] *= np.float32(input_h / heatmaps.shape[1])
    return People(keypoints, scores)
