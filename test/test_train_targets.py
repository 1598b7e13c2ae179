"""Training targets on the real annotated images: Gaussian peaks, masks, augmentation consistency."""
import json

import numpy as np
import pytest

pytest.importorskip("torch")

from train_testing import coco_root, crowdpose_root  # noqa: E402

from litepose_ros.common.keypoints import COCO, CROWDPOSE  # noqa: E402
from litepose_ros.image.preprocess import Letterbox  # noqa: E402
from litepose_ros.training.datasets import AnnotationError, load_split, read_rgb  # noqa: E402
from litepose_ros.training.targets import (  # noqa: E402
    STRIDES,
    SampleOptions,
    gaussian_heatmaps,
    joint_indices,
    make_sample,
)
from litepose_ros.training.transforms import (  # noqa: E402
    AugmentConfig,
    AugmentParams,
    base_matrix,
    input_matrix,
    transform_joints,
    warp,
)

SIZE = (192, 192)
# The robot-matching options: letterbox geometry, padding supervised, CrowdPose boxes masked.
LETTERBOX = SampleOptions(crop="long", supervise_padding=True, crowdpose_masks=True)


def _check_peaks(sample, num_joints):
    """Every labelled joint is a value-1 peak at floor(xy / stride), and nothing else reaches 1."""
    for stage, stride in enumerate(STRIDES):
        maps = sample.heatmaps[stage]
        h, w = maps.shape[1:]
        for j in range(num_joints):
            expected = set()
            for x, y, v in sample.keypoints[:, j]:
                px, py = int(np.floor(x / stride)), int(np.floor(y / stride))
                if v > 0 and 0 <= px < w and 0 <= py < h:
                    expected.add((py, px))
            found = set(zip(*np.nonzero(maps[j] >= 1.0 - 1e-6)))
            assert found == expected, (stage, j)


@pytest.mark.parametrize("crop", ["short", "long"])
@pytest.mark.parametrize("dataset", ["coco", "crowdpose"])
def test_heatmap_peaks_at_joints_both_scales(dataset, crop, coco_dir, crowdpose_dir, tmp_path):
    kps, root = (COCO, coco_root(tmp_path, coco_dir)) if dataset == "coco" else \
        (CROWDPOSE, crowdpose_root(tmp_path, crowdpose_dir))
    records = load_split(dataset, str(root), "train" if dataset == "coco" else "trainval")
    rng = np.random.default_rng(0)
    checked = 0
    for record in records:
        image = read_rgb(record.path)
        options = SampleOptions(crop=crop)
        plain = make_sample(record, image, kps, SIZE, options=options)
        labelled = [p for p in record.people if p.num_labelled and not p.iscrowd]
        source = np.stack([p.keypoints for p in labelled])
        visible = source[..., 2] > 0
        if crop == "long":  # without augmentation the joints are exactly where inference's letterbox puts them
            expected = Letterbox.fit(record.width, record.height, *SIZE).to_input(source[..., :2])
        else:  # the short side spans the input, centred
            zoom = SIZE[0] / min(record.width, record.height)
            expected = (source[..., :2] - [record.width / 2, record.height / 2]) * zoom + SIZE[0] / 2
        np.testing.assert_allclose(plain.keypoints[..., :2][visible], expected[visible], atol=1e-3)
        random = AugmentParams.sample(AugmentConfig(), rng, record.width, record.height, crop)
        for params in (AugmentParams(), AugmentParams(flip=True), random):
            sample = make_sample(record, image, kps, SIZE, params, options=options)
            _check_peaks(sample, kps.num_joints)
            assert [m.shape for m in sample.heatmaps] == [(kps.num_joints, 48, 48), (kps.num_joints, 96, 96)]
            checked += int((sample.keypoints[..., 2] > 0).sum())
    assert checked > 50


def test_joint_indices_point_at_tag_pixels():
    joints = np.zeros((2, 3, 3), np.float32)
    joints[0] = [[1.5, 2.5, 2], [0, 0, 0], [7.9, 0.1, 1]]
    joints[1] = [[3.0, 3.0, 2], [50, 3, 2], [0, 0, 0]]  # second joint outside the 8x4 map
    out = joint_indices(joints, width=8, height=4, max_people=3)
    assert out[0, :, 1].tolist() == [1, 0, 1] and out[1, :, 1].tolist() == [1, 0, 0]
    assert out[0, 0, 0] == 0 * 32 + 2 * 8 + 1 and out[0, 2, 0] == 2 * 32 + 0 * 8 + 7
    assert out[2].sum() == 0
    assert joint_indices(np.tile(joints[:1], (40, 1, 1)), 8, 4)[:, 0, 1].sum() == 30  # capped at 30 people


def test_gaussian_is_sigma_2():
    maps = gaussian_heatmaps(np.array([[[10.2, 10.7, 2]]], np.float32), 32, 32)
    assert maps[0, 10, 10] == 1.0
    assert maps[0, 10, 12] == pytest.approx(np.exp(-4 / 8), rel=1e-6)
    assert maps[0, 10, 18] == 0.0  # radius 3 * sigma + 1


def test_coco_masks_cover_unlabelled_people_only(coco_dir, tmp_path):
    records = {r.image_id: r for r in load_split("coco", str(coco_root(tmp_path, coco_dir)), "train")}
    with open(coco_dir / "person_keypoints_mmpose_test.json") as stream:
        anns = json.load(stream)["annotations"]
    for image_id, record in records.items():
        sample = make_sample(record, read_rgb(record.path), COCO, SIZE, options=LETTERBOX)
        box = Letterbox.fit(record.width, record.height, *SIZE)
        unlabelled = [a for a in anns if a["image_id"] == image_id and a["num_keypoints"] == 0]
        for stride, mask in zip(STRIDES, sample.masks):
            if not unlabelled:
                assert mask.min() == 1.0  # nothing to ignore: every pixel supervised, padding included
            outside = np.ones_like(mask, bool)
            for ann in unlabelled:
                x, y, w, h = ann["bbox"]
                x0, y0 = box.to_input(np.array([x, y])) / stride
                x1, y1 = box.to_input(np.array([x + w, y + h])) / stride
                box_mask = mask[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))]
                assert box_mask.min() == 0.0, (image_id, stride)  # the unlabelled person is ignored
                outside[max(0, int(y0) - 1):int(np.ceil(y1)) + 1, max(0, int(x0) - 1):int(np.ceil(x1)) + 1] = False
            assert mask[outside].min() == 1.0  # and nothing outside them


def test_crowdpose_unlabelled_box_is_masked_only_when_asked(crowdpose_dir, tmp_path):
    records = load_split("crowdpose", str(crowdpose_root(tmp_path, crowdpose_dir)), "trainval")
    record = next(r for r in records if r.image_id == 106848)
    empty = [p for p in record.people if p.num_labelled == 0]
    assert len(empty) == 1
    # Official: CrowdPose masks nothing; the short-side crop has no padding, so every pixel is supervised.
    official = make_sample(record, read_rgb(record.path), CROWDPOSE, SIZE)
    assert all(mask.min() == 1.0 for mask in official.masks)
    sample = make_sample(record, read_rgb(record.path), CROWDPOSE, SIZE, options=LETTERBOX)
    box = Letterbox.fit(record.width, record.height, *SIZE)
    x, y, w, h = empty[0].bbox
    for stride, mask in zip(STRIDES, sample.masks):
        x0, y0 = box.to_input(np.array([x, y])) / stride
        x1, y1 = box.to_input(np.array([x + w, y + h])) / stride
        inside = mask[int(np.ceil(y0)):int(y1), int(np.ceil(x0)):int(x1)]  # pixels wholly inside the box
        assert inside.size > 0 and inside.max() == 0.0
        assert mask.mean() > 0.5


def test_flip_mirrors_image_masks_and_swaps_sides(coco_dir, tmp_path):
    record = load_split("coco", str(coco_root(tmp_path, coco_dir)), "train")[1]
    image = read_rgb(record.path)
    plain = make_sample(record, image, COCO, SIZE)
    flipped = make_sample(record, image, COCO, SIZE, AugmentParams(flip=True))
    np.testing.assert_allclose(flipped.image, plain.image[:, :, ::-1], atol=1e-5)
    for a, b in zip(flipped.masks, plain.masks):
        np.testing.assert_array_equal(a, b[:, ::-1])
    swapped = plain.keypoints[:, list(COCO.flip_index)]
    visible = swapped[..., 2] > 0
    np.testing.assert_allclose(flipped.keypoints[..., 0][visible], SIZE[0] - swapped[..., 0][visible], atol=1e-4)
    np.testing.assert_allclose(flipped.keypoints[..., 1][visible], swapped[..., 1][visible], atol=1e-4)


def test_affine_moves_image_and_joints_together():
    """A source image whose pixels hold their own x / y coordinate, warped with random augmentations:
    at every transformed joint, the warped image still holds that joint's source coordinate."""
    height, width = 300, 400
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    coords = np.dstack([xs, ys])
    rng = np.random.default_rng(1)
    joints = np.zeros((1, 17, 3), np.float32)
    joints[0, :, 0] = rng.uniform(100, 300, 17)
    joints[0, :, 1] = rng.uniform(80, 220, 17)
    joints[0, :, 2] = 2
    for crop in ("short", "long", "short", "long", "short"):
        params = AugmentParams.sample(AugmentConfig(), rng, width, height, crop)
        matrix = input_matrix(width, height, SIZE, params, crop)
        warped = warp(coords, matrix, SIZE)
        moved = transform_joints(joints, matrix, params.flip, COCO.flip_index)[0]
        source = joints[0, list(COCO.flip_index)] if params.flip else joints[0]
        for (u, v, _vis), (x, y, _) in zip(moved, source):
            if 1 <= u < SIZE[0] - 1 and 1 <= v < SIZE[1] - 1:
                # Sample at the pixel containing (u, v): within about one source pixel / scale.
                value = warped[int(v), int(u)]
                tolerance = 1.5 / (matrix[0, 0] ** 2 + matrix[0, 1] ** 2) ** 0.5
                assert abs(value[0] - x) < tolerance and abs(value[1] - y) < tolerance


def test_padding_is_unsupervised_unless_asked(coco_dir, tmp_path):
    """Official: the area outside the source image is out of the heatmap loss (mask 0);
    --supervise-padding trains it as background (mask 1)."""
    record = load_split("coco", str(coco_root(tmp_path, coco_dir)), "train")[0]
    image = read_rgb(record.path)
    zoom_out = AugmentParams(scale=1.5)  # the crop is larger than the image: padding on every side
    for supervise in (False, True):
        options = SampleOptions(supervise_padding=supervise)
        sample = make_sample(record, image, COCO, SIZE, zoom_out, options=options)
        matrix = input_matrix(record.width, record.height, SIZE, zoom_out)
        for stride, mask in zip(STRIDES, sample.masks):
            # pixel centres outside the image's footprint in this output
            inverse = np.linalg.inv(np.vstack([matrix / stride, [0, 0, 1]]))[:2]
            ys, xs = np.mgrid[0:mask.shape[0], 0:mask.shape[1]] + 0.5
            src = np.einsum("ij,jhw->ihw", inverse, np.stack([xs, ys, np.ones_like(xs)]))
            margin = 2 * stride / matrix[0, 0]
            outside = (src[0] < -margin) | (src[0] > record.width + margin) | \
                (src[1] < -margin) | (src[1] > record.height + margin)
            assert outside.any()
            assert (mask[outside] == (1.0 if supervise else 0.0)).all(), (supervise, stride)


def test_base_crop_geometry():
    """Short: the centred square of the short side fills the input; long: the letterbox."""
    for width, height in ((640, 427), (300, 500), (333, 333)):
        short = base_matrix(width, height, SIZE, "short")
        corners = np.array([[width / 2 - min(width, height) / 2, height / 2 - min(width, height) / 2, 1],
                            [width / 2 + min(width, height) / 2, height / 2 + min(width, height) / 2, 1]])
        np.testing.assert_allclose((short @ corners.T)[:2].T, [[0, 0], SIZE], atol=1e-9)
        box = Letterbox.fit(width, height, *SIZE)
        np.testing.assert_allclose(base_matrix(width, height, SIZE, "long")[:2],
                                   [[box.scale_x, 0, box.pad_x], [0, box.scale_y, box.pad_y]])


def test_bad_annotation_files_name_file_and_field(tmp_path):
    root = tmp_path / "cp"
    (root / "json").mkdir(parents=True)
    with pytest.raises(AnnotationError, match="crowdpose_trainval.json"):
        load_split("crowdpose", str(root), "trainval")
    path = root / "json" / "crowdpose_trainval.json"
    path.write_text(json.dumps({"images": [], "annotations": [{"image_id": 1, "bbox": [0, 0, 1, 1]}]}))
    with pytest.raises(AnnotationError, match=r"annotations\[0\]: missing field 'keypoints'"):
        load_split("crowdpose", str(root), "trainval")
    path.write_text(json.dumps({"images": [], "annotations": [{"image_id": 1, "bbox": [0, 0, 1, 1],
                                                                "keypoints": [0] * 51}]}))
    with pytest.raises(AnnotationError, match="'keypoints' has 51 values, expected 42"):
        load_split("crowdpose", str(root), "trainval")
    path.write_text(json.dumps({"annotations": []}))
    with pytest.raises(AnnotationError, match="missing field 'images'"):
        load_split("crowdpose", str(root), "trainval")
