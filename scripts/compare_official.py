"""Numeric comparison with the official LitePose code, run side by side (not a test: it needs a
checkout of https://github.com/mit-han-lab/litepose, which this repository does not contain).

    python scripts/compare_official.py --official /path/to/litepose

Compares, on random image sizes and draws:
* evaluation: our ``OfficialResize`` / ``Preprocessor(resize="official")`` with the official
  ``get_multi_scale_size``, ``resize_align_multi_scale`` and ``transform_preds``
  (``lib/utils/transforms.py``): input sizes, warped pixels, heatmap-to-image mapping;
* training: our ``input_matrix`` with the official ``RandomAffineTransform`` (``SCALE_TYPE:
  short``) matrix for the same rotation, crop scale and centre shift.
The official modules are imported from the checkout as they are (torchvision, which the
augmentation module imports but the compared code does not use, is stubbed when missing).
"""
import argparse
import importlib.util
import sys
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from litepose_ros.common.metadata import ModelMetadata  # noqa: E402
from litepose_ros.image.preprocess import OfficialResize, Preprocessor  # noqa: E402
from litepose_ros.training.transforms import AugmentParams, input_matrix  # noqa: E402


def load(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stub_torchvision() -> None:
    try:
        import torchvision  # noqa: F401
    except ImportError:
        vision = types.ModuleType("torchvision")
        vision.transforms = types.ModuleType("torchvision.transforms")
        vision.transforms.functional = types.ModuleType("torchvision.transforms.functional")
        sys.modules.update({"torchvision": vision, "torchvision.transforms": vision.transforms,
                            "torchvision.transforms.functional": vision.transforms.functional})


def compare_eval(official: types.ModuleType, rng: np.random.Generator, images: int) -> str:
    worst_pixel, worst_map = 0.0, 0.0
    for input_size in (256, 384, 448, 512):
        metadata = ModelMetadata.for_dataset("XS", "coco", input_size, input_size, weights="random")
        preprocess = Preprocessor(metadata, resize="official")
        for _ in range(images):
            width, height = (int(v) for v in rng.integers(50, 1400, 2))
            rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            (out_w, out_h), center, scale = official.get_multi_scale_size(rgb, input_size, 1.0, 1.0)
            fit = OfficialResize.fit(width, height, input_size)
            if (fit.input_width, fit.input_height) != (out_w, out_h):
                raise SystemExit("input size differs for {}x{} at {}: official {}x{}, ours {}x{}".format(
                    width, height, input_size, out_w, out_h, fit.input_width, fit.input_height))
            warped, _, _ = official.resize_align_multi_scale(rgb, input_size, 1.0, 1.0)
            tensor, _ = preprocess(np.ascontiguousarray(rgb[:, :, ::-1]))  # ours takes BGR
            ours = (tensor[0].transpose(1, 2, 0) * np.asarray(metadata.std) + np.asarray(metadata.mean)) * 255.0
            worst_pixel = max(worst_pixel, float(np.abs(ours - warped).max()))
            points = rng.uniform(0, [out_w, out_h], (100, 2))
            theirs = official.transform_preds(np.hstack([points, np.zeros((100, 1))]), center, scale,
                                              [out_w, out_h])[:, :2]
            worst_map = max(worst_map, float(np.abs(fit.to_source(points) - theirs).max()))
    return ("evaluation: {} image sizes x input sizes 256/384/448/512: input sizes identical, max |pixel "
            "difference| {:.2g} (0-255), max |heatmap-to-image difference| {:.2g} px".format(
                images, worst_pixel, worst_map))


def compare_training(augment: types.ModuleType, rng: np.random.Generator, draws: int) -> str:
    worst = 0.0
    for _ in range(draws):
        width, height = (int(v) for v in rng.integers(100, 1000, 2))
        size = int(rng.choice([256, 448, 512]))
        transform = augment.RandomAffineTransform(size, [size // 4, size // 2], 30, 0.75, 1.5, "short", 40)
        scale, rotation = float(rng.uniform(0.75, 1.5)), float(rng.uniform(-30, 30))
        side = min(width, height) * scale
        shift = [int(rng.integers(int(-40 * side / 200), int(40 * side / 200))) for _ in range(2)]
        centre = np.array((width / 2.0 + shift[0], height / 2.0 + shift[1]))
        theirs = transform._get_affine_matrix(centre, side / 200.0, (size, size), rotation)[:2]
        ours = input_matrix(width, height, (size, size), AugmentParams(rotation, scale, tuple(shift)))
        worst = max(worst, float(np.abs(theirs - ours).max()))
    return ("training: {} random draws (rotation, crop scale, centre shift; inputs 256/448/512): max |official "
            "affine matrix - ours| {:.2g}".format(draws, worst))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official", required=True, type=Path, help="checkout of mit-han-lab/litepose")
    parser.add_argument("--images", type=int, default=60, help="random image sizes per input size")
    parser.add_argument("--draws", type=int, default=300, help="random augmentation draws")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    stub_torchvision()
    official = load(args.official / "lib" / "utils" / "transforms.py", "official_transforms")
    augment = load(args.official / "lib" / "dataset" / "transforms" / "transforms.py", "official_augment")
    print(compare_eval(official, rng, args.images))
    print(compare_training(augment, rng, args.draws))
    return 0


if __name__ == "__main__":
    sys.exit(main())
