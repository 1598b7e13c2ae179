"""COCO 2017 and CrowdPose keypoint annotations in their official layouts.

* COCO: ``ROOT/annotations/person_keypoints_{split}2017.json`` + ``ROOT/{split}2017/``
* CrowdPose: ``ROOT/json/crowdpose_{split}.json`` + ``ROOT/images/``

Annotation files are validated up front: a missing file or field is an
``AnnotationError`` naming the file, the record and the field, rather than a KeyError
deep inside a data-loader worker hours into a run.
"""
import json
import os
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import cv2
import numpy as np

from ..common.keypoints import KeypointSet, get_keypoint_set

# Reference splits: COCO trains on train2017 and validates on val2017; LitePose trains
# CrowdPose on trainval and reports the test split.
DEFAULT_SPLITS: Dict[str, Tuple[str, str]] = {"coco": ("train", "val"), "crowdpose": ("trainval", "test")}


class AnnotationError(ValueError):
    """An annotation file is missing or malformed; the message names the file and field."""


class Person(NamedTuple):
    keypoints: np.ndarray  # [J, 3] float32: x, y, v in source pixels (v = 0: not labelled)
    bbox: Tuple[float, float, float, float]  # x, y, w, h
    iscrowd: bool
    segmentation: Any  # polygons, RLE, or None (CrowdPose has none)

    @property
    def num_labelled(self) -> int:
        # Counted from the keypoints: CrowdPose's num_keypoints leaves out head and neck.
        return int((self.keypoints[:, 2] > 0).sum())


class ImageRecord(NamedTuple):
    image_id: int
    path: str
    width: int
    height: int
    people: Tuple[Person, ...]


def split_paths(dataset: str, root: str, split: str) -> Tuple[str, str]:
    """(annotation json, image directory) of ``split`` in the official layout of ``dataset``."""
    if dataset == "coco":
        year_split = split if split.endswith("2017") else split + "2017"
        return (os.path.join(root, "annotations", "person_keypoints_{}.json".format(year_split)),
                os.path.join(root, year_split))
    if dataset == "crowdpose":
        return os.path.join(root, "json", "crowdpose_{}.json".format(split)), os.path.join(root, "images")
    raise ValueError("unknown dataset {!r}; expected coco or crowdpose".format(dataset))


def _field(record: Dict[str, Any], name: str, kind: Any, where: str) -> Any:
    if name not in record:
        raise AnnotationError("{}: missing field '{}'".format(where, name))
    value = record[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise AnnotationError("{}: field '{}' has type {}".format(where, name, type(value).__name__))
    return value


def _read_json(path: str) -> Dict[str, Any]:
    if not os.path.isfile(path):
        raise AnnotationError("annotation file not found: {}".format(path))
    try:
        with open(path) as stream:
            data = json.load(stream)
    except (ValueError, UnicodeDecodeError) as error:
        raise AnnotationError("{}: not valid JSON ({})".format(path, error)) from None
    if not isinstance(data, dict):
        raise AnnotationError("{}: top level must be an object".format(path))
    for name in ("images", "annotations"):
        _field(data, name, list, path)
    return data


def _person(ann: Any, num_joints: int, where: str) -> Person:
    if not isinstance(ann, dict):
        raise AnnotationError("{}: not an object".format(where))
    flat = _field(ann, "keypoints", list, where)
    if len(flat) != 3 * num_joints:
        raise AnnotationError("{}: field 'keypoints' has {} values, expected {} ({} joints x 3)".format(
            where, len(flat), 3 * num_joints, num_joints))
    bbox = _field(ann, "bbox", list, where)
    if len(bbox) != 4:
        raise AnnotationError("{}: field 'bbox' has {} values, expected 4".format(where, len(bbox)))
    try:
        keypoints = np.asarray(flat, np.float32).reshape(num_joints, 3)
        box = tuple(float(v) for v in bbox)
    except (TypeError, ValueError):
        raise AnnotationError("{}: fields 'keypoints'/'bbox' must be numbers".format(where)) from None
    return Person(keypoints, box, bool(ann.get("iscrowd", 0)), ann.get("segmentation"))


def load_split(dataset: str, root: str, split: str, keep_empty: bool = False) -> List[ImageRecord]:
    """Validated image records of one split; by default only images with at least one annotation.

    Images without any person annotation are dropped as in the reference training set.
    """
    kps: KeypointSet = get_keypoint_set(dataset)
    ann_path, image_dir = split_paths(dataset, root, split)
    data = _read_json(ann_path)
    by_image: Dict[int, List[Person]] = {}
    for index, ann in enumerate(data["annotations"]):
        where = "{}: annotations[{}]".format(ann_path, index)
        image_id = _field(ann, "image_id", int, where)
        if ann.get("category_id", 1) != 1:
            continue
        by_image.setdefault(image_id, []).append(_person(ann, kps.num_joints, where))
    records = []
    for index, image in enumerate(data["images"]):
        where = "{}: images[{}]".format(ann_path, index)
        if not isinstance(image, dict):
            raise AnnotationError("{}: not an object".format(where))
        image_id = _field(image, "id", int, where)
        people = by_image.get(image_id, [])
        if not people and not keep_empty:
            continue
        records.append(ImageRecord(
            image_id, os.path.join(image_dir, _field(image, "file_name", str, where)),
            _field(image, "width", int, where), _field(image, "height", int, where), tuple(people)))
    if not records:
        raise AnnotationError("{}: no images with person annotations".format(ann_path))
    return records


def read_rgb(path: str) -> np.ndarray:
    """RGB uint8 image (the network is trained on RGB, as the reference); OSError if unreadable."""
    image = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise OSError("cannot read image {}".format(path))
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def check_images(records: List[ImageRecord], limit: Optional[int] = None) -> None:
    """Fail early when image files are missing (checks the first ``limit`` records, all if None)."""
    missing = [r.path for r in records[:limit] if not os.path.isfile(r.path)]
    if missing:
        raise AnnotationError("{} image file(s) missing, e.g. {}".format(len(missing), missing[0]))
