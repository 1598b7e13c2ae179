"""How alike a track and a detection are, and two tracks' motions and sizes.

``similarity`` compares each track's predicted joints with each detection's, on the joints both
have: where the detection is (its centre by the track's shape against the predicted centre,
within the prediction's uncertainty plus ``POSITION_TOLERANCE`` sizes) and what it looks like
(each joint against the track's shape placed there, within the joint's tolerance: the dataset's
OKS sigma plus ``TOLERANCE_BASE`` for limbs moving between the averaged shape and this frame,
plus the detector's noise, all widened by the track's learned ``looseness`` where above 1).
"""
from typing import Tuple

import numpy as np

from .motion import NOISE_PX
from .state import TrackTable

TOLERANCE_BASE = 0.04  # a joint's tolerance, in person sizes, on top of its OKS sigma
POSITION_TOLERANCE = 0.08  # a person's centre may leave the prediction by this many sizes
GATE_SPEED = 1.0  # an unseen person may leave the predicted path by this many sizes / s (stops, turns)
COVERAGE_POWER = 0.5  # a detection with a share c of the track's joints counts c ** this (fragments lose)
SAME_SPEED = 0.5  # two tracks' velocities agree within their uncertainty plus this (sizes / s)


def joint_tolerance2(sigmas: np.ndarray) -> np.ndarray:
    """[J] squared tolerance of each joint, in person sizes."""
    return (TOLERANCE_BASE + np.asarray(sigmas, np.float64)) ** 2


def similarity(tracks: TrackTable, rows: np.ndarray, keypoints: np.ndarray, tolerance2: np.ndarray
               ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Track ``rows`` x detections [D, J, 3]: similarity [T, D] in [0, 1], the detection's centre
    [T, D, 2] as that track's shape places it, the number of joints both have [T, D] and each
    joint's squared distance from where the shape places it, in units of twice its tolerance
    (``spread``: about 1 on average when the tolerances fit the detector) [T, D, J].

    The position and shape terms' product is scaled by n / (n + 1) for n shared joints, so that
    a detection sharing few joints loses against one sharing many, and by the share of the
    track's joints it has to the power ``COVERAGE_POWER``. A wrong prediction (a turn while
    hidden) thus lowers only the position term."""
    unit, size = tracks.unit[rows], tracks.size[rows]
    found = keypoints[:, :, 2] > 0
    shared = tracks.known[rows][:, None, :] & found[None, :, :]  # [T, D, J]
    common = shared.sum(axis=2)
    xy = keypoints[:, :, :2].astype(np.float64)
    offset = tracks.offset[rows][:, None] * unit[:, None, None, None]  # [T, 1, J, 2]
    placed = xy[None] - offset  # [T, D, J, 2]: the centre by each joint
    loose = np.maximum(tracks.looseness[rows], 1.0)[:, None]
    spread = ((size[:, None] ** 2 * tolerance2[None, :] + NOISE_PX ** 2) * loose)[:, None, :]  # [T, 1, J]
    # the centre: mean of the joints' votes, then again with far-off votes (outliers) weighed down
    weight = shared.astype(np.float64)
    first = (placed * weight[..., None]).sum(axis=2) / np.maximum(common, 1)[..., None]
    weight *= np.exp(-((placed - first[:, :, None]) ** 2).sum(axis=3) / (8.0 * spread))
    total = weight.sum(axis=2)[..., None]
    centre = np.where(total > 1e-9, (placed * weight[..., None]).sum(axis=2) / np.maximum(total, 1e-12), first)
    normalised = ((placed - centre[:, :, None]) ** 2).sum(axis=3) / (2.0 * spread)
    shape = (np.exp(-normalised) * shared).sum(axis=2) / np.maximum(common, 1)
    moved2 = ((centre - tracks.centre[rows][:, None]) ** 2).sum(axis=2)
    unseen_s = tracks.time_s - tracks.last_hit_s[rows]
    room = tracks.p00[rows] + NOISE_PX ** 2 + (POSITION_TOLERANCE * size) ** 2 + (GATE_SPEED * size * unseen_s) ** 2
    position = np.exp(-moved2 / (2.0 * room[:, None]))
    coverage = common / np.maximum(tracks.known[rows].sum(axis=1), 1)[:, None]
    result = shape * position * common / (common + 1.0) * coverage ** COVERAGE_POWER
    return np.where(common > 0, result, 0.0), centre, common, normalised


def same_motion(tracks: TrackTable, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """[O, N] in (0, 1]: how well the velocities of tracks ``new`` agree with those of tracks
    ``old`` (someone walking the other way is not the lost person)."""
    difference2 = ((tracks.velocity[old][:, None] - tracks.velocity[new][None]) ** 2).sum(axis=2)
    room = (tracks.p11[old][:, None] + tracks.p11[new][None] + (SAME_SPEED * tracks.size[old][:, None]) ** 2)
    return np.exp(-difference2 / (2.0 * room))


def similar_size(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 for equal sizes, falling to 0 at a ratio of 2."""
    ratio = np.maximum(a, b) / np.maximum(np.minimum(a, b), 1e-9)
    return np.clip(2.0 - ratio, 0.0, 1.0)
