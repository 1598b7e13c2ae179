"""The tracker's small parts on their own (litepose_ros/tracking/): the motion filter, the track
state, the similarity. No scoring library: these also run on Python 3.6 (scripts/py36_check.sh).
"""
import numpy as np

from litepose_ros.common.keypoints import COCO
from litepose_ros.common.people import People
from litepose_ros.tracking import TRACK_ID_NONE, PersonTracker, TrackerConfig, motion, similarity
from litepose_ros.tracking.state import CONFIRMED, TENTATIVE, TrackTable


def _person(x: float, y: float = 240.0, height: float = 200.0, joints: int = 17) -> np.ndarray:
    """[17, 3] a standing figure (shoulders, hips, knees ... spread over ``height`` px)."""
    rows = np.linspace(-0.5, 0.5, 17) * height
    sides = np.where(np.arange(17) % 2 == 0, -0.15, 0.15) * height
    pose = np.zeros((17, 3), np.float32)
    pose[:, 0], pose[:, 1], pose[:, 2] = x + sides, y + rows, 0.9
    pose[joints:, 2] = 0.0
    return pose


def _arrays(count: int, size: float):
    centre, velocity = np.zeros((count, 2)), np.zeros((count, 2))
    p00, p01, p11 = motion.initial_covariance(np.full(count, size))
    return centre, velocity, p00, p01, p11


def test_the_motion_filter_learns_a_constant_velocity_and_its_uncertainty_follows():
    size = np.array([200.0])
    centre, velocity, p00, p01, p11 = _arrays(1, 200.0)
    rng = np.random.RandomState(0)
    dt, speed = 1.0 / 15.0, np.array([90.0, -30.0])  # px / s
    for frame in range(1, 46):
        before = p00.copy()
        motion.predict(centre, velocity, p00, p01, p11, size, dt)
        assert p00[0] > before[0]  # unseen for dt: less sure where it is
        grown = p00.copy()
        measured = speed * frame * dt + rng.normal(0.0, 3.0, 2)
        motion.correct(centre, velocity, p00, p01, p11, np.array([0]), measured[None], size, np.array([12]))
        assert p00[0] < grown[0]  # a measurement makes it surer
    np.testing.assert_allclose(velocity[0], speed, atol=12.0)
    np.testing.assert_allclose(centre[0], speed * 45 * dt, atol=6.0)


def test_a_centre_from_few_joints_moves_the_filter_less():
    size = np.array([200.0])
    moved = []
    for joints in (1, 12):
        centre, velocity, p00, p01, p11 = _arrays(1, 200.0)
        motion.predict(centre, velocity, p00, p01, p11, size, 1.0 / 15.0)
        motion.correct(centre, velocity, p00, p01, p11, np.array([0]), np.array([[20.0, 0.0]]), size,
                       np.array([joints]))
        moved.append(centre[0, 0])
    assert 0.0 < moved[0] < moved[1] < 20.0


def test_track_state_is_explicit_tentative_then_confirmed_then_coasting():
    tracker = PersonTracker(COCO.sigmas, TrackerConfig(confirm_hits=2))
    one = People(_person(300.0)[None], np.ones(1, np.float32))
    first = tracker.update(one, 0)
    assert first.track_ids.tolist() == [TRACK_ID_NONE]
    assert tracker.tracks.status.tolist() == [TENTATIVE] and not tracker.tracks.confirmed.any()
    second = tracker.update(one, 33_000_000)
    assert second.track_ids.tolist() == [0]
    assert tracker.tracks.status.tolist() == [CONFIRMED] and tracker.tracks.track_id.tolist() == [0]
    assert not tracker.tracks.coasting.any()
    tracker.update(People(np.zeros((0, 17, 3), np.float32), np.zeros(0, np.float32)), 66_000_000)
    assert tracker.tracks.coasting.tolist() == [True] and tracker.active_tracks() == 1


def test_a_table_keeps_rows_in_step_when_tracks_end():
    table = TrackTable(17)
    rows = table.add(np.stack([_person(100.0), _person(300.0), _person(500.0)]), None)
    assert rows.tolist() == [0, 1, 2]
    table.confirm(1, 7)
    table.keep(np.array([False, True, True]))
    assert table.track_id.tolist() == [7, TRACK_ID_NONE]
    assert table.status.tolist() == [CONFIRMED, TENTATIVE]
    assert len(table.hits) == len(table.smoothers) == 2
    assert abs(table.centre[1, 0] - table.centre[0, 0] - 200.0) < 1e-6  # the rows of the 2nd and 3rd


def test_similarity_prefers_the_person_where_the_track_predicts_them():
    table = TrackTable(17)
    table.add(_person(300.0)[None], None)
    tolerance2 = similarity.joint_tolerance2(COCO.sigmas)
    detections = np.stack([_person(300.0), _person(330.0), _person(500.0)])
    score, _, common, _ = similarity.similarity(table, np.array([0]), detections, tolerance2)
    assert score[0, 0] > score[0, 1] > score[0, 2] >= 0.0
    assert score[0, 2] < 0.01  # a person away is not this track
    assert common[0].tolist() == [17, 17, 17]


def test_similarity_is_fair_to_a_detection_without_the_lower_body_but_fragments_lose():
    table = TrackTable(17)
    table.add(_person(300.0)[None], None)
    tolerance2 = similarity.joint_tolerance2(COCO.sigmas)
    upper = _person(300.0, joints=11)  # hips and legs not detected
    fragment = _person(300.0, joints=4)
    score, _, common, _ = similarity.similarity(table, np.array([0]), np.stack([upper, fragment]), tolerance2)
    assert common[0].tolist() == [11, 4]
    assert score[0, 0] > 0.5  # still plainly the same person
    assert score[0, 1] < score[0, 0]


def test_same_motion_and_similar_size():
    table = TrackTable(17)
    table.add(np.stack([_person(100.0), _person(300.0), _person(500.0)]), None)
    table.velocity[:] = [[300.0, 0.0], [300.0, 0.0], [-300.0, 0.0]]  # px / s; the size is 200 px
    table.p11[:] = 1.0
    agree = similarity.same_motion(table, np.array([0]), np.array([1, 2]))
    assert agree[0, 0] > 0.99 and agree[0, 1] < 0.01
    sizes = similarity.similar_size(np.array([100.0, 100.0, 100.0]), np.array([100.0, 150.0, 250.0]))
    np.testing.assert_allclose(sizes, [1.0, 0.5, 0.0])


def _frame(*xs: float) -> People:
    return People(np.stack([_person(x) for x in xs]).reshape(-1, 17, 3), np.ones(len(xs), np.float32))


def test_a_detection_that_a_missed_neighbours_track_fits_as_well_publishes_no_id():
    """Two people overlapping, one of them missed: the one detection could be either person, so
    it goes out without an id for that frame; each id is back on its person when they part."""
    tracker = PersonTracker(COCO.sigmas)
    stamp = iter(range(0, 10 ** 12, 33_000_000))
    for x in np.linspace(500.0, 310.0, 12):  # B walks up to A
        ids = tracker.update(_frame(300.0, x), next(stamp)).track_ids.tolist()
    assert tracker.active_tracks() == 2
    assert tracker.update(_frame(300.0), next(stamp)).track_ids.tolist() == [TRACK_ID_NONE]
    for x in np.linspace(290.0, 100.0, 12):  # and on, past A
        ids = tracker.update(_frame(300.0, x), next(stamp)).track_ids.tolist()
    assert ids == [0, 1]


def test_a_missed_person_away_from_the_detection_leaves_its_id_alone():
    tracker = PersonTracker(COCO.sigmas)
    for frame in range(10):
        ids = tracker.update(_frame(300.0, 600.0), frame * 33_000_000).track_ids.tolist()
    assert ids == [0, 1]
    assert tracker.update(_frame(300.0), 10 * 33_000_000).track_ids.tolist() == [0]


def _jittered_walk(jitter_px: float, frames: int = 150, seed: int = 0):
    """One small person (100 px) walking right at 60 px/s, 30 Hz, every joint jittered."""
    rng = np.random.RandomState(seed)
    for frame in range(frames):
        pose = _person(200.0 + 2.0 * frame, height=100.0)
        pose[:, :2] += rng.normal(0.0, jitter_px, (17, 2))
        yield People(pose[None], np.ones(1, np.float32)), frame * 33_333_333


def test_a_track_learns_how_loosely_a_noisy_detector_fits_and_keeps_the_id():
    tracker = PersonTracker(COCO.sigmas)
    published = [tracker.update(people, stamp).track_ids[0] for people, stamp in _jittered_walk(16.0)]
    ids = set(published) - {TRACK_ID_NONE}
    assert ids == {0}  # one person, one id, however noisy
    assert published.count(TRACK_ID_NONE) <= 5
    assert tracker.tracks.looseness[0] > 2.0


def test_a_clean_detector_leaves_the_tolerances_as_they_are():
    tracker = PersonTracker(COCO.sigmas)
    for people, stamp in _jittered_walk(1.0):
        tracker.update(people, stamp)
    assert tracker.tracks.looseness[0] < 1.0  # tolerances are used as they are (never tightened)


def test_a_swap_with_a_half_hidden_person_is_withheld_not_published():
    """B walks up behind A and stops there, half hidden (8 joints): the matches could as well be
    swapped even though B's fragment is a weak match for either track; no swapped id goes out."""
    tracker = PersonTracker(COCO.sigmas)
    stamp = iter(range(0, 10 ** 12, 33_000_000))

    def frame(b_x: float, b_joints: int) -> People:
        b = _person(b_x, joints=b_joints)
        return People(np.stack([_person(300.0), b]), np.ones(2, np.float32))

    for x in np.linspace(500.0, 312.0, 15):
        tracker.update(frame(x, 17), next(stamp))
    assert tracker.active_tracks() == 2
    published = [tracker.update(frame(312.0, 8), next(stamp)).track_ids.tolist() for _ in range(4)]
    assert [1, 0] not in published, published
    assert all(ids in ([0, 1], [TRACK_ID_NONE, TRACK_ID_NONE]) for ids in published), published
