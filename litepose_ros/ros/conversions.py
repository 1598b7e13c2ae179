"""People <-> litepose_ros/PoseArray, the only place that knows the message layout.

``PoseArrayBuilder`` turns the field values of ``litepose_ros.pose_fields`` (shared with the
bag writer) into rclpy messages stamped with the source image's header and size.
``pose_array_to_numpy`` is the inverse, for consumers and tests.
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..metadata import ModelMetadata
from ..people import People
from ..pose_fields import people_from_message, pose_array_fields
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
        track_ids: Optional[Sequence[int]] = None,
    ) -> PoseArray:
        """``people`` in source-image pixels of the image whose ``header`` is given."""
        expected = len(self.metadata.keypoint_names)
        if people.num_joints != expected:
            raise ValueError("people have {} keypoints, the model's keypoint set {}".format(
                people.num_joints, expected))
        fields = pose_array_fields(people, self.metadata, (image_width, image_height), self.model_path,
                                   self.backend, processing_ms, track_ids)
        fields["skeleton"] = [Limb(joint_a=a, joint_b=b) for a, b in fields["skeleton"]]
        fields["people"] = [
            Person(**dict(person, keypoints=[Keypoint(x=x, y=y, score=s) for x, y, s in person["keypoints"]]))
            for person in fields["people"]
        ]
        return PoseArray(header=header, **fields)


def pose_array_to_numpy(msg: PoseArray) -> Tuple[np.ndarray, np.ndarray]:
    """PoseArray -> (keypoints float32 [N, J, 3] as x, y, score; scores float32 [N])."""
    people = people_from_message(msg)
    return people.keypoints, people.scores


def pose_array_to_people(msg: PoseArray) -> People:
    return people_from_message(msg)


def skeleton_from_msg(msg: PoseArray) -> List[Tuple[int, int]]:
    return [(limb.joint_a, limb.joint_b) for limb in msg.skeleton]
