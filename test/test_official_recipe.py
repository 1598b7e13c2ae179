"""Each ingredient of the official LitePose recipe pinned to the official formula.

The expected values are written here from the official repository's documented behaviour
(``lib/utils/transforms.py`` get_multi_scale_size / transform_preds, ``RandomAffineTransform``
with ``SCALE_TYPE: short``, ``experiments/crowd_pose/mobilenet/mobile.yaml``), in a form
independent of ours: the 200-pixel "scale" unit, the +63 // 64 rounding, randint bounds.
"""
import math

import numpy as np
import pytest

from litepose_ros.common.metadata import ModelMetadata
from litepose_ros.image.preprocess import OfficialResize, Preprocessor

# Image sizes: both orientations, odd sides, squares, extreme aspects, and sides whose scaled
# long side lands just above a multiple of 64 (the official "+63 // 64" rounds those down).
IMAGE_SIZES = [(640, 427), (427, 640), (640, 480), (480, 640), (500, 375), (333, 500), (612, 612), (1, 1),
               (1920, 1080), (1080, 1920), (77, 1000), (1000, 77), (641, 426), (129, 256), (257, 128),
               (640, 361), (383, 211), (601, 300), (300, 601)]
INPUT_SIZES = [256, 384, 448, 512, 200]


def official_sizes(width, height, input_size):
    """get_multi_scale_size at scale 1 (min_scale 1): (W, H), centre, and the source box in 200-px units."""
    short_input = 64 * math.floor((input_size + 63) / 64)
    if width < height:
        out_w = short_input
        out_h = 64 * math.floor((short_input / width * height + 63) / 64)
        box = (width / 200.0, out_h / out_w * width / 200.0)
    else:
        out_h = short_input
        out_w = 64 * math.floor((short_input / height * width + 63) / 64)
        box = (out_w / out_h * height / 200.0, height / 200.0)
    return (out_w, out_h), (int(width / 2.0 + 0.5), int(height / 2.0 + 0.5)), box


def official_to_source(points, width, height, input_size):
    """transform_preds with heatmaps projected to the input size: the source box (200 x box units
    wide) around the centre spans the W-wide output, the same factor on both axes."""
    (out_w, out_h), centre, box = official_sizes(width, height, input_size)
    per_pixel = box[0] * 200.0 / out_w
    return np.stack([centre[0] + (points[:, 0] - out_w / 2.0) * per_pixel,
                     centre[1] + (points[:, 1] - out_h / 2.0) * per_pixel], axis=1)


@pytest.mark.parametrize("input_size", INPUT_SIZES)
def test_official_eval_input_sizes(input_size):
    for width, height in IMAGE_SIZES:
        fit = OfficialResize.fit(width, height, input_size)
        (out_w, out_h), centre, _ = official_sizes(width, height, input_size)
        assert (fit.input_width, fit.input_height) == (out_w, out_h), (width, height)
        assert (fit.center_x, fit.center_y) == centre
        assert fit.input_width % 64 == 0 and fit.input_height % 64 == 0
    # the official "+63 // 64" on a float: 256 / 300 * 601 = 512.85, less than a pixel above 512, stays 512
    assert OfficialResize.fit(601, 300, 256)[:2] == (512, 256)
    assert OfficialResize.fit(602, 300, 256)[:2] == (576, 256)  # 513.7: rounded up


@pytest.mark.parametrize("input_size", INPUT_SIZES)
def test_official_heatmap_to_image_mapping(input_size):
    rng = np.random.default_rng(input_size)
    for width, height in IMAGE_SIZES:
        fit = OfficialResize.fit(width, height, input_size)
        points = rng.uniform(0, [fit.input_width, fit.input_height], size=(50, 2))
        np.testing.assert_allclose(fit.to_source(points), official_to_source(points, width, height, input_size),
                                   rtol=1e-5, atol=1e-3 * max(width, height) / input_size)
        np.testing.assert_allclose(fit.to_input(fit.to_source(points)), points, atol=1e-2)


def test_official_warp_puts_source_pixels_where_the_mapping_says():
    """The tensor the network sees: at input index (i, j), the source pixel official_to_source((i, j))."""
    metadata = ModelMetadata.for_dataset("XS", "coco", 256, 256, weights="random")
    preprocess = Preprocessor(metadata, resize="official")
    for width, height in ((640, 427), (300, 500)):
        # every source pixel holds its own index in two channels (x / 4, y / 4 fit a byte)
        ys, xs = np.mgrid[0:height, 0:width]
        image = np.dstack([xs // 4, ys // 4, np.zeros_like(xs)]).astype(np.uint8)  # BGR
        tensor, fit = preprocess(image)
        assert tensor.shape == (1, 3, fit.input_height, fit.input_width)
        # back from normalised RGB to the byte values: channel 2 is B = x / 4, channel 1 is G = y / 4
        std, mean = np.asarray(metadata.std), np.asarray(metadata.mean)
        pixels = (tensor[0].transpose(1, 2, 0) * std + mean) * 255.0
        v, u = np.mgrid[8:fit.input_height - 8:16, 8:fit.input_width - 8:16]
        source = official_to_source(np.stack([u.ravel(), v.ravel()], 1).astype(np.float64), width, height, 256)
        inside = (source[:, 0] >= 4) & (source[:, 0] < width - 4) & (source[:, 1] >= 4) & (source[:, 1] < height - 4)
        assert inside.sum() > 20
        found = pixels[v.ravel(), u.ravel()][inside]
        np.testing.assert_allclose(found[:, 2], source[inside, 0] / 4, atol=1.0)
        np.testing.assert_allclose(found[:, 1], source[inside, 1] / 4, atol=1.0)


def test_official_resize_bounds_the_input_of_extreme_aspect_ratios():
    metadata = ModelMetadata.for_dataset("XS", "coco", 256, 256, weights="random")
    with pytest.raises(ValueError, match="pixel limit"):
        Preprocessor(metadata, resize="official")(np.zeros((1, 300000, 3), np.uint8))


def test_official_resize_refuses_non_square_models():
    metadata = ModelMetadata.for_dataset("XS", "coco", 256, 192, weights="random")
    with pytest.raises(ValueError, match="square input"):
        Preprocessor(metadata, resize="official")
    assert Preprocessor(metadata).resize == "letterbox"


# ----------------------------------------------------------------------------- training
torch = pytest.importorskip("torch")

from litepose_ros.training.trainer import (  # noqa: E402
    BASE_LR,
    TrainConfig,
    base_learning_rate,
    learning_rate,
    new_model,
)
from litepose_ros.training.transforms import (  # noqa: E402
    AugmentConfig,
    AugmentParams,
    input_matrix,
)


def test_official_augmentation_ranges():
    """mobile.yaml: rotation 30, scale 0.75-1.5 of the short side, MAX_TRANSLATE 40 per 200 px of crop."""
    config = AugmentConfig()
    assert (config.max_rotation, config.min_scale, config.max_scale, config.max_translate, config.flip_prob) == \
        (30.0, 0.75, 1.5, 40.0, 0.5)
    rng = np.random.default_rng(0)
    size = (256, 256)
    for width, height in ((640, 427), (375, 500), (1920, 1080)):
        short = min(width, height)
        draws = [AugmentParams.sample(config, rng, width, height) for _ in range(400)]
        scales = np.array([p.scale for p in draws])
        assert scales.min() >= 0.75 and scales.max() <= 1.5 and np.ptp(scales) > 0.6
        assert max(abs(p.rotation) for p in draws) <= 30 and max(abs(p.rotation) for p in draws) > 25
        for params in draws:
            side = short * params.scale  # the crop side, source pixels
            bound = 40 * side / 200  # randint(-40 * scale, 40 * scale), scale = side / 200
            for shift in params.translate:
                assert shift == int(shift) and int(-bound) <= shift < int(bound)
            matrix = input_matrix(width, height, size, params)
            # zoom: the crop side spans the input side
            assert math.hypot(*matrix[0, :2]) == pytest.approx(size[0] / side, rel=1e-9)
            # the shifted crop centre lands on the input centre
            centre = np.array([width / 2 + params.translate[0], height / 2 + params.translate[1], 1.0])
            np.testing.assert_allclose(matrix @ centre, [size[0] / 2, size[1] / 2], atol=1e-9)
        shifts = np.array([p.translate for p in draws])
        assert np.abs(shifts).max() > 0.15 * short  # the shift reaches ~0.2 x crop side


def test_init_statistics_are_pytorchs_unless_asked():
    """The official pose_mobilenet has no init code: PyTorch's kaiming_uniform(a=sqrt(5)) gives
    convolution weights U(+-1/sqrt(fan_in)), std 1/sqrt(3 fan_in); --normal-init: std 0.001."""
    torch.manual_seed(0)
    official = new_model(TrainConfig("XS", "coco", "", ""), 17)
    torch.manual_seed(0)
    normal = new_model(TrainConfig("XS", "coco", "", "", normal_init=True), 17)
    checked = 0
    for (name, module), (_, other) in zip(official.named_modules(), normal.named_modules()):
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) and module.weight.numel() >= 2000:
            fan_in = torch.nn.init._calculate_fan_in_and_fan_out(module.weight)[0]
            expected = 1.0 / math.sqrt(3 * fan_in)
            assert float(module.weight.detach().std()) == pytest.approx(expected, rel=0.1), name
            assert float(module.weight.detach().abs().max()) <= math.sqrt(3) * expected * (1 + 1e-6)
            assert float(other.weight.detach().std()) == pytest.approx(1e-3, rel=0.1), name
            checked += 1
        if isinstance(module, torch.nn.BatchNorm2d):
            assert torch.all(module.weight == 1) and torch.all(module.bias == 0)
    assert checked > 20


def test_learning_rate_is_not_scaled_with_the_number_of_gpus():
    """Official: 16 images per GPU, LR 4e-3 whatever the GPU count; MultiStep x0.1 at 350 and 480 of
    500 epochs, no warm-up."""
    for gpus in (1, 2, 4, 8):
        assert base_learning_rate("none", 16 * gpus) == BASE_LR == 4e-3
    assert base_learning_rate("sqrt", 16 * 8) == pytest.approx(4e-3 * math.sqrt(8))
    config = TrainConfig("XS", "coco", "", "")
    assert (config.lr_scaling, config.warmup_steps, config.amp, config.batch_size, config.epochs) == \
        ("none", 0, False, 16, 500)
    assert (config.crop, config.supervise_padding, config.crowdpose_masks, config.normal_init) == \
        ("short", False, False, False)
    rates = {epoch: learning_rate(config, BASE_LR, step=0, epoch=epoch) for epoch in (0, 349, 350, 479, 480, 499)}
    assert rates == pytest.approx({0: 4e-3, 349: 4e-3, 350: 4e-4, 479: 4e-4, 480: 4e-5, 499: 4e-5})
    with pytest.raises(ValueError, match="lr scaling"):
        TrainConfig("XS", "coco", "", "", lr_scaling="linear")


# ----------------------------------------------------------------------------- evaluation on the samples
def _random_checkpoint(tmp_path, dataset, size):
    from litepose_ros.common.keypoints import get_keypoint_set
    from litepose_ros.model.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = new_model(TrainConfig("XS", dataset, "", ""), get_keypoint_set(dataset).num_joints)
    path = tmp_path / "xs_{}.pth".format(dataset)
    save_checkpoint(model, str(path), {"arch": "XS", "dataset": dataset, "input_size": [size, size]})
    return path


@pytest.mark.parametrize("dataset, annotations", [
    ("coco", "person_keypoints_mmpose_test.json"), ("crowdpose", "crowdpose_mmpose_test.json")])
def test_eval_runs_both_protocols_on_the_shared_samples(dataset, annotations, tmp_path):
    """A .pth checkpoint under --protocol official (non-square inputs) and robot (square letterbox)."""
    import json
    import subprocess
    import sys

    from conftest import shared_path

    images = shared_path(dataset)
    checkpoint = _random_checkpoint(tmp_path, dataset, 128)
    for protocol, resize in (("official", "official resize"), ("robot", "letterbox resize")):
        output = tmp_path / "{}.json".format(protocol)
        done = subprocess.run(
            [sys.executable, "-m", "litepose_ros.cli", "eval", "--model", str(checkpoint), "--annotations",
             str(images / annotations), "--images", str(images), "--protocol", protocol, "--detection-threshold",
             "0.001", "--output", str(output), "--no-progress"], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "{} protocol: pytorch backend".format(protocol) in done.stdout and resize in done.stdout
        report = json.loads(output.read_text())
        assert report["protocol"] == protocol and report["images"] == len(json.loads(
            (images / annotations).read_text())["images"])
        assert 0.0 <= report["metrics"]["AP"] <= 1.0


def test_pytorch_and_dynamic_onnx_run_the_official_inputs_alike(tmp_path, coco_dir):
    """The official protocol's non-square inputs through a .pth checkpoint and a --dynamic-size ONNX
    export of it: the same network outputs, hence the same people."""
    from litepose_ros.backends import create_backend
    from litepose_ros.common.files import read_image
    from litepose_ros.evaluation.protocols import protocol_options
    from litepose_ros.export.onnx_export import export_onnx
    from litepose_ros.model.module_backend import checkpoint_backend
    from litepose_ros.pipeline.estimator import PoseEstimator

    checkpoint = _random_checkpoint(tmp_path, "coco", 128)
    module = checkpoint_backend(str(checkpoint), device="cpu")
    onnx_path = tmp_path / "dynamic.onnx"
    export_onnx(module.model, module.metadata, str(onnx_path), dynamic_size=True)
    estimators = [PoseEstimator(backend, detection_threshold=0.001, **protocol_options("official"))
                  for backend in (module, create_backend(str(onnx_path)))]
    shapes = set()
    for path in sorted(coco_dir.glob("*.jpg")):
        image = read_image(str(path))
        tensor, fit = estimators[0].preprocess(image)
        shapes.add(tensor.shape)
        first, second = (e.backend.run(tensor) for e in estimators)
        for a, b in zip(first, second):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, atol=1e-4)
        people = [e.estimate(image)[0] for e in estimators]
        assert len(people[0]) == len(people[1])
        np.testing.assert_allclose(people[0].keypoints[..., :2], people[1].keypoints[..., :2], atol=0.5)
    assert any(shape[2] != shape[3] for shape in shapes)  # non-square inputs were run
