"""Helpers for the training tests: tiny official-layout data roots made of symlinks."""
from pathlib import Path


def coco_root(tmp_path: Path, coco_dir: Path) -> Path:
    """COCO 2017 layout whose train and val splits are both the shared sample images."""
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    for split in ("train2017", "val2017"):
        (root / split).symlink_to(coco_dir, target_is_directory=True)
        (root / "annotations" / "person_keypoints_{}.json".format(split)).symlink_to(
            coco_dir / "person_keypoints_mmpose_test.json")
    return root


def crowdpose_root(tmp_path: Path, crowdpose_dir: Path) -> Path:
    root = tmp_path / "crowdpose"
    (root / "json").mkdir(parents=True)
    (root / "images").symlink_to(crowdpose_dir, target_is_directory=True)
    for split in ("trainval", "test"):
        (root / "json" / "crowdpose_{}.json".format(split)).symlink_to(crowdpose_dir / "crowdpose_mmpose_test.json")
    return root
