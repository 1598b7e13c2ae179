"""Letterbox geometry, normalisation and the exact way back to source pixels."""
import cv2
import numpy as np
import pytest

from litepose_ros.common.metadata import ModelMetadata
from litepose_ros.common.people import People
from litepose_ros.image.preprocess import MAX_PIXELS, Letterbox, Preprocessor, as_bgr8


def metadata(width: int = 256, height: int = 256) -> ModelMetadata:
    return ModelMetadata.for_dataset("XS", "coco", width, height, weights="random")


@pytest.mark.parametrize("source", [(640, 480), (480, 640), (1920, 1080), (100, 100), (257, 31)])
@pytest.mark.parametrize("network", [(256, 256), (448, 256)])
def test_round_trip_is_exact(source, network):
    box = Letterbox.fit(source[0], source[1], network[0], network[1])
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 1, (50, 2)) * np.array(source, np.float32)
    back = box.to_source(box.to_input(points))
    np.testing.assert_allclose(back, points, atol=1e-3)


def test_letterbox_keeps_aspect_and_centres():
    box = Letterbox.fit(640, 480, 256, 256)
    assert box.resized_size == (256, 192)
    assert (box.pad_x, box.pad_y) == (0, 32)
    assert box.scale_x == pytest.approx(0.4) and box.scale_y == pytest.approx(0.4)
    # The source image's corners land on the resized image's corners.
    np.testing.assert_allclose(box.to_input(np.array([[0, 0], [640, 480]])), [[0, 32], [256, 224]])


def test_tensor_places_image_content_where_the_mapping_says():
    """A white square drawn in the source appears where to_input maps its corners."""
    image = np.zeros((300, 500, 3), np.uint8)
    image[100:150, 200:260] = 255
    pre = Preprocessor(metadata(256, 256))
    tensor, box = pre(image)
    assert tensor.shape == (1, 3, 256, 256) and tensor.dtype == np.float32
    (x0, y0), (x1, y1) = box.to_input(np.array([[200, 100], [260, 150]]))
    bright = tensor[0, 0] > 1.0  # white normalises to (1 - mean) / std > 2
    ys, xs = np.nonzero(bright)
    assert abs(xs.min() - x0) <= 1 and abs(xs.max() + 1 - x1) <= 1
    assert abs(ys.min() - y0) <= 1 and abs(ys.max() + 1 - y1) <= 1


def test_normalisation_and_channel_order():
    image = np.zeros((64, 64, 3), np.uint8)
    image[..., 2] = 255  # pure red in BGR
    tensor, _ = Preprocessor(metadata(64, 64))(image)
    meta = metadata(64, 64)
    red = (1.0 - meta.mean[0]) / meta.std[0]
    blue = (0.0 - meta.mean[2]) / meta.std[2]
    np.testing.assert_allclose(tensor[0, 0], red, atol=1e-5)  # RGB order: channel 0 is red
    np.testing.assert_allclose(tensor[0, 2], blue, atol=1e-5)


def test_padding_is_black_after_normalisation():
    tensor, box = Preprocessor(metadata(256, 256))(np.full((100, 400, 3), 255, np.uint8))
    assert box.pad_y > 0
    meta = metadata()
    np.testing.assert_allclose(tensor[0, 1, 0, :], -meta.mean[1] / meta.std[1], atol=1e-5)


def test_people_to_source_moves_only_coordinates():
    box = Letterbox.fit(640, 480, 256, 256)
    keypoints = np.array([[[128.0, 128.0, 0.9], [0.0, 32.0, 0.5]]], np.float32)
    people = box.people_to_source(People(keypoints, np.array([0.7], np.float32)))
    np.testing.assert_allclose(people.keypoints[0, :, :2], [[320, 240], [0, 0]], atol=1e-4)
    np.testing.assert_allclose(people.keypoints[0, :, 2], [0.9, 0.5])
    assert people.scores[0] == pytest.approx(0.7)


def test_accepts_gray_and_bgra():
    assert as_bgr8(np.zeros((10, 12), np.uint8)).shape == (10, 12, 3)
    assert as_bgr8(np.zeros((10, 12, 4), np.uint8)).shape == (10, 12, 3)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((0, 10, 3), np.uint8), "empty"),
        (np.zeros((10, 10, 3), np.float32), "8-bit"),
        (np.zeros((10, 10, 2), np.uint8), "channels"),
        ("not an image", "numpy"),
    ],
)
def test_bad_images_are_rejected_with_a_reason(image, message):
    with pytest.raises(ValueError, match=message):
        as_bgr8(image)


def test_huge_frame_is_rejected_without_allocating():
    huge = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), shape=(MAX_PIXELS // 1000 + 1, 1000, 3),
                                           strides=(0, 0, 0))
    with pytest.raises(ValueError, match="pixel limit"):
        as_bgr8(huge)


def plain_formula(image: np.ndarray, meta: ModelMetadata):
    """The preprocessing written out step by step (fresh canvas, float math, transpose)."""
    box = Letterbox.fit(image.shape[1], image.shape[0], meta.input_width, meta.input_height)
    width, height = box.resized_size
    canvas = np.zeros((meta.input_height, meta.input_width, 3), np.uint8)
    canvas[box.pad_y:box.pad_y + height, box.pad_x:box.pad_x + width] = cv2.resize(
        image, (width, height), interpolation=cv2.INTER_LINEAR)
    if meta.color_order == "rgb":
        canvas = canvas[:, :, ::-1]
    std = np.asarray(meta.std, np.float32)
    scale = (1.0 / (255.0 * std)).astype(np.float32)
    offset = (-np.asarray(meta.mean, np.float32) / std).astype(np.float32)
    tensor = canvas.astype(np.float32) * scale + offset
    return np.ascontiguousarray(tensor.transpose(2, 0, 1)[None]), box


@pytest.mark.parametrize("color_order", ["rgb", "bgr"])
def test_tensor_equals_the_plain_formula_across_frame_sizes(color_order):
    """Bit for bit, whatever the frame size sequence, for letterboxes padded top/bottom and
    left/right (strided regions of the output planes) and for both channel orders."""
    meta = ModelMetadata.for_dataset("S", "crowdpose", 448, 256, weights="random")
    meta.color_order = color_order
    pre = Preprocessor(meta)
    rng = np.random.default_rng(3)
    previous = None
    for width, height in [(640, 480), (640, 480), (300, 400), (1000, 200), (640, 480), (448, 256)]:
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        tensor, box = pre(image)
        expected, expected_box = plain_formula(image, meta)
        assert box == expected_box
        np.testing.assert_array_equal(tensor, expected)
        assert previous is None or not np.shares_memory(tensor, previous)  # callers may keep tensors
        previous = tensor
