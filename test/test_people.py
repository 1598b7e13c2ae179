"""People: selection, boxes, clipping to the image, COCO results."""
import numpy as np

from litepose_ros.common.people import People


def test_filtered_sorts_thresholds_and_caps():
    keypoints = np.zeros((3, 2, 3), np.float32)
    keypoints[:, :, 0] = np.arange(3)[:, None]
    people = People(keypoints, np.array([0.2, 0.9, 0.5], np.float32)).filtered(min_score=0.3, max_people=5)
    np.testing.assert_allclose(people.scores, [0.9, 0.5])
    np.testing.assert_allclose(people.keypoints[:, 0, 0], [1, 2])
    assert len(People(keypoints, np.array([0.2, 0.9, 0.5], np.float32)).filtered(max_people=1)) == 1


def test_boxes_surround_found_keypoints_only():
    keypoints = np.array([[[10, 20, 0.5], [30, 5, 0.4], [99, 99, 0.0]]], np.float32)
    np.testing.assert_allclose(People(keypoints, np.ones(1, np.float32)).boxes(), [[10, 5, 30, 20]])
    # Per person; someone with no found keypoint gets an all-zero box; nobody gives [0, 4].
    keypoints = np.array([[[1, 2, 0.0], [3, 4, 0.0]], [[-5, 8, 0.1], [7, -2, 0.2]], [[6, 6, 0.3], [9, 9, 0.0]]],
                         np.float32)
    boxes = People(keypoints, np.ones(3, np.float32)).boxes()
    assert boxes.dtype == np.float32
    np.testing.assert_array_equal(boxes, [[0, 0, 0, 0], [-5, -2, 7, 8], [6, 6, 6, 6]])
    assert People.empty(17).boxes().shape == (0, 4)


def test_coco_results_layout():
    keypoints = np.array([[[1.5, 2.25, 0.5], [3, 4, 0.0]]], np.float32)
    (result,) = People(keypoints, np.array([0.75], np.float32)).to_coco_results(image_id=42)
    assert result == {"image_id": 42, "category_id": 1, "keypoints": [1.5, 2.25, 0.5, 3.0, 4.0, 0.0], "score": 0.75}


def test_clipped_to_image_marks_padding_keypoints_not_found():
    keypoints = np.array([
        [[10, 10, 0.9], [-50, 20, 0.8], [100.5, 51.2, 0.7]],  # one far left, one just outside (margin 2 px)
        [[5, -40, 0.5], [5, 90, 0.5], [150, 5, 0.5]],  # entirely outside a 100x50 image
        [[-1, 51, 0.6], [0, 0, 0.0], [99, 49, 0.6]],  # just outside: clamped, kept
    ], np.float32)
    clipped = People(keypoints, np.array([0.9, 0.5, 0.6], np.float32)).clipped_to_image(100, 50)
    assert len(clipped) == 2
    np.testing.assert_allclose(clipped.keypoints[0], [[10, 10, 0.9], [0, 20, 0], [100, 50, 0.7]], atol=1e-5)
    np.testing.assert_allclose(clipped.keypoints[1], [[0, 50, 0.6], [0, 0, 0], [99, 49, 0.6]], atol=1e-5)
    np.testing.assert_allclose(clipped.scores, [0.9, 0.6])
