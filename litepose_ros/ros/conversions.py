"""People <-> litepose_ros/PoseArray, the only place that knows the message layout.

``PoseArrayBuilder`` turns the field values of ``litepose_ros.pose_fields`` (shared with the
bag writer) into rclpy messages stamped with the source image's header and size.
``pose_array_to_numpy`` is the inverse, for consumers and tests (``pose_array_positions_to_numpy``
for the 3D of a node running with depth).
"""
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
from geometry_msgs.msg import Point

from ..metadata import ModelMetadata
from ..people import People
from ..pose_fields import people_from_message, person_messages, pose_array_fields, positions_from_message
from . import attach_generated_messages

attach_generated_messages()
from litepose_ros.msg import Keypoint, Limb, Person, PoseArray  # noqa: E402  (needs the line above)

TRACK_ID_NONE = Person.TRACK_ID_NONE


class PoseArrayBuilder(object):
    """Builds PoseArray messages for one model and backend, from the shared field mapping."""

    def __init__(self, metadata: ModelMetadata, model_path: str, backend: str) -> None:
        self.metadata = metadata
        self.model_path = model_path
        self.backend = backend

    def build(
        self, people: People, header: object, image_width: int, image_height: int, processing_ms: float = 0.0,
        positions: Optional[Any] = None, position_frame_id: str = "",
        track_ids: Optional[Sequence[int]] = None,
    ) -> PoseArray:
        """``people`` in source-image pixels of the image whose ``header`` is given;
        ``positions`` (depth.People3D, optional) their 3D in frame ``position_frame_id``."""
        expected = len(self.metadata.keypoint_names)
        if people.num_joints != expected:
            raise ValueError("people have {} keypoints, the model's keypoint set {}".format(
                people.num_joints, expected))
        fields = pose_array_fields(people, self.metadata, (image_width, image_height), self.model_path,
                                   self.backend, processing_ms, positions, position_frame_id, track_ids)
        fields["skeleton"] = [Limb(joint_a=a, joint_b=b) for a, b in fields["skeleton"]]
        fields["people"] = person_messages(fields["people"], Person, Keypoint, Point)
        return PoseArray(header=header, **fields)


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
