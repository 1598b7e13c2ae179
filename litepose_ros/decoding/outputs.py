"""The checks every decoder applies to network outputs before reading them."""
from typing import Sequence, Tuple

import numpy as np

Outputs = Sequence[np.ndarray]


def check_outputs(outputs: Outputs, num_joints: int, name: str = "outputs") -> Tuple[np.ndarray, np.ndarray]:
    """(stage1 [2J, h, w], stage2 [J, 2h, 2w]) as C-contiguous float32, from batch-1 arrays;
    ValueError naming ``name`` and what is wrong otherwise."""
    if len(outputs) != 2:
        raise ValueError("{}: expected (stage1, stage2), got {} arrays".format(name, len(outputs)))
    stage1, stage2 = (np.ascontiguousarray(o, dtype=np.float32) for o in outputs)
    j = num_joints
    if stage1.ndim != 4 or stage2.ndim != 4 or stage1.shape[0] != 1 or stage2.shape[0] != 1:
        raise ValueError("{}: expected 4-D batch-1 arrays, got {} and {}".format(name, stage1.shape, stage2.shape))
    if stage1.shape[1] != 2 * j or stage2.shape[1] != j:
        raise ValueError(
            "{}: expected {} and {} channels for {} joints, got {} and {}".format(
                name, 2 * j, j, j, stage1.shape[1], stage2.shape[1])
        )
    if stage1.shape[2] == 0 or stage1.shape[3] == 0:
        raise ValueError("{}: empty maps {}".format(name, stage1.shape))
    if stage2.shape[2:] != (stage1.shape[2] * 2, stage1.shape[3] * 2):
        raise ValueError("{}: stage2 {} is not twice stage1 {}".format(name, stage2.shape[2:], stage1.shape[2:]))
    return stage1[0], stage2[0]


def check_pair(outputs: Outputs, flipped_outputs, num_joints: int):
    """Both output sets checked, and of one size."""
    stage1, stage2 = check_outputs(outputs, num_joints, "outputs")
    if flipped_outputs is None:
        return (stage1, stage2), None
    flipped = check_outputs(flipped_outputs, num_joints, "flipped_outputs")
    if flipped[0].shape != stage1.shape:
        raise ValueError("flipped_outputs: maps {} differ from outputs {}".format(flipped[0].shape, stage1.shape))
    return (stage1, stage2), flipped
