"""People <-> litepose_ros/PoseArray as rclpy messages.

``PoseArrayBuilder`` is the shared builder (``litepose_ros.pose_fields``, also used by the bag
writer) bound to rclpy's generated classes. ``pose_array_to_numpy`` is the inverse, for
consumers and tests.
"""
from typing import List, Tuple

import numpy as np

from .. import pose_fields
from ..metadata import ModelMetadata
from ..people import People
from ..pose_fields import people_from_message
from . import attach_generated_messages

attach_generated_messages()
from litepose_ros.msg import Keypoint, Limb, Person, PoseArray  # noqa: E402  (needs the line above)

TRACK_ID_NONE = Person.TRACK_ID_NONE
RCLPY_TYPES = pose_fields.MessageTypes(pose_array=PoseArray, person=Person, keypoint=Keypoint, limb=Limb)


class PoseArrayBuilder(pose_fields.PoseArrayBuilder):
    """Builds rclpy PoseArray messages for one model and backend."""

    def __init__(self, metadata: ModelMetadata, model_path: str, backend: str) -> None:
        super(PoseArrayBuilder, self).__init__(RCLPY_TYPES, metadata, model_path, backend)


def pose_array_to_numpy(msg: PoseArray) -> Tuple[np.ndarray, np.ndarray]:
    """PoseArray -> (keypoints float32 [N, J, 3] as x, y, score; scores float32 [N])."""
    people = people_from_message(msg)
    return people.keypoints, people.scores


def pose_array_to_people(msg: PoseArray) -> People:
    return people_from_message(msg)


def skeleton_from_msg(msg: PoseArray) -> List[Tuple[int, int]]:
    return [(limb.joint_a, limb.joint_b) for limb in msg.skeleton]
