"""The compiled decoder against the straightforward port of the official algorithm (its oracle),
the port's dense steps against torch, and both against the ground truth of real annotations."""
import json
import os
import zlib
from pathlib import Path
from typing import Tuple

import numpy as np
import pytest

from litepose_ros.common.keypoints import COCO, CROWDPOSE, KeypointSet
from litepose_ros.common.people import People
from litepose_ros.decoding import DecoderConfig
from litepose_ros.decoding.compiled import decode
from litepose_ros.decoding.dense import upsample2x
from litepose_ros.decoding.matching import matching_cost
from litepose_ros.decoding.reference import (
    decode_reference,
    dense_maps,
    max_pool_nms,
    top_k,
)
from litepose_ros.evaluation.coco import evaluate
from litepose_testing.synthetic import mirror_people, synthesize_outputs

KEYPOINT_SETS = {"coco": COCO, "crowdpose": CROWDPOSE}


def stable_seed(*parts) -> int:
    """The same seed in every process (``hash`` of a str varies with PYTHONHASHSEED)."""
    return zlib.crc32(repr(parts).encode("utf-8")) % 2 ** 31


def assert_same_people(ours: People, ref: People) -> None:
    assert ours.keypoints.shape == ref.keypoints.shape, (ours.keypoints.shape, ref.keypoints.shape)
    assert ours.keypoints.dtype == np.float32 and ours.scores.dtype == np.float32
    np.testing.assert_allclose(ours.keypoints[:, :, :2], ref.keypoints[:, :, :2], atol=1e-3, rtol=0)
    np.testing.assert_allclose(ours.keypoints[:, :, 2], ref.keypoints[:, :, 2], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours.scores, ref.scores, rtol=1e-6, atol=1e-7)


def random_outputs(rng: np.random.RandomState, joints: int, h: int, w: int, tag_scale: float):
    """Unstructured maps: many peaks per joint, tags all over the place (stress for grouping)."""
    stage1 = np.concatenate(
        [rng.uniform(0, 0.4, (1, joints, h, w)), rng.normal(0, tag_scale, (1, joints, h, w))], axis=1
    ).astype(np.float32)
    stage2 = rng.uniform(0, 0.4, (1, joints, 2 * h, 2 * w)).astype(np.float32)
    return stage1, stage2


def random_people(rng: np.random.RandomState, count: int, joints: int, size: Tuple[int, int]) -> np.ndarray:
    """People as clusters of joints, some invisible so that refine has work to do."""
    w, h = size
    centres = rng.uniform([0.1 * w, 0.1 * h], [0.9 * w, 0.9 * h], (count, 1, 2))
    xy = centres + rng.normal(0, 0.08 * min(w, h), (count, joints, 2))
    xy = np.clip(xy, 0, [w - 0.01, h - 0.01])
    visible = (rng.uniform(size=(count, joints, 1)) > 0.2).astype(np.float64)
    return np.concatenate([xy, visible], axis=2)


def synthetic_case(rng, kps: KeypointSet, count: int, size: Tuple[int, int], flip: bool):
    people = random_people(rng, count, kps.num_joints, size)
    tags = rng.uniform(-3, 3, count) + 1.7 * np.arange(count)  # distinct but not far apart
    outputs = synthesize_outputs(people, size, tags, rng, heat_noise=0.05, tag_noise=0.1)
    flipped = None
    if flip:
        flipped = synthesize_outputs(mirror_people(people, size[0], kps.flip_index), size, tags, rng, 0.05, 0.1)
    return outputs, flipped


# ----------------------------------------------------------------------------- (a) compiled == reference
RANDOM_CASES = 12  # per (dataset, project, flip)


@pytest.mark.parametrize("dataset", ["coco", "crowdpose"])
@pytest.mark.parametrize("project", [False, True])
@pytest.mark.parametrize("flip", [False, True])
def test_compiled_matches_reference_random_maps(dataset: str, project: bool, flip: bool) -> None:
    kps = KEYPOINT_SETS[dataset]
    config = DecoderConfig.from_keypoint_set(kps, project_to_input=project)
    rng = np.random.RandomState(stable_seed(dataset, project, flip))
    for case in range(RANDOM_CASES):
        h, w = rng.randint(4, 14, size=2)
        tag_scale = [0.3, 2.0, 8.0][case % 3]
        outputs = random_outputs(rng, kps.num_joints, h, w, tag_scale)
        flipped = random_outputs(rng, kps.num_joints, h, w, tag_scale) if flip else None
        ref = decode_reference(outputs, config, flipped)
        assert len(ref) > 0
        assert_same_people(decode(outputs, config, flipped), ref)


@pytest.mark.parametrize("dataset", ["coco", "crowdpose"])
@pytest.mark.parametrize("project", [False, True])
@pytest.mark.parametrize("flip", [False, True])
def test_compiled_matches_reference_synthetic_people(dataset: str, project: bool, flip: bool) -> None:
    kps = KEYPOINT_SETS[dataset]
    config = DecoderConfig.from_keypoint_set(kps, project_to_input=project)
    rng = np.random.RandomState(7 + stable_seed(dataset, project, flip))
    for count in (1, 4, 12):
        outputs, flipped = synthetic_case(rng, kps, count, (128, 96), flip)
        ref = decode_reference(outputs, config, flipped)
        assert len(ref) >= 1
        assert_same_people(decode(outputs, config, flipped), ref)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(adjust=False), dict(refine=False), dict(use_detection_val=False),
        dict(ignore_too_much=True, max_num_people=3), dict(max_num_people=4),
        dict(detection_threshold=0.3, tag_threshold=0.5, nms_kernel=3),
    ],
)
def test_compiled_matches_reference_other_settings(overrides) -> None:
    config = DecoderConfig.from_keypoint_set(CROWDPOSE, **overrides)
    rng = np.random.RandomState(3)
    for _ in range(3):
        outputs = random_outputs(rng, 14, 10, 8, 2.0)
        assert_same_people(decode(outputs, config), decode_reference(outputs, config))
    outputs, _ = synthetic_case(rng, CROWDPOSE, 8, (96, 96), False)
    assert_same_people(decode(outputs, config), decode_reference(outputs, config))


@pytest.mark.parametrize("project", [False, True])
def test_compiled_matches_reference_crowdpose_s448(project: bool) -> None:
    """Full-size CrowdPose S@448 outputs: stage1 [1, 28, 112, 112], stage2 [1, 14, 224, 224]."""
    config = DecoderConfig.from_keypoint_set(CROWDPOSE, project_to_input=project)
    rng = np.random.RandomState(11)
    outputs, flipped = synthetic_case(rng, CROWDPOSE, 6, (448, 448), flip=project)
    assert outputs[0].shape == (1, 28, 112, 112) and outputs[1].shape == (1, 14, 224, 224)
    ref = decode_reference(outputs, config, flipped)
    assert len(ref) >= 6
    assert_same_people(decode(outputs, config, flipped), ref)


def test_frame_sequences_decode_like_single_frames() -> None:
    """The core keeps hints from one frame for the next (how many heatmap rows were above the
    threshold, which heatmaps the refine step computed whole, so the next frame computes them at
    once): they choose how, never what. Crowded and sparse frames, flip test on and off, another
    threshold and another size in between: every frame decodes as the reference does."""
    rng = np.random.RandomState(stable_seed("frame sequence"))
    # (people or None for unstructured maps with peaks near the threshold, size, flip, threshold)
    frames = [(12, (160, 128), False, 0.1), (12, (160, 128), True, 0.1), (None, (160, 128), False, 0.1),
              (0, (160, 128), False, 0.1), (3, (160, 128), False, 0.1), (12, (160, 128), False, 0.3),
              (None, (160, 128), False, 0.3), (12, (128, 96), False, 0.1), (12, (160, 128), False, 0.05),
              (1, (160, 128), True, 0.1), (12, (160, 128), False, 0.1)]
    for index, (count, size, flip, threshold) in enumerate(frames):
        config = DecoderConfig.from_keypoint_set(CROWDPOSE, detection_threshold=threshold)
        if count is None:
            outputs, flipped = random_outputs(rng, 14, size[1] // 4, size[0] // 4, 2.0), None
        else:
            outputs, flipped = synthetic_case(rng, CROWDPOSE, count, size, flip)
        ref = decode_reference(outputs, config, flipped)
        assert len(ref) >= (count or 1) // 2, index
        try:
            assert_same_people(decode(outputs, config, flipped), ref)
        except AssertionError as error:
            raise AssertionError("frame {}: {}".format(index, error)) from None


# Seeded random cases across sizes, 0-30 people, flip test, projection, both keypoint sets and
# other settings. LITEPOSE_QUICK=1 (the emulated aarch64 run) checks a fifth of them.
RANDOM_CASE_COUNT = 100 if os.environ.get("LITEPOSE_QUICK") else 500


def random_case(rng: np.random.RandomState):
    """(outputs, flipped or None, config): synthetic people or unstructured maps."""
    kps = KEYPOINT_SETS[("coco", "crowdpose")[rng.randint(2)]]
    flip, project = bool(rng.randint(2)), bool(rng.randint(2))
    overrides = {}
    if rng.uniform() < 0.25:
        overrides = dict(detection_threshold=float(rng.choice([0.0, 0.05, 0.3])),
                         tag_threshold=float(rng.choice([0.5, 1.0, 2.0])), nms_kernel=int(rng.choice([3, 5, 7])),
                         max_num_people=int(rng.randint(1, 31)), use_detection_val=bool(rng.randint(2)))
    config = DecoderConfig.from_keypoint_set(kps, project_to_input=project, **overrides)
    if rng.uniform() < 0.3:
        h, w = (int(n) for n in rng.randint(1, 16, size=2))
        tag_scale = float(rng.choice([0.3, 2.0, 8.0]))
        outputs = random_outputs(rng, kps.num_joints, h, w, tag_scale)
        return outputs, random_outputs(rng, kps.num_joints, h, w, tag_scale) if flip else None, config
    size = (4 * int(rng.randint(4, 48)), 4 * int(rng.randint(4, 48)))
    outputs, flipped = synthetic_case(rng, kps, int(rng.randint(0, 31)), size, flip)
    return outputs, flipped, config


def test_compiled_matches_reference_seeded_random_cases() -> None:
    failures = []
    for case in range(RANDOM_CASE_COUNT):
        rng = np.random.RandomState(stable_seed("random case", case))
        outputs, flipped, config = random_case(rng)
        try:
            assert_same_people(decode(outputs, config, flipped), decode_reference(outputs, config, flipped))
        except AssertionError as error:
            failures.append("case {} ({}): {}".format(case, config, str(error).splitlines()[0]))
    assert not failures, "\n".join(failures[:5])


def test_non_finite_tags_are_an_error() -> None:
    config = DecoderConfig.from_keypoint_set(COCO)
    people = random_people(np.random.RandomState(0), 2, 17, (96, 96))
    stage1, stage2 = synthesize_outputs(people, (96, 96), tags=[1.0, 3.0])
    stage1[:, 17:] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        decode((stage1, stage2), config)


def test_reference_with_the_official_solver() -> None:
    """``munkres`` (the official solver, timed by the benchmark) finds the same people."""
    pytest.importorskip("munkres", reason="tooling only (not part of the runtime environment)")
    config = DecoderConfig.from_keypoint_set(COCO)
    rng = np.random.RandomState(9)
    for count in (3, 9):
        outputs, _ = synthetic_case(rng, COCO, count, (128, 96), False)
        assert_same_people(decode_reference(outputs, config, solver="munkres"), decode_reference(outputs, config))
    with pytest.raises(ValueError, match="solver"):
        decode_reference(outputs, config, solver="hungarian")


# ----------------------------------------------------------------------------- matching tie-break
def _official_total(dist: np.ndarray, scores: np.ndarray, pairs) -> float:
    """The official padded square matrix's cost of the assignment (padding rows to 1e10 columns)."""
    cost = np.round(dist) * 100 - scores[:, None]
    rows = len(dist)
    total = sum(cost[r, c] for r, c in pairs)
    return total + (rows - len(pairs)) * 1e10


def test_matching_cost_picks_an_official_optimum_and_solvers_agree() -> None:
    """Brute force: the tie-broken optimum is optimal for the official cost; munkres == scipy on it."""
    pytest.importorskip("munkres", reason="tooling only (not part of the runtime environment)")
    import itertools

    from munkres import Munkres
    from scipy.optimize import linear_sum_assignment

    rng = np.random.RandomState(5)
    ties = 0
    for _ in range(300):
        rows, cols = (int(n) for n in rng.randint(1, 6, size=2))
        dist = rng.choice([0.2, 0.4, 0.7, 1.2, 1.4, 2.3], size=(rows, cols)) + rng.uniform(0, 0.05, (rows, cols))
        scores = rng.uniform(0.1, 1, rows)
        cost = matching_cost(dist, scores, True)
        r, c = linear_sum_assignment(cost)
        ours = list(zip(r.tolist(), c.tolist()))
        assert sorted(ours) == sorted(tuple(p) for p in Munkres().compute(cost.tolist()))
        # Every complete assignment of the official square problem, enumerated.
        totals = []
        for perm in itertools.permutations(range(max(rows, cols)), rows):
            pairs = [(i, j) for i, j in enumerate(perm) if j < cols] if rows > cols else list(enumerate(perm))
            if len(pairs) == min(rows, cols) and all(j < cols for _, j in pairs):
                totals.append(_official_total(dist, scores, pairs))
        best = min(totals)
        ties += sum(abs(t - best) < 1e-3 for t in totals) > 1
        assert abs(_official_total(dist, scores, ours) - best) < 1e-3
    assert ties > 50  # the cases were ambiguous for the official cost, so the tie-break mattered


# ----------------------------------------------------------------------------- (b) dense steps vs torch
def test_reference_dense_steps_equal_torch() -> None:
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    rng = np.random.RandomState(0)
    for shape in [(14, 112, 112), (17, 7, 5), (3, 9, 13), (2, 1, 10), (1, 1, 1)]:
        maps = rng.normal(size=shape).astype(np.float32)
        size = (2 * shape[1], 2 * shape[2])
        expected = F.interpolate(torch.from_numpy(maps)[None], size=size, mode="bilinear", align_corners=False)
        # float32 rounding: a few ulps of values up to ~4
        np.testing.assert_allclose(upsample2x(maps), expected[0].numpy(), atol=4e-6, rtol=0)

    heat = rng.uniform(size=(5, 21, 17)).astype(np.float32)
    heat[:, 3:6, 4:7] = 0.99  # a plateau: every point equal to its window max survives
    for kernel in (3, 5):
        t = torch.from_numpy(heat)[None]
        pooled = F.max_pool2d(t, kernel, 1, kernel // 2)
        expected = (t * torch.eq(pooled, t).float())[0].numpy()
        np.testing.assert_array_equal(max_pool_nms(heat, kernel), expected)


def _torch_dense(torch, F, outputs, flipped, config):
    """The official get_multi_stage_outputs + aggregate_results, written with torch ops."""
    j = config.num_joints

    def stages(outs, flip):
        s1, s2 = (torch.from_numpy(o) for o in outs)
        s1 = F.interpolate(s1, size=s2.shape[2:], mode="bilinear", align_corners=False)
        if flip:
            s1, s2 = torch.flip(s1, [3]), torch.flip(s2, [3])
            idx = list(config.flip_index)
            return (s1[:, :j][:, idx] + s2[:, idx]) / 2, s1[:, j:][:, idx]
        return (s1[:, :j] + s2) / 2, s1[:, j:]

    h0, t0 = stages(outputs, False)
    heats, tags = [h0], [t0]
    if flipped is not None:
        h1, t1 = stages(flipped, True)
        heats.append(h1)
        tags.append(t1)
    if config.project_to_input:
        size = (h0.shape[2] * 2, h0.shape[3] * 2)
        heats = [F.interpolate(m, size=size, mode="bilinear", align_corners=False) for m in heats]
        tags = [F.interpolate(m, size=size, mode="bilinear", align_corners=False) for m in tags]
    heat = (heats[0] + heats[1]) / 2.0 if flipped is not None else heats[0]
    return heat[0].numpy(), torch.cat([t.unsqueeze(4) for t in tags], dim=4)[0].numpy()


@pytest.mark.parametrize("project", [False, True])
@pytest.mark.parametrize("flip", [False, True])
def test_reference_dense_maps_and_top_k_equal_torch(project: bool, flip: bool) -> None:
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    config = DecoderConfig.from_keypoint_set(COCO, project_to_input=project)
    rng = np.random.RandomState(1)
    outputs = random_outputs(rng, 17, 8, 12, 1.0)
    flipped = random_outputs(rng, 17, 8, 12, 1.0) if flip else None
    heat, tags = dense_maps(outputs, config, flipped)
    heat_t, tags_t = _torch_dense(torch, F, outputs, flipped, config)
    np.testing.assert_allclose(heat, heat_t, atol=2e-6, rtol=0)
    np.testing.assert_allclose(tags, tags_t, atol=1e-5, rtol=0)

    # top_k against torch topk on torch's own NMS (official HeatmapParser.top_k).
    det = torch.from_numpy(heat_t)[None]
    det = det * torch.eq(F.max_pool2d(det, 5, 1, 2), det).float()
    val_t, ind_t = det.view(1, 17, -1).topk(config.max_num_people, dim=2)
    tag_k, loc_k, val_k = top_k(heat, tags, config)
    above = val_t[0].numpy() > config.detection_threshold
    np.testing.assert_allclose(val_k[above], val_t[0].numpy()[above], atol=2e-6)
    width = heat.shape[2]
    ind = ind_t[0].numpy()
    np.testing.assert_array_equal(loc_k[above], np.stack((ind % width, ind // width), axis=2)[above])


# ----------------------------------------------------------------------------- (c) recover the truth
def letterbox_scale(image_size: Tuple[int, int], input_size: Tuple[int, int]) -> float:
    """Scale of the image pasted at the top-left corner of the input (the rest padded)."""
    return min(input_size[0] / image_size[0], input_size[1] / image_size[1])


def to_input(keypoints: np.ndarray, scale: float) -> np.ndarray:
    out = np.array(keypoints, np.float64)
    out[..., :2] *= scale
    return out


def to_image(people: People, scale: float) -> People:
    keypoints = people.keypoints.copy()
    keypoints[..., :2] /= scale
    return People(keypoints, people.scores)


def decode_annotations(annotation_file: Path, kps: KeypointSet, input_size: Tuple[int, int], project: bool):
    data = json.loads(annotation_file.read_text())
    config = DecoderConfig.from_keypoint_set(kps, project_to_input=project)
    rng = np.random.RandomState(0)
    results = []  # type: List[dict]
    found = 0
    for image in data["images"]:
        anns = [a for a in data["annotations"] if a["image_id"] == image["id"] and a["num_keypoints"] > 0]
        gt = np.array([a["keypoints"] for a in anns], np.float64).reshape(len(anns), kps.num_joints, 3)
        scale = letterbox_scale((image["width"], image["height"]), input_size)
        tags = rng.permutation(len(anns)) * 2.0 - len(anns)
        outputs = synthesize_outputs(to_input(gt, scale), input_size, tags, rng, heat_noise=0.02, tag_noise=0.05)
        people = to_image(decode(outputs, config), scale)
        found += len(people)
        results.extend(people.to_coco_results(image["id"]))
    return results, found


# dataset -> (evaluator module, data folder fixture, annotation file, input size, people found at least)
ANNOTATED = {
    "coco": ("pycocotools", "coco_dir", "person_keypoints_mmpose_test.json", (512, 512), 12),
    "crowdpose": ("xtcocotools", "crowdpose_dir", "crowdpose_mmpose_test.json", (448, 448), 4),
}


@pytest.mark.parametrize("dataset", sorted(ANNOTATED))
@pytest.mark.parametrize("project", [False, True])
def test_decoder_recovers_annotations(request, dataset: str, project: bool) -> None:
    module, folder, name, input_size, min_found = ANNOTATED[dataset]
    pytest.importorskip(module, reason="the {} evaluator is tooling, not runtime".format(dataset))
    ann = request.getfixturevalue(folder) / name
    results, found = decode_annotations(ann, KEYPOINT_SETS[dataset], input_size, project)
    metrics = evaluate(results, str(ann), dataset)
    assert found >= min_found
    assert metrics["AP"] >= 0.99, metrics


# ----------------------------------------------------------------------------- (d) edge cases
def both(outputs, config, flipped=None) -> People:
    ours = decode(outputs, config, flipped)
    assert_same_people(ours, decode_reference(outputs, config, flipped))
    return ours


@pytest.mark.parametrize("project", [False, True])
def test_no_people(project: bool) -> None:
    config = DecoderConfig.from_keypoint_set(COCO, project_to_input=project)
    zeros = (np.zeros((1, 34, 16, 12), np.float32), np.zeros((1, 17, 32, 24), np.float32))
    assert len(both(zeros, config, zeros)) == 0
    rng = np.random.RandomState(0)
    below = synthesize_outputs(np.zeros((0, 17, 3)), (48, 64), rng=rng, heat_noise=0.099, tag_noise=1.0)
    people = both(below, config)
    assert len(people) == 0 and people.keypoints.shape == (0, 17, 3) and people.scores.shape == (0,)


def test_one_joint_only() -> None:
    config = DecoderConfig.from_keypoint_set(CROWDPOSE)
    person = np.zeros((1, 14, 3))
    person[0, 12] = (41.3, 22.6, 1)  # head only
    people = both(synthesize_outputs(person, (96, 64)), config)
    assert len(people) == 1
    assert np.count_nonzero(people.keypoints[0, :, 2]) == 1  # refine finds nothing else (value 0)
    np.testing.assert_allclose(people.keypoints[0, 12, :2], person[0, 12, :2], atol=1.0)
    assert people.scores[0] == pytest.approx(people.keypoints[0, 12, 2] / 14, rel=1e-6)


@pytest.mark.parametrize("project", [False, True])
def test_more_people_than_the_cap(project: bool) -> None:
    config = DecoderConfig.from_keypoint_set(CROWDPOSE, project_to_input=project, refine=False)
    rng = np.random.RandomState(4)
    grid = np.stack(np.meshgrid(np.arange(8), np.arange(5)), -1).reshape(-1, 2) * [24, 24] + 14
    people = np.zeros((40, 14, 3))
    people[:, :, :2] = grid[:, None, :] + rng.uniform(-3, 3, (40, 14, 2))
    people[:, :, 2] = 1
    result = both(synthesize_outputs(people, (192, 128), tags=np.arange(40) * 3.0, rng=rng, tag_noise=0.05), config)
    # Top-k keeps 30 detections per joint, so no joint is found more than 30 times ...
    assert (np.count_nonzero(result.keypoints[:, :, 2], axis=0) <= 30).all()
    # ... and the first joint's 30 people are followed by the people that later joints started.
    assert len(result) > 30


def test_touching_people_are_separated() -> None:
    config = DecoderConfig.from_keypoint_set(COCO)
    rng = np.random.RandomState(2)
    base = rng.uniform(20, 100, (17, 2))
    a = np.concatenate([base, np.ones((17, 1))], 1)
    b = a.copy()
    b[:, 0] += 7.0  # 3.5 stage-2 pixels: just outside the 5x5 NMS window
    people = both(synthesize_outputs(np.stack([a, b]), (128, 128), tags=[1.0, 2.6], tag_radius=0), config)
    assert len(people) == 2
    order = np.argsort(people.keypoints[:, 0, 0])
    for found, truth in zip(people.keypoints[order], (a, b)):
        assert (found[:, 2] > 0.5).all()
        np.testing.assert_allclose(found[:, :2], truth[:, :2], atol=1.0)


@pytest.mark.parametrize("project", [False, True])
def test_flip_consistency(project: bool) -> None:
    """Outputs of the mirrored input, flipped back, agree with the unflipped ones."""
    config = DecoderConfig.from_keypoint_set(COCO, project_to_input=project)
    rng = np.random.RandomState(9)
    truth = np.ones((5, 17, 3))
    truth[:, :, 0] = rng.uniform(4, 124, (5, 17))
    truth[:, :, 1] = 10 + 18 * np.arange(5)[:, None] + rng.uniform(-3, 3, (5, 17))  # one band each
    tags = np.arange(5) * 3.0
    outputs = synthesize_outputs(truth, (128, 96), tags)
    flipped = synthesize_outputs(mirror_people(truth, 128, COCO.flip_index), (128, 96), tags)
    plain = decode(outputs, config)
    with_flip = both(outputs, config, flipped)
    assert len(with_flip) == len(plain) == 5
    np.testing.assert_allclose(with_flip.keypoints[:, :, :2], plain.keypoints[:, :, :2], atol=0.6)
    np.testing.assert_allclose(with_flip.scores, plain.scores, atol=0.02)
    # Flipping the pair must not depend on which copy is called "flipped".
    swapped = decode(flipped, config, outputs)
    mirrored = mirror_people(np.asarray(swapped.keypoints), 128, COCO.flip_index)
    key = lambda k: np.lexsort((k[:, 0, 1], k[:, 0, 0]))  # noqa: E731
    ours = with_flip.keypoints[key(with_flip.keypoints)]
    np.testing.assert_allclose(mirrored[key(mirrored)][:, :, :2], ours[:, :, :2], atol=0.6)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="joint_order"):
        DecoderConfig(14, tuple(range(13)) + (0,), tuple(range(14))).validated()
    with pytest.raises(ValueError, match="nms_kernel"):
        DecoderConfig.from_keypoint_set(COCO, nms_kernel=4)
    with pytest.raises(ValueError, match="max_num_people"):
        DecoderConfig.from_keypoint_set(COCO, max_num_people=0)
    config = DecoderConfig.from_keypoint_set(CROWDPOSE, tag_threshold=0.5)
    assert config.num_joints == 14 and config.tag_threshold == 0.5 and config.joint_order == CROWDPOSE.joint_order


def test_output_shapes_are_checked() -> None:
    config = DecoderConfig.from_keypoint_set(COCO)
    good = (np.zeros((1, 34, 8, 8), np.float32), np.zeros((1, 17, 16, 16), np.float32))
    with pytest.raises(ValueError, match="channels"):
        decode((np.zeros((1, 28, 8, 8)), np.zeros((1, 14, 16, 16))), config)
    with pytest.raises(ValueError, match="twice"):
        decode((good[0], np.zeros((1, 17, 8, 8))), config)
    with pytest.raises(ValueError, match="flipped_outputs"):
        decode(good, config, (good[0],))




def test_quarter_offset_goes_down_on_ties() -> None:
    """A peak with equal neighbours moves -0.25 (x + 0.25 after the half-pixel centre)."""
    config = DecoderConfig.from_keypoint_set(CROWDPOSE, refine=False)
    stage1 = np.zeros((1, 28, 8, 8), np.float32)
    stage2 = np.zeros((1, 14, 16, 16), np.float32)
    stage2[0, 0, 7, 10] = 1.0
    stage2[0, 0, 7, 9] = stage2[0, 0, 7, 11] = 0.5  # x tie
    stage2[0, 0, 8, 10] = 0.5  # y: lower neighbour larger
    people = both((stage1, stage2), config)
    assert len(people) == 1
    # Heatmap (10 + 0.25, 7 + 0.75) at stride 2.
    np.testing.assert_array_equal(people.keypoints[0, 0], [20.5, 15.5, 0.5])


def test_refine_takes_the_first_of_equal_maxima() -> None:
    """Two pixels of a missing joint tie for the refine step's best value: the first in
    row-major order wins (argmax), however the maps are scanned."""
    config = DecoderConfig.from_keypoint_set(CROWDPOSE)
    person = np.zeros((1, 14, 3))
    person[0, 0] = (61, 61, 1)  # joint 0 found, tag 2.0
    stage1, stage2 = synthesize_outputs(person, (64, 64), tags=[2.0], tag_radius=2)
    stage1[0, 14 + 1] = 2.0  # joint 1's tags: the person's everywhere
    stage2[0, 1, 9, 3] = stage2[0, 1, 5, 10] = 0.05  # below the threshold: found by refine only
    people = both((stage1, stage2), config)
    assert len(people) == 1
    # stride-2 pixel (x 10, y 5), quarter offsets down-left on equal neighbours, at input scale
    np.testing.assert_array_equal(people.keypoints[0, 1], np.float32([20.5, 10.5, 0.025]))


def test_groups_are_keyed_by_first_tag_value() -> None:
    """The reference keys people by the first tag value of the joint that started them: an
    unmatched joint with the same tag value lands in that person and resets its tag list."""
    config = DecoderConfig.from_keypoint_set(COCO, refine=False)
    # (joint, input x, input y, tag); at stride 2, x = 2i + 1 is a pixel centre.
    carriers = [
        (0, 41, 21, 2.0),  # person A starts, key 2.0
        (1, 41, 61, 2.4),  # joins A: tags [2.0, 2.4]
        (2, 41, 101, 2.2),  # joins A (higher score than the next one)
        (2, 82, 101, 2.0),  # unmatched, key 2.0 == A: overwrites A's joint 2, tags reset to [2.0]
        (3, 41, 141, 1.05),  # |1.05 - 2.0| < 1 joins A; with the tags not reset (mean 2.15) it would not
    ]
    people = np.zeros((len(carriers), 17, 3))
    for i, (joint, x, y, _) in enumerate(carriers):
        people[i, joint] = (x, y, 1)
    outputs = synthesize_outputs(people, (192, 192), [c[3] for c in carriers], tag_radius=2)
    result = both(outputs, config)
    assert len(result) == 1
    np.testing.assert_allclose(result.keypoints[0, [0, 1, 2, 3], :2], [[41, 21], [41, 61], [82, 101], [41, 141]],
                               atol=1.0)
