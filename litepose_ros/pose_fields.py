"""People -> the field values of a litepose_ros/msg/PoseArray, as plain Python data.

Pure (numpy only, Python 3.6 compatible) so that every writer of PoseArray can share it:
the bag writer builds rosbags messages from it, the ROS node can build rclpy messages from
it, and both then carry identical values. ``people_from_message`` is the way back and works
on rosbags and rclpy messages alike.
"""
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .people import People

TRACK_ID_NONE = -1  # Person.TRACK_ID_NONE


NO_POSITION = (float("nan"), float("nan"), float("nan"))  # a position that is not valid: NaN, never 0 m


def person_fields(keypoints: np.ndarray, score: float, box: Sequence[float], track_id: int = TRACK_ID_NONE,
                  points: Optional[np.ndarray] = None, valid: Optional[np.ndarray] = None,
                  position: Optional[Sequence[float]] = None, position_valid: bool = False) -> Dict[str, Any]:
    """One Person. The 3D arguments (People3D rows: points [J, 3], valid [J], position [3])
    are optional; without them every position is NO_POSITION and flagged not valid."""
    fields = {
        "keypoints": [(float(x), float(y), float(s)) for x, y, s in keypoints],
        "score": float(score),
        "bbox_x_min": float(box[0]),
        "bbox_y_min": float(box[1]),
        "bbox_x_max": float(box[2]),
        "bbox_y_max": float(box[3]),
        "track_id": int(track_id),
        # per keypoint (x, y, z) in metres, or None where not valid
        "keypoint_positions": [None] * len(keypoints),
        "position": NO_POSITION,
        "position_valid": False,
    }
    if points is not None and valid is not None:
        fields["keypoint_positions"] = [tuple(float(v) for v in p) if ok else None for p, ok in zip(points, valid)]
    if position is not None and position_valid:
        fields["position"], fields["position_valid"] = tuple(float(v) for v in position), True
    return fields


def pose_array_fields(
    people: People,
    metadata: Any,
    image_size: Tuple[int, int],
    model_path: str,
    backend: str,
    processing_ms: float,
    positions: Optional[Any] = None,
    position_frame_id: str = "",
    track_ids: Optional[Sequence[int]] = None,
) -> Dict[str, Any]:
    """Every PoseArray field except ``header``; ``metadata`` is the model's ModelMetadata,
    image_size is (width, height) of the source image. People must be best first.
    ``positions`` (a depth.People3D for these people, optional) adds their 3D, in the frame
    ``position_frame_id``; ``track_ids`` one per person (None: TRACK_ID_NONE for all)."""
    boxes = people.boxes()
    ids = [TRACK_ID_NONE] * len(people) if track_ids is None else track_ids
    if positions is None:
        persons = [person_fields(kps, score, box, track_id)
                   for kps, score, box, track_id in zip(people.keypoints, people.scores, boxes, ids)]
    else:
        persons = [person_fields(kps, score, box, track_id, *p3d) for kps, score, box, track_id, p3d in zip(
            people.keypoints, people.scores, boxes, ids,
            zip(positions.points, positions.valid, positions.positions, positions.position_valid))]
    return {
        "image_width": int(image_size[0]),
        "image_height": int(image_size[1]),
        "dataset": str(metadata.dataset),
        "keypoint_names": [str(name) for name in metadata.keypoint_names],
        "skeleton": [(int(a), int(b)) for a, b in metadata.skeleton],
        "people": persons,
        "position_frame_id": str(position_frame_id) if positions is not None else "",
        "model": os.path.basename(str(model_path)),
        "model_arch": str(metadata.arch),
        "model_weights": str(metadata.weights),
        "model_input_width": int(metadata.input_width),
        "model_input_height": int(metadata.input_height),
        "backend": str(backend),
        "processing_ms": float(processing_ms),
    }


def person_messages(persons: Sequence[Dict[str, Any]], person: Any, keypoint: Any, point: Any) -> List[Any]:
    """Person messages from person_fields() values, with the message classes of either
    library (rclpy or rosbags). Invalid positions share one NaN point (built once)."""
    nowhere = point(x=NO_POSITION[0], y=NO_POSITION[1], z=NO_POSITION[2])

    def at(xyz: Optional[Sequence[float]]) -> Any:
        return nowhere if xyz is None else point(x=xyz[0], y=xyz[1], z=xyz[2])

    messages = []
    for fields in persons:
        keypoints = [keypoint(x=x, y=y, score=s, position=at(xyz), position_valid=xyz is not None)
                     for (x, y, s), xyz in zip(fields["keypoints"], fields["keypoint_positions"])]
        values = {k: v for k, v in fields.items() if k not in ("keypoints", "keypoint_positions", "position")}
        messages.append(person(keypoints=keypoints, position=at(fields["position"] if fields["position_valid"]
                                                                else None), **values))
    return messages


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
