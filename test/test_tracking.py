"""Person tracks (litepose_ros/tracking/) on synthetic scenes with known identities, scored
with motmetrics; the life cycle in header-stamp time; smoothing; ids into the message fields
and the debug image."""
import numpy as np
import pytest

from litepose_ros.common.keypoints import COCO
from litepose_ros.common.people import People
from litepose_ros.image.draw import draw_people, person_color
from litepose_ros.messages.pose_array import MessageTypes, PoseArrayBuilder
from litepose_ros.pipeline import frame_processor
from litepose_ros.settings import factories, parameters
from litepose_ros.tracking import TRACK_ID_NONE, PersonTracker, TrackerConfig
from litepose_testing.tracking_scenes import (
    Scene,
    Walker,
    dropped,
    frames,
    run_tracker,
    scenes,
    steady_times,
    varying_times,
)

pytest.importorskip("motmetrics")
SCENES = {scene.name: scene for scene in scenes()}


def _one_id_each(result, walkers):
    """Every walker was published under exactly one id, and no two walkers share one."""
    assert sorted(result.ids_by_walker) == list(range(walkers)), result.ids_by_walker
    ids = [result.ids_by_walker[w] for w in range(walkers)]
    assert all(len(i) == 1 for i in ids), ids
    assert len({i[0] for i in ids}) == walkers, ids


@pytest.mark.parametrize("name", ["crossing", "crossing, 5 Hz"])
def test_people_crossing_keep_their_ids(name):
    result = run_tracker(frames(SCENES[name]))
    assert result.metrics["num_switches"] == 0
    _one_id_each(result, 2)
    assert result.metrics["mota"] > 0.85


def test_crossing_is_decided_by_the_keypoints_where_boxes_coincide():
    """Two people in one place with the same box, different arms: only the keypoints tell them
    apart (box-only matching swaps them at random)."""
    walkers = [Walker((320, 240), (0, 0), 220, "standing"), Walker((320, 240), (0, 0), 220, "hands_on_hips")]
    both = Scene("together", walkers, steady_times(2.0, 15.0), seed=9)
    result = run_tracker(frames(both))
    _one_id_each(result, 2)
    assert result.metrics["num_switches"] == 0


def test_side_by_side_people_keep_their_ids():
    result = run_tracker(frames(SCENES["side by side"]))
    assert result.metrics["num_switches"] == 0
    _one_id_each(result, 2)


def test_person_hidden_for_one_second_gets_the_old_id_back():
    scene = SCENES["occluded 1 s"]
    assert scene.walkers[0].hidden == ((1.5, 2.5),)
    result = run_tracker(frames(scene))
    _one_id_each(result, 2)
    assert result.metrics["num_switches"] == 0


def test_person_hidden_longer_than_the_coasting_time_comes_back_with_a_new_id():
    walker = Walker((60, 240), (100, 0), 200, "standing", hidden=((1.0, 2.0),))
    config = TrackerConfig(coast_s=0.8)
    result = run_tracker(frames(Scene("gone", [walker], steady_times(3.0, 15.0))),
                         PersonTracker(COCO.sigmas, config))
    before, after = result.ids_by_walker[0]
    assert after > before  # ended, and ids are never reused


def test_missed_and_spurious_detections_idf1():
    scene = SCENES["10% missed, 5% spurious"]
    assert scene.miss_rate == 0.1 and scene.spurious_rate == 0.05
    scene_frames = frames(scene)
    spurious = sum(int((f.truth < 0).sum()) for f in scene_frames)
    assert spurious >= 10  # the scene really has them
    result = run_tracker(scene_frames)
    assert result.metrics["idf1"] >= 0.95, result.metrics
    assert result.metrics["num_switches"] == 0
    _one_id_each(result, 4)
    # single-frame noise never gets an id: confirmation needs 3 hits within 0.5 s
    assert result.metrics["num_false_positives"] <= 2


def test_random_frame_drops_keep_ids():
    scene = SCENES["30% frames dropped"]
    assert len(scene.times_s) < 0.8 * 6.0 * 30
    result = run_tracker(frames(scene))
    assert result.metrics["num_switches"] == 0 and result.metrics["idf1"] >= 0.95
    _one_id_each(result, 4)


def test_frame_rate_changing_between_5_and_30_hz():
    scene = SCENES["rate 5-30 Hz"]
    periods = np.diff(scene.times_s)
    assert periods.min() < 1 / 25 and periods.max() > 1 / 7
    result = run_tracker(frames(scene))
    assert result.metrics["num_switches"] == 0 and result.metrics["idf1"] >= 0.95
    _one_id_each(result, 6)


def test_backwards_stamps_reset_the_tracker_without_carrying_ids_over():
    scene_frames = frames(Scene("loop", SCENES["crossing"].walkers, steady_times(1.0, 30.0)))
    tracker = PersonTracker(COCO.sigmas)
    first = [tracker.update(f.people, f.stamp_ns) for f in scene_frames]
    old_ids = set(np.concatenate([r.track_ids for r in first]).tolist()) - {TRACK_ID_NONE}
    assert len(old_ids) == 2 and all(r.reset_reason is None for r in first)
    again = [tracker.update(f.people, f.stamp_ns) for f in scene_frames]  # the bag looped
    assert "went back 0.967 s" in again[0].reset_reason
    assert all(r.reset_reason is None for r in again[1:]) and tracker.resets == 1
    assert (again[0].track_ids == TRACK_ID_NONE).all()  # a fresh start, not a stale match
    new_ids = set(np.concatenate([r.track_ids for r in again]).tolist()) - {TRACK_ID_NONE}
    assert len(new_ids) == 2 and min(new_ids) > max(old_ids)


def test_reset_request_forgets_tracks_before_the_next_frame():
    person = _still_person()
    tracker = PersonTracker(COCO.sigmas, TrackerConfig(confirm_hits=1))
    assert tracker.update(person, 0).track_ids.tolist() == [0]
    tracker.request_reset("test")
    result = tracker.update(person, 10 ** 8)
    assert result.reset_reason == "test" and result.track_ids.tolist() == [1]


def _still_person(x: float = 300.0, jitter: float = 0.0, seed: int = 0) -> People:
    from litepose_testing.tracking_scenes import TEMPLATES

    keypoints = np.ones((1, COCO.num_joints, 3), np.float32)
    rng = np.random.RandomState(seed)
    keypoints[0, :, :2] = TEMPLATES["standing"] * 200 + (x, 240) + rng.normal(0, jitter, (COCO.num_joints, 2))
    return People(keypoints, np.ones(1, np.float32))


@pytest.mark.parametrize("period_s, confirmed_at", [(0.1, 2), (0.3, None)])
def test_confirmation_counts_hits_within_the_time_window(period_s, confirmed_at):
    tracker = PersonTracker(COCO.sigmas, TrackerConfig(confirm_hits=3, confirm_window_s=0.5))
    ids = [int(tracker.update(_still_person(), int(i * period_s * 1e9)).track_ids[0]) for i in range(6)]
    if confirmed_at is None:  # 3 hits 0.3 s apart span 0.6 s: never within 0.5 s
        assert ids == [TRACK_ID_NONE] * 6
    else:
        assert ids[:confirmed_at] == [TRACK_ID_NONE] * confirmed_at and set(ids[confirmed_at:]) == {0}


def test_unconfirmed_people_can_be_left_out():
    tracker = PersonTracker(COCO.sigmas, TrackerConfig(publish_unconfirmed=False))
    results = [tracker.update(_still_person(), i * 10 ** 8) for i in range(3)]
    assert [len(r.people) for r in results] == [0, 0, 1] and results[2].track_ids.tolist() == [0]


def test_one_euro_smoothing_reduces_jitter_and_is_off_by_default():
    people = [_still_person(jitter=3.0, seed=i) for i in range(60)]
    raw = np.stack([p.keypoints[0, :, :2] for p in people])
    plain, smooth = PersonTracker(COCO.sigmas), PersonTracker(COCO.sigmas, TrackerConfig(smoothing=True))
    out_plain = np.stack([plain.update(p, i * 33 * 10 ** 6).people.keypoints[0, :, :2] for i, p in enumerate(people)])
    out_smooth = np.stack([smooth.update(p, i * 33 * 10 ** 6).people.keypoints[0, :, :2]
                           for i, p in enumerate(people)])
    np.testing.assert_array_equal(out_plain, raw)
    assert np.diff(out_smooth[10:], axis=0).std() < 0.5 * np.diff(raw[10:], axis=0).std()


def test_bad_input_and_configuration_are_clear_errors():
    with pytest.raises(ValueError, match="14 keypoints, the tracker's dataset 17"):
        PersonTracker(COCO.sigmas).update(People.empty(14), 0)
    with pytest.raises(ValueError, match="track_min_similarity"):
        PersonTracker(COCO.sigmas, TrackerConfig(min_similarity=1.5))
    settings = dict(parameters.defaults(), track_confirm_hits=0)
    with pytest.raises(ValueError, match="track_confirm_hits"):
        factories.tracker_from_settings(settings, COCO.sigmas)
    assert factories.tracker_from_settings(dict(settings, tracking=False), COCO.sigmas) is None


def test_node_settings_path_matches_the_tracker_and_passes_through_without_tracking():
    person = _still_person()
    settings = dict(parameters.defaults(), track_confirm_hits=1)
    tracker = factories.tracker_from_settings(settings, COCO.sigmas)
    people, ids, reason = frame_processor.track_people(tracker, person, 5)
    assert ids.tolist() == [0] and reason is None
    assert frame_processor.track_people(None, person, 5) == (person, None, None)


def test_track_ids_reach_the_message_fields():
    people = People(np.concatenate([_still_person().keypoints, _still_person(100).keypoints]), np.ones(2, np.float32))
    meta = type("Meta", (), dict(dataset="coco", keypoint_names=COCO.keypoint_names, skeleton=COCO.skeleton,
                                 arch="XS", weights="w", input_width=256, input_height=256))()
    builder = PoseArrayBuilder(MessageTypes(dict, dict, dict, dict, dict), meta, "m.onnx", "onnxruntime")  # dicts
    message = builder.build(people, None, 640, 480, 1.0, track_ids=[7, -1])
    assert [p["track_id"] for p in message["people"]] == [7, -1]
    message = builder.build(people, None, 640, 480, 1.0)
    assert [p["track_id"] for p in message["people"]] == [TRACK_ID_NONE] * 2


def test_debug_image_colours_follow_track_ids_and_boxes_are_drawn():
    people = People(np.concatenate([_still_person(200).keypoints, _still_person(450).keypoints]),
                    np.ones(2, np.float32))
    image = np.zeros((480, 640, 3), np.uint8)
    drawn = draw_people(image, people, COCO.skeleton, track_ids=[5, TRACK_ID_NONE])
    left, right = drawn[:, :320].reshape(-1, 3), drawn[:, 330:].reshape(-1, 3)
    assert (left == person_color(5)).all(axis=1).sum() > 2000  # limbs, joints, box and label of id 5
    assert not (right == person_color(5)).all(axis=1).any()
    assert (right == (170, 170, 170)).all(axis=1).sum() > 2000  # untracked: grey
    box = people.boxes()[0]
    column = drawn[int(box[1]) + 20:int(box[3]) - 20, int(box[0]) - 10:int(box[0]) - 3]
    assert (column == person_color(5)).all(axis=2).any(axis=1).all()  # the box's left edge, beside the body


def test_scene_helpers_vary_the_timing():
    times = varying_times(4.0, 5.0, 30.0, seed=1)
    assert np.all(np.diff(times) > 0) and len(dropped(times, 0.5, seed=1)) < 0.7 * len(times)


def test_same_layout_crossing_is_decided_by_the_motion():
    """Identical people walking through each other: only the predicted motion separates them."""
    walkers = [Walker((100, 240), (150, 0), 220, "standing"), Walker((540, 240), (-150, 0), 220, "standing")]
    result = run_tracker(frames(Scene("twins", walkers, steady_times(3.0, 30.0), seed=11)))
    _one_id_each(result, 2)
    assert result.metrics["num_switches"] == 0


# -- life cycle in time: hidden people, absence, stamps out of order or stalled (issues 18, 22) --

def _walker_frames(rate_hz: float, hidden, duration_s: float, seed: int = 0):
    walker = Walker((60, 240), (60, 0), 200, "standing", hidden=hidden)
    return frames(Scene("hidden", [walker], steady_times(duration_s, rate_hz), seed=seed))


@pytest.mark.parametrize("rate_hz", [5.0, 15.0, 30.0])
def test_one_second_fully_hidden_keeps_the_id(rate_hz):
    scene_frames = _walker_frames(rate_hz, ((1.0, 2.0),), 3.5)
    assert any(f.stamp_ns - scene_frames[0].stamp_ns > 2.0e9 for f in scene_frames if len(f.people))
    result = run_tracker(scene_frames)  # the node's defaults
    assert list(result.ids_by_walker) == [0] and len(result.ids_by_walker[0]) == 1, result.ids_by_walker


def test_ten_seconds_away_gives_a_new_id():
    result = run_tracker(_walker_frames(15.0, ((1.0, 11.0),), 12.5))
    first, second = result.ids_by_walker[0]
    assert second > first


def _frames_with_stamps(stamps_s, people_count: int = 3):
    walkers = [Walker((100 + 180 * i, 240), (30, 0), 200, "standing") for i in range(people_count)]
    scene_frames = frames(Scene("stamps", walkers, steady_times(len(stamps_s) / 30.0, 30.0), jitter=0.01))
    return [f._replace(stamp_ns=int(round(s * 1e9))) for f, s in zip(scene_frames, stamps_s)]


def _ids_per_walker(tracker, scene_frames):
    ids = {}
    for frame in scene_frames:
        result = tracker.update(frame.people, frame.stamp_ns)
        assert result.reset_reason is None
        for walker, track_id in zip(frame.truth, result.track_ids):
            if track_id != TRACK_ID_NONE:
                ids.setdefault(int(walker), set()).add(int(track_id))
    return ids


def test_a_frame_a_few_ms_out_of_order_changes_no_id():
    stamps = np.arange(60) / 30.0
    stamps[30], stamps[31] = stamps[31], stamps[30] - 0.005  # 31 arrives first, 30 late (and 5 ms early)
    tracker = PersonTracker(COCO.sigmas)
    ids = _ids_per_walker(tracker, _frames_with_stamps(stamps))
    assert tracker.resets == 0 and sorted(len(v) for v in ids.values()) == [1, 1, 1], ids


def test_stamps_one_ms_back_on_alternate_frames_reset_nothing():
    stamps = np.arange(100) / 30.0
    stamps[1::2] = stamps[0::2] - 0.001  # every second frame 1 ms before the one it follows
    tracker = PersonTracker(COCO.sigmas)
    ids = _ids_per_walker(tracker, _frames_with_stamps(stamps))
    assert tracker.resets == 0 and sorted(len(v) for v in ids.values()) == [1, 1, 1], ids
    assert tracker.active_tracks() == 3


def test_a_real_jump_back_resets_once():
    stamps = np.concatenate([np.arange(30), np.arange(30)]) / 30.0  # the bag looped after 1 s
    tracker = PersonTracker(COCO.sigmas)
    reasons = [tracker.update(f.people, f.stamp_ns).reset_reason for f in _frames_with_stamps(stamps)]
    assert [i for i, r in enumerate(reasons) if r] == [30] and tracker.resets == 1


def test_stalled_stamps_keep_the_tracks_bounded():
    """A driver stamping 0: people who stay keep their ids, noise does not pile up tracks."""
    rng = np.random.RandomState(3)
    still = _frames_with_stamps(np.zeros(400), people_count=3)
    # coast 1.5 s: the bound below counts the noise of the confirmation window only; the few noise
    # skeletons at the image edge confirmed at once live coast_s longer (fewer with a shorter coast)
    tracker = PersonTracker(COCO.sigmas, TrackerConfig(max_tracks=50, coast_s=1.5))
    sizes = []
    for frame in still:
        noise = _still_person(x=rng.uniform(0, 640)).keypoints * np.array([1.0, 1.0, 1.0], np.float32)
        noise[0, :, 1] += rng.uniform(-200, 200)
        people = People(np.concatenate([frame.people.keypoints, noise]),
                        np.concatenate([frame.people.scores, np.ones(1, np.float32)]))
        tracker.update(people, 0)
        sizes.append(len(tracker.tracks))
    # 3 people + the noise of the last 0.5 s (new tracks' confirmation window) at the assumed 30 Hz
    assert max(sizes) <= 3 + 17, sizes[::40]
    assert tracker.active_tracks() >= 3 and tracker.resets == 0


def test_track_bound_is_hard():
    rng = np.random.RandomState(4)
    tracker = PersonTracker(COCO.sigmas, TrackerConfig(max_tracks=5))
    for i in range(50):
        people = [_still_person(x=rng.uniform(0, 640), seed=i * 10 + k).keypoints for k in range(4)]
        tracker.update(People(np.concatenate(people), np.ones(4, np.float32)), i * 10 ** 7)
        assert len(tracker.tracks) <= 5


def test_ids_are_never_reused_across_ends_and_resets():
    tracker = PersonTracker(COCO.sigmas, TrackerConfig(confirm_hits=1, coast_s=0.2))
    seen = []
    for i in range(40):
        if i % 10 == 5:
            tracker.request_reset("test")
        x = 100.0 + 400.0 * (i // 4 % 2)  # the person jumps every 4 frames: a new track each time
        ids = tracker.update(_still_person(x=x), i * 10 ** 8).track_ids.tolist()
        if not seen or ids[0] != seen[-1]:
            seen.append(ids[0])
    assert len(seen) == len(set(seen)) > 5 and seen == sorted(seen)



def test_detector_like_scenes_keep_identities():
    """Two scenes of bench/detector_scenes.py (3D walkers, detector noise, partial skeletons):
    the defaults keep most identities where the lower body comes and goes in half the frames
    (a similarity on all joints, or on a box of the visible ones, loses the person)."""
    from bench import bench_tracking_peers as peers

    detector_scenes = peers.ds
    wanted = {"walking, 15 Hz": 0.85, "lower body missing in 50 % of frames": 0.75}
    for scene in detector_scenes.scenes(0):
        if scene.name in wanted:
            scene_frames = detector_scenes.frames(scene)
            ids, _ = peers.run_ours(scene_frames, 15.0)
            score = peers.score(scene_frames, ids)
            assert score.idf1 >= wanted.pop(scene.name), (scene.name, score)
    assert not wanted


def test_a_confident_person_walking_in_at_the_edge_gets_an_id_at_once():
    image = (640, 480)

    def first_ids(person: People) -> list:
        tracker = PersonTracker(COCO.sigmas, TrackerConfig(confirm_hits=3))
        return tracker.update(person, 0, image).track_ids.tolist()

    at_edge = _still_person(x=30.0)
    assert first_ids(at_edge) == [0]
    assert first_ids(_still_person(x=320.0)) == [TRACK_ID_NONE]  # not walking in: 3 hits
    faint = People(at_edge.keypoints.copy(), at_edge.scores)
    faint.keypoints[0, :, 2] = 0.3  # a false skeleton's low joint scores
    assert first_ids(faint) == [TRACK_ID_NONE]
    fragment = People(at_edge.keypoints.copy(), at_edge.scores)
    fragment.keypoints[0, 5:, 2] = 0.0  # five joints: too few to be sure
    assert first_ids(fragment) == [TRACK_ID_NONE]


def test_two_people_that_could_as_well_be_swapped_get_no_id_for_that_frame():
    tracker = PersonTracker(COCO.sigmas, TrackerConfig())

    def pair(left: float, right: float) -> People:
        a, b = _still_person(x=left), _still_person(x=right)
        return People(np.concatenate([a.keypoints, b.keypoints]), np.ones(2, np.float32))

    for i in range(5):
        ids = tracker.update(pair(280.0, 360.0), i * 10 ** 8).track_ids.tolist()
    assert ids == [0, 1]
    # both exactly between their tracks: either assignment fits as well, so neither is claimed
    assert tracker.update(pair(320.0, 320.0), 5 * 10 ** 8).track_ids.tolist() == [TRACK_ID_NONE] * 2
    assert tracker.update(pair(280.0, 360.0), 6 * 10 ** 8).track_ids.tolist() == [0, 1]


def _person(x: float, template: str = "standing", height: float = 200.0, joints=None, score: float = 1.0
            ) -> np.ndarray:
    """[1, J, 3] keypoints of one person standing at ``x``; only ``joints`` found (all if None)."""
    from litepose_testing.tracking_scenes import TEMPLATES

    keypoints = np.zeros((1, COCO.num_joints, 3), np.float32)
    keypoints[0, :, :2] = TEMPLATES[template] * height + (x, 240)
    found = np.zeros(COCO.num_joints, bool)
    found[slice(None) if joints is None else joints] = True
    keypoints[0, found, 2] = score
    return keypoints


def _ids(tracker: PersonTracker, keypoints: np.ndarray, frame: int) -> list:
    people = People(keypoints, np.ones(len(keypoints), np.float32))
    return tracker.update(people, frame * 10 ** 8, (640, 480)).track_ids.tolist()


UPPER_BODY_AND_HIPS = [0, 5, 6, 7, 8, 9, 10, 11, 12]


def test_an_odd_detection_keeps_the_id_though_a_faint_new_track_resembles_it():
    """A person seen a frame ago comes back looking odd (arms out, legs hidden, 20 px off the
    prediction): under track_min_similarity, but their track and the detection are each other's
    only plausible partner, so the rescue keeps the id. A faint fragment seen 0.4 s earlier
    beside them left a new track whose wide prediction resembles the detection too: that is no
    reason to give the person up (before, it blocked the rescue: id -1, then a new id)."""
    tracker = PersonTracker(COCO.sigmas, TrackerConfig())
    for frame in range(10):
        keypoints = _person(200.0)
        if frame == 6:
            fragment = _person(230.0, height=120.0, joints=list(range(11)), score=0.3)
            keypoints = np.concatenate([keypoints, fragment])
        ids = _ids(tracker, keypoints, frame)
    assert ids[0] == 0
    odd = _person(220.0, "arms_out", joints=UPPER_BODY_AND_HIPS)
    assert tracker.similarity(np.array([0]), odd)[0][0, 0] < tracker.config.min_similarity  # a rescue, not a match
    assert _ids(tracker, odd, 10) == [0]


def test_a_person_raising_their_arms_with_legs_hidden_beside_someone_keeps_the_id():
    """Arms up, legs hidden, 15 px off the prediction: the similarity to their own track is
    about what their track has with the neighbour's detection, so the similarity cannot single
    them out; the box around the joints both have still overlaps the prediction, and only theirs."""
    tracker = PersonTracker(COCO.sigmas, TrackerConfig())
    for frame in range(10):
        ids = _ids(tracker, np.concatenate([_person(200.0), _person(260.0)]), frame)
    assert ids == [0, 1]
    raised = _person(215.0, "arms_up", joints=UPPER_BODY_AND_HIPS)
    assert _ids(tracker, np.concatenate([raised, _person(260.0)]), 10) == [0, 1]
