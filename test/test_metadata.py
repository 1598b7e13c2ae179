"""The JSON every model carries: round trip and validation."""
import json

import pytest

from litepose_ros.common.keypoints import COCO, CROWDPOSE
from litepose_ros.common.metadata import ModelMetadata, ModelMetadataError


@pytest.mark.parametrize("dataset, kps", [("coco", COCO), ("crowdpose", CROWDPOSE)])
def test_round_trip(dataset, kps):
    meta = ModelMetadata.for_dataset("S", dataset, 448, 256, weights="ckpt.pth sha256:abc")
    again = ModelMetadata.from_json(meta.to_json())
    assert again == meta
    assert again.keypoint_set() == kps
    assert again.output_shapes() == [(1, 2 * kps.num_joints, 64, 112), (1, kps.num_joints, 128, 224)]


def test_missing_metadata_says_how_to_fix():
    with pytest.raises(ModelMetadataError, match="litepose export"):
        ModelMetadata.from_json(None, source="foo.onnx")


def test_unknown_format_version_is_rejected():
    data = ModelMetadata.for_dataset("S", "coco", 448, 448, weights="random").to_dict()
    data["format_version"] = 99
    with pytest.raises(ModelMetadataError, match="format_version"):
        ModelMetadata.from_json(json.dumps(data))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("input_width", 450, "multiple of 16"),
        ("flip_index", list(range(16)) + [0], "flip_index"),
        ("sigmas", [0.1], "sigmas"),
        ("skeleton", [[0, 40]], "skeleton"),
        ("color_order", "yuv", "color_order"),
    ],
)
def test_inconsistent_metadata_is_rejected(field, value, message):
    data = ModelMetadata.for_dataset("S", "coco", 448, 448, weights="random").to_dict()
    data[field] = value
    with pytest.raises(ModelMetadataError, match=message):
        ModelMetadata.from_dict(data)


def test_unknown_field_is_a_clear_error():
    data = ModelMetadata.for_dataset("S", "coco", 448, 448, weights="random").to_dict()
    data["surprise"] = 1
    with pytest.raises(ModelMetadataError, match="malformed"):
        ModelMetadata.from_dict(data)
