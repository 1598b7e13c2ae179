"""People -> litepose_ros/msg/PoseArray: the one builder of the message, for any message classes.

Pure (numpy only, Python 3.6 compatible). The ROS node gives it rclpy's generated classes
(``ros/conversions.py``), the bag writer the rosbags classes of its type store
(``bag/analyze.py``); both take the fields as keyword arguments, so both write the same values.
Per frame it does only what changes: the model's fields (names, skeleton, model and backend)
are converted once, the people's numbers leave numpy with one ``tolist()`` per array.

``people_from_message`` and ``positions_from_message`` are the way back and work on rosbags
and rclpy messages alike.
"""
import os
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ..common.people import People

TRACK_ID_NONE = -1  # Person.TRACK_ID_NONE
NO_POSITION = (float("nan"), float("nan"), float("nan"))  # a position that is not valid: NaN, never 0 m


class MessageTypes(NamedTuple):
    """The message classes of one type system (rclpy or rosbags)."""

    pose_array: Any
    person: Any
    keypoint: Any
    limb: Any
    point: Any  # geometry_msgs/Point


class PoseArrayBuilder(object):
    """Builds PoseArray messages for one model and backend.

    ``metadata`` is the model's ModelMetadata (or anything with its fields). Optional per-person
    values are keyword arguments of ``build`` with one value per person; each goes to one Person
    field (see ``_person_values``), so a new Person field is a new keyword and one line there.

    A publisher may hand a message back with ``recycle`` once it is published: later messages
    then reuse its Keypoint objects (rclpy's constructors cost more than everything else here).
    """

    MAX_POOL = 4096  # recycled keypoints kept at most

    def __init__(self, types: MessageTypes, metadata: Any, model_path: str, backend: str) -> None:
        self.types = types
        self.metadata = metadata
        self.num_joints = len(metadata.keypoint_names)
        self._keypoint_names = [str(name) for name in metadata.keypoint_names]
        self._skeleton = [types.limb(joint_a=int(a), joint_b=int(b)) for a, b in metadata.skeleton]
        self._model_fields = {
            "dataset": str(metadata.dataset),
            "model": os.path.basename(str(model_path)),
            "model_arch": str(metadata.arch),
            "model_weights": str(metadata.weights),
            "model_input_width": int(metadata.input_width),
            "model_input_height": int(metadata.input_height),
            "backend": str(backend),
        }  # type: Dict[str, Any]
        self._keypoint_pool = []  # type: List[Any]

    def build(
        self,
        people: People,
        header: Any,
        image_width: int,
        image_height: int,
        processing_ms: float = 0.0,
        positions: Optional[Any] = None,
        position_frame_id: str = "",
        track_ids: Optional[Sequence[int]] = None,
    ) -> Any:
        """``people`` (best first) in source-image pixels of the image whose ``header`` is given;
        ``positions`` (depth.People3D, optional) their 3D in frame ``position_frame_id``;
        ``track_ids``: one per person (default TRACK_ID_NONE)."""
        if people.num_joints != self.num_joints:
            raise ValueError("people have {} keypoints, the model's keypoint set {}".format(
                people.num_joints, self.num_joints))
        return self.types.pose_array(
            header=header,
            image_width=int(image_width),
            image_height=int(image_height),
            keypoint_names=list(self._keypoint_names),
            skeleton=list(self._skeleton),  # the Limb objects are shared: messages are not edited
            people=self._people(people, positions, self._person_values(len(people), track_ids)),
            position_frame_id=str(position_frame_id) if positions is not None else "",
            processing_ms=float(processing_ms),
            **self._model_fields
        )

    @staticmethod
    def _person_values(count: int, track_ids: Optional[Sequence[int]]) -> Dict[str, List[Any]]:
        """Person field -> one value per person, for the optional per-person inputs."""
        values = {"track_id": [TRACK_ID_NONE] * count if track_ids is None else [int(t) for t in track_ids]}
        for name, column in values.items():
            if len(column) != count:
                raise ValueError("{} values for {} people in {}".format(len(column), count, name))
        return values

    def _people(self, people: People, positions: Optional[Any], person_values: Dict[str, List[Any]]) -> List[Any]:
        person, point = self.types.person, self.types.point
        nowhere = point(x=NO_POSITION[0], y=NO_POSITION[1], z=NO_POSITION[2])  # shared by every invalid one
        count, num_joints = len(people), self.num_joints
        if positions is None:
            points, valid = [[nowhere] * num_joints] * count, [[False] * num_joints] * count
            centres, centre_valid = [nowhere] * count, [False] * count
        else:
            valid, centre_valid = positions.valid.tolist(), positions.position_valid.tolist()
            points = [[point(x=p[0], y=p[1], z=p[2]) if ok else nowhere for p, ok in zip(row, oks)]
                      for row, oks in zip(positions.points.tolist(), valid)]
            centres = [point(x=p[0], y=p[1], z=p[2]) if ok else nowhere
                       for p, ok in zip(positions.positions.tolist(), centre_valid)]
        messages = []
        boxes = people.boxes().tolist()
        for i, (joints, score) in enumerate(zip(people.keypoints.tolist(), people.scores.tolist())):
            box = boxes[i]
            extra = {name: column[i] for name, column in person_values.items()}
            messages.append(person(
                keypoints=self._keypoints(joints, points[i], valid[i]), score=score, bbox_x_min=box[0],
                bbox_y_min=box[1], bbox_x_max=box[2], bbox_y_max=box[3], position=centres[i],
                position_valid=centre_valid[i], **extra))
        return messages

    def _keypoints(self, joints: List[List[float]], points: List[Any], valid: List[bool]) -> List[Any]:
        """One person's Keypoint messages: recycled objects when there are enough, else new ones."""
        pool = self._keypoint_pool
        if len(pool) < len(joints):
            keypoint = self.types.keypoint
            return [keypoint(x=x, y=y, score=s, position=p, position_valid=ok)
                    for (x, y, s), p, ok in zip(joints, points, valid)]
        keypoints = [pool.pop() for _ in joints]
        for kp, (x, y, s), p, ok in zip(keypoints, joints, points, valid):
            kp.x, kp.y, kp.score, kp.position, kp.position_valid = x, y, s, p, ok
        return keypoints

    def recycle(self, message: Any) -> None:
        """Take back a message built here that has been published (serialized) and is not used
        any more: its Keypoint objects go to later messages, so ``message`` must not be read again."""
        room = self.MAX_POOL - len(self._keypoint_pool)
        for person in message.people:
            if room < len(person.keypoints):
                break
            self._keypoint_pool.extend(person.keypoints)
            room -= len(person.keypoints)
            person.keypoints = []  # recycling a message twice cannot hand out an object twice


def people_from_message(message: Any) -> People:
    """People (source pixels) from a PoseArray message object (rosbags or rclpy)."""
    num_joints = len(message.keypoint_names)
    keypoints = np.zeros((len(message.people), num_joints, 3), np.float32)
    for i, person in enumerate(message.people):
        if len(person.keypoints) != num_joints:
            raise ValueError("person {} has {} keypoints, the message names {}".format(
                i, len(person.keypoints), num_joints))
        keypoints[i] = [(k.x, k.y, k.score) for k in person.keypoints]
    return People(keypoints, np.array([person.score for person in message.people], np.float32))


def positions_from_message(message: Any) -> Tuple[np.ndarray, np.ndarray]:
    """3D from a PoseArray message object (rosbags or rclpy): keypoint positions float32
    [N, J, 3] and person positions float32 [N, 3], metres, NaN where not position_valid."""
    num_joints = len(message.keypoint_names)
    points = np.full((len(message.people), num_joints, 3), np.nan, np.float32)
    centres = np.full((len(message.people), 3), np.nan, np.float32)
    for i, person in enumerate(message.people):
        for j, k in enumerate(person.keypoints[:num_joints]):
            if k.position_valid:
                points[i, j] = (k.position.x, k.position.y, k.position.z)
        if person.position_valid:
            centres[i] = (person.position.x, person.position.y, person.position.z)
    return points, centres
