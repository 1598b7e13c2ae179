"""Training targets of one image: Gaussian heatmaps at both output scales, the joint index
lists of the associative-embedding loss, and the masks that keep crowds, unlabelled people
and (as the official) the padding outside the image out of the heatmap loss.

Target convention (the reference one): a joint at input pixel x lands at output pixel
``floor(x * out / in)``, and the Gaussian peaks (value 1) exactly there.
"""
from typing import Dict, List, NamedTuple, Sequence, Tuple

import numpy as np

from ..common.keypoints import KeypointSet
from ..common.metadata import IMAGENET_MEAN, IMAGENET_STD
from .datasets import ImageRecord, Person
from .transforms import NO_AUGMENT, AugmentConfig, AugmentParams, input_matrix, scaled, transform_joints, warp

SIGMA = 2.0
MAX_PEOPLE = 30
IDENTITY = AugmentParams()
# Output strides of the two stages: stage 1 (heatmaps + tags) and stage 2 (heatmaps).
STRIDES = (4, 2)


class SampleOptions(NamedTuple):
    """How a sample is made; the defaults are the official LitePose recipe."""

    crop: str = "short"  # "short": official square crop of the short side; "long": letterbox geometry
    supervise_padding: bool = False  # official: the area outside the source image is not supervised
    crowdpose_masks: bool = False  # official: CrowdPose masks nothing (it has no segmentations)


OFFICIAL = SampleOptions()


def gaussian_heatmaps(joints: np.ndarray, width: int, height: int, sigma: float = SIGMA) -> np.ndarray:
    """[J, height, width] float32: per joint, the max over people of a Gaussian at each labelled joint.

    ``joints`` [N, J, 3] are already in this map's pixels; v <= 0 or outside the map adds nothing.
    """
    num_joints = joints.shape[1]
    maps = np.zeros((num_joints, height, width), np.float32)
    radius = int(3 * sigma + 1)
    offsets = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel_1d = np.exp(-(offsets ** 2) / (2 * sigma ** 2))
    kernel = np.outer(kernel_1d, kernel_1d)
    for person in joints:
        for j, (x, y, v) in enumerate(person):
            px, py = int(np.floor(x)), int(np.floor(y))
            if v <= 0 or not (0 <= px < width and 0 <= py < height):
                continue
            x0, x1 = max(0, px - radius), min(width, px + radius + 1)
            y0, y1 = max(0, py - radius), min(height, py + radius + 1)
            patch = kernel[y0 - py + radius:y1 - py + radius, x0 - px + radius:x1 - px + radius]
            np.maximum(maps[j, y0:y1, x0:x1], patch, out=maps[j, y0:y1, x0:x1])
    return maps


def joint_indices(joints: np.ndarray, width: int, height: int, max_people: int = MAX_PEOPLE) -> np.ndarray:
    """[max_people, J, 2] int64: (flat index j*H*W + y*W + x into the tag maps, 1 if valid).

    People with no labelled joint inside the map are skipped; beyond ``max_people`` are dropped.
    """
    num_joints = joints.shape[1]
    out = np.zeros((max_people, num_joints, 2), np.int64)
    slot = 0
    for person in joints:
        px, py = np.floor(person[:, 0]).astype(np.int64), np.floor(person[:, 1]).astype(np.int64)
        valid = (person[:, 2] > 0) & (px >= 0) & (px < width) & (py >= 0) & (py < height)
        if not valid.any():
            continue
        if slot == max_people:
            break
        out[slot, :, 0] = np.where(valid, np.arange(num_joints) * height * width + py * width + px, 0)
        out[slot, :, 1] = valid
        slot += 1
    return out


def ignore_regions(record: ImageRecord, box_masks: bool = True) -> np.ndarray:
    """Source-size float32 mask: 1 where the heatmap loss applies, 0 over crowds and unlabelled people.

    COCO regions come from the segmentations (RLE for crowds, polygons otherwise). Annotations
    without a segmentation (all of CrowdPose) mask their bounding boxes when ``box_masks``, and
    nothing otherwise (the official CrowdPose loader masks nothing).
    """
    mask = np.ones((record.height, record.width), np.float32)
    for person in record.people:
        if not person.segmentation and not box_masks:
            continue
        if person.iscrowd or person.num_labelled == 0:
            mask[_region(person, record.width, record.height)] = 0.0
    return mask


def _region(person: Person, width: int, height: int) -> np.ndarray:
    if person.segmentation:
        from pycocotools import mask as mask_utils

        seg = person.segmentation
        if isinstance(seg, dict) and isinstance(seg.get("counts"), list):
            rle = mask_utils.frPyObjects(seg, height, width)
        elif isinstance(seg, dict):
            rle = seg
        else:
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
        return mask_utils.decode(rle).astype(bool)
    region = np.zeros((height, width), bool)
    x, y, w, h = person.bbox
    region[max(0, int(y)):max(0, int(np.ceil(y + h))), max(0, int(x)):max(0, int(np.ceil(x + w)))] = True
    return region


class Sample(NamedTuple):
    image: np.ndarray  # [3, H, W] float32, normalised RGB
    heatmaps: Tuple[np.ndarray, ...]  # per stage [J, H/s, W/s]
    masks: Tuple[np.ndarray, ...]  # per stage [H/s, W/s] float32, 1 = supervised
    joints: np.ndarray  # [MAX_PEOPLE, J, 2] int64 at stage-1 resolution
    keypoints: np.ndarray  # [N, J, 3] input-pixel keypoints (for tests and debugging)


def make_sample(record: ImageRecord, image: np.ndarray, kps: KeypointSet, input_size: Tuple[int, int],
                params: AugmentParams = IDENTITY, strides: Sequence[int] = STRIDES,
                options: SampleOptions = OFFICIAL) -> Sample:
    """Warp an RGB source image and its annotations into one training sample."""
    in_w, in_h = input_size
    matrix = input_matrix(record.width, record.height, input_size, params, options.crop)
    people = [p for p in record.people if not p.iscrowd and p.num_labelled > 0]
    raw = np.stack([p.keypoints for p in people]) if people else np.zeros((0, kps.num_joints, 3), np.float32)
    keypoints = transform_joints(raw, matrix, params.flip, kps.flip_index)
    pixels = warp(image, matrix, (in_w, in_h)).astype(np.float32) / 255.0
    pixels = (pixels - np.float32(IMAGENET_MEAN)) / np.float32(IMAGENET_STD)
    regions = ignore_regions(record, box_masks=options.crowdpose_masks)
    padding = 1.0 if options.supervise_padding else 0.0
    heatmaps: List[np.ndarray] = []
    masks: List[np.ndarray] = []
    for stride in strides:
        w, h = in_w // stride, in_h // stride
        heatmaps.append(gaussian_heatmaps(_scale_xy(keypoints, 1.0 / stride), w, h))
        # Outside the source image: unsupervised as the official (border 0), or supervised
        # background with supervise_padding (the letterboxed robot input has that padding).
        masks.append((warp(regions, scaled(matrix, 1.0 / stride), (w, h), border=padding) > 0.5)
                     .astype(np.float32))
    joints = joint_indices(_scale_xy(keypoints, 1.0 / strides[0]), in_w // strides[0], in_h // strides[0])
    return Sample(np.ascontiguousarray(pixels.transpose(2, 0, 1)), tuple(heatmaps), tuple(masks), joints, keypoints)


def _scale_xy(joints: np.ndarray, factor: float) -> np.ndarray:
    out = joints.copy()
    out[..., :2] *= factor
    return out


def sample_params(config: AugmentConfig, rng: np.random.Generator, width: int, height: int,
                  crop: str = "short") -> AugmentParams:
    if config == NO_AUGMENT:
        return AugmentParams()
    return AugmentParams.sample(config, rng, width, height, crop)


def as_tensors(sample: Sample) -> Dict[str, object]:
    import torch

    return {
        "image": torch.from_numpy(sample.image),
        "heatmaps": [torch.from_numpy(h) for h in sample.heatmaps],
        "masks": [torch.from_numpy(m) for m in sample.masks],
        "joints": torch.from_numpy(sample.joints),
    }
