"""FrameProcessor: the per-frame chain the node and `bag analyze` share, on a real ONNX model.

The people marker model (test/marker_people.py) finds one person per green disc, so the
people, their positions and the ids that should follow them are known in every frame.
"""
import numpy as np
import pytest
from marker_people import PERIOD_NS, START_NS, draw, make_people_marker_model, nearest, position

from litepose_ros.pipeline.frame_processor import FrameProcessor
from litepose_ros.settings import factories, parameters

NAMES = ("a", "b", "c")


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    model = make_people_marker_model(tmp_path_factory.mktemp("model") / "people_marker_coco_256.onnx")
    return dict(parameters.defaults(), model_path=str(model), threads=1, track_confirm_hits=1)


def _processor(settings):
    settings = dict(settings)
    estimator = factories.estimator_from_settings(settings)
    tracker = factories.tracker_from_settings(settings, estimator.metadata.sigmas)
    return FrameProcessor(estimator, settings, tracker)


def _frame(index):
    return draw({name: position(name, index) for name in NAMES}), START_NS + index * PERIOD_NS


def _owners(result, index):
    """The marker each published person stands on, by track id."""
    centres = result.people.keypoints[:, 0, :2]
    return {int(i): nearest(x, y, index, NAMES) for i, (x, y) in zip(result.track_ids, centres)}


def test_people_are_selected_tracked_and_keep_their_ids(settings):
    processor = _processor(settings)
    first = None
    for index in range(6):
        image, stamp = _frame(index)
        result = processor.process(image, stamp)
        assert result.image_size == (image.shape[1], image.shape[0])
        assert len(result.people) == 3 and result.reset_reason is None and result.positions is None
        owners = _owners(result, index)
        assert sorted(owners.values()) == list(NAMES)
        first = first or owners
        assert owners == first  # each marker keeps the id it got on the first frame


def test_a_setting_changed_under_the_lock_applies_from_the_next_frame(settings):
    processor = _processor(settings)
    image, stamp = _frame(0)
    assert len(processor.process(image, stamp).people) == 3
    with processor.lock:  # what the node's parameter callback does
        processor.settings["max_people"] = 2
    image, stamp = _frame(1)
    result = processor.process(image, stamp)
    assert len(result.people) == 2 and len(result.track_ids) == 2
    assert list(result.people.scores) == sorted(result.people.scores, reverse=True)  # best first


def test_tracking_off_gives_no_ids(settings):
    processor = _processor(dict(settings, tracking=False))
    image, stamp = _frame(0)
    result = processor.process(image, stamp)
    assert processor.tracker is None and result.track_ids is None and len(result.people) == 3


class _RecordingLifter(object):
    """Stands in for depth.DepthLifter (tested on its own in test_depth): records what it gets."""

    def __init__(self, frame_id):
        self.frame_id, self.calls = frame_id, []

    def lift(self, keypoints, stamp_ns, image_size):
        self.calls.append((keypoints.copy(), stamp_ns, image_size))
        return np.ones((len(keypoints), 3)), self.frame_id


@pytest.mark.parametrize("info_frame, expected", [("camera_depth", "camera_depth"), ("", "camera_color")])
def test_3d_is_lifted_from_the_published_people(settings, info_frame, expected):
    processor = _processor(settings)
    processor.settings["max_people"] = 2  # the selection only (the decoder keeps finding 3)
    lifter = _RecordingLifter(info_frame)
    image, stamp = _frame(0)
    result = processor.process(image, stamp, lifter, "camera_color")
    keypoints, lifted_stamp, size = lifter.calls[0]
    np.testing.assert_array_equal(keypoints, result.people.keypoints)  # after selection: 2 people, not 3
    assert len(keypoints) == 2 and lifted_stamp == stamp and size == result.image_size
    assert result.positions.shape == (2, 3) and result.frame_id == expected
