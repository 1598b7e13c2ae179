"""Keypoint definitions of the datasets LitePose is trained on, stored as data.

Indices are 0-based. Values are facts about the datasets (COCO person keypoints,
CrowdPose) and the LitePose/HigherHRNet reference settings; see README "Sources".
"""
from typing import Dict, NamedTuple, Tuple


class KeypointSet(NamedTuple):
    """Everything a consumer needs to interpret one dataset's keypoint channels."""

    name: str
    keypoint_names: Tuple[str, ...]
    skeleton: Tuple[Tuple[int, int], ...]
    flip_index: Tuple[int, ...]
    sigmas: Tuple[float, ...]
    # Order in which associative-embedding grouping visits the joints (reference setting).
    joint_order: Tuple[int, ...]

    @property
    def num_joints(self) -> int:
        return len(self.keypoint_names)


# The reference grouping order, defined on COCO's 17 channels; datasets with fewer
# joints use its first num_joints entries, exactly as the reference implementation does.
_REFERENCE_JOINT_ORDER = (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)

COCO = KeypointSet(
    name="coco",
    keypoint_names=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    skeleton=(
        (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
        (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4),
        (3, 5), (4, 6),
    ),
    flip_index=(0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15),
    sigmas=(
        0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
        0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
    ),
    joint_order=_REFERENCE_JOINT_ORDER,
)

CROWDPOSE = KeypointSet(
    name="crowdpose",
    keypoint_names=(
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle", "head", "neck",
    ),
    # The official CrowdPose json carries COCO's skeleton by mistake; this is the
    # 14-joint skeleton LitePose uses for drawing.
    skeleton=(
        (12, 13), (13, 0), (13, 1), (0, 1), (0, 6), (1, 7), (6, 7), (0, 2), (2, 4),
        (1, 3), (3, 5), (6, 8), (8, 10), (7, 9), (9, 11),
    ),
    flip_index=(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 12, 13),
    sigmas=(
        0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
        0.087, 0.087, 0.089, 0.089, 0.079, 0.079,
    ),
    joint_order=tuple(j for j in _REFERENCE_JOINT_ORDER if j < 14),
)

DATASETS: Dict[str, KeypointSet] = {"coco": COCO, "crowdpose": CROWDPOSE}


def get_keypoint_set(name: str) -> KeypointSet:
    try:
        return DATASETS[name.lower()]
    except KeyError:
        raise ValueError(
            "unknown dataset {!r}; expected one of {}".format(name, sorted(DATASETS))
        ) from None

