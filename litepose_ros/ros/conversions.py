"""People <-> litepose_ros/PoseArray as rclpy messages.

``PoseArrayBuilder`` is the shared builder (``litepose_ros.messages.pose_array``, also used by the bag
writer) bound to rclpy's generated classes. ``pose_array_to_numpy`` is the inverse, for
consumers and tests (``pose_array_positions_to_numpy`` for the 3D of a node running with depth).
"""
from typing import List, Tuple

import numpy as np
from geometry_msgs.msg import Point

from ..common.metadata import ModelMetadata
from ..common.people import People
from ..messages import pose_array
from ..messages.pose_array import people_from_message, positions_from_message
from . import attach_generated_messages

attach_generated_messages()
from litepose_ros.msg import Keypoint, Limb, Person, PoseArray  # noqa: E402  (needs the line above)

TRACK_ID_NONE = Person.TRACK_ID_NONE
RCLPY_TYPES = pose_array.MessageTypes(pose_array=PoseArray, person=Person, keypoint=Keypoint, limb=Limb,
                                       point=Point)


class PoseArrayBuilder(pose_array.PoseArrayBuilder):
    """Builds rclpy PoseArray messages for one model and backend."""

    def __init__(self, metadata: ModelMetadata, model_path: str, backend: str) -> None:
        super(PoseArrayBuilder, self).__init__(RCLPY_TYPES, metadata, model_path, backend)


def pose_array_to_numpy(msg: PoseArray) -> Tuple[np.ndarray, np.ndarray]:
    """PoseArray -> (keypoints float32 [N, J, 3] as x, y, score; scores float32 [N])."""
    people = people_from_message(msg)
    return people.keypoints, people.scores


def pose_array_positions_to_numpy(msg: PoseArray) -> Tuple[np.ndarray, np.ndarray]:
    """PoseArray -> (keypoint positions float32 [N, J, 3], person positions float32 [N, 3]):
    metres in frame ``msg.position_frame_id``, NaN where not position_valid (all NaN when the
    node runs without depth). Same people order as pose_array_to_numpy."""
    return positions_from_message(msg)


def pose_array_to_people(msg: PoseArray) -> People:
    return people_from_message(msg)


def skeleton_from_msg(msg: PoseArray) -> List[Tuple[int, int]]:
    return [(limb.joint_a, limb.joint_b) for limb in msg.skeleton]
