"""People -> the field values of a litepose_ros/msg/PoseArray, as plain Python data.

Pure (numpy only, Python 3.6 compatible) so that every writer of PoseArray can share it:
the bag writer builds rosbags messages from it, the ROS node can build rclpy messages from
it, and both then carry identical values. ``people_from_message`` is the way back and works
on rosbags and rclpy messages alike.
"""
import os
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from .people import People

TRACK_ID_NONE = -1  # Person.TRACK_ID_NONE


def person_fields(
    keypoints: np.ndarray, score: float, box: Sequence[float], track_id: int = TRACK_ID_NONE
) -> Dict[str, Any]:
    return {
        "keypoints": [(float(x), float(y), float(s)) for x, y, s in keypoints],
        "score": float(score),
        "bbox_x_min": float(box[0]),
        "bbox_y_min": float(box[1]),
        "bbox_x_max": float(box[2]),
        "bbox_y_max": float(box[3]),
        "track_id": int(track_id),
    }


def pose_array_fields(
    people: People,
    metadata: Any,
    image_size: Tuple[int, int],
    model_path: str,
    backend: str,
    processing_ms: float,
    track_ids: Optional[Sequence[int]] = None,
) -> Dict[str, Any]:
    """Every PoseArray field except ``header``; ``metadata`` is the model's ModelMetadata,
    image_size is (width, height) of the source image. People must be best first;
    ``track_ids`` one per person (None: TRACK_ID_NONE for all)."""
    boxes = people.boxes()
    ids = [TRACK_ID_NONE] * len(people) if track_ids is None else track_ids
    return {
        "image_width": int(image_size[0]),
        "image_height": int(image_size[1]),
        "dataset": str(metadata.dataset),
        "keypoint_names": [str(name) for name in metadata.keypoint_names],
        "skeleton": [(int(a), int(b)) for a, b in metadata.skeleton],
        "people": [person_fields(kps, score, box, track_id)
                   for kps, score, box, track_id in zip(people.keypoints, people.scores, boxes, ids)],
        "model": os.path.basename(str(model_path)),
        "model_arch": str(metadata.arch),
        "model_weights": str(metadata.weights),
        "model_input_width": int(metadata.input_width),
        "model_input_height": int(metadata.input_height),
        "backend": str(backend),
        "processing_ms": float(processing_ms),
    }


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
