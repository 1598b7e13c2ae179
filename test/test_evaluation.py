"""evaluate() on the shared annotation files: perfect detections, worse detections, none."""
import json
from collections import OrderedDict
from pathlib import Path
from typing import List

import numpy as np
import pytest

from litepose_ros.evaluation.coco import COCO_METRICS, CROWDPOSE_METRICS, evaluate, format_table


def gt_as_results(annotation_file: Path, noise: float = 0.0, seed: int = 0) -> List[dict]:
    """Every annotated person (with at least one labelled joint) as a detection of score 1."""
    rng = np.random.RandomState(seed)
    data = json.loads(annotation_file.read_text())
    results = []
    for ann in data["annotations"]:
        if ann["num_keypoints"] == 0:
            continue
        kpts = np.array(ann["keypoints"], np.float64).reshape(-1, 3)
        kpts[:, :2] += rng.normal(0, noise, kpts[:, :2].shape)
        kpts[:, 2] = 1.0
        keypoints = kpts.ravel().tolist()
        results.append({"image_id": ann["image_id"], "category_id": 1, "keypoints": keypoints, "score": 1.0})
    return results


@pytest.fixture
def coco_ann(coco_dir: Path) -> Path:
    return coco_dir / "person_keypoints_mmpose_test.json"


@pytest.fixture
def crowd_ann(crowdpose_dir: Path) -> Path:
    return crowdpose_dir / "crowdpose_mmpose_test.json"


def test_coco_ground_truth_scores_one(coco_ann: Path) -> None:
    metrics = evaluate(gt_as_results(coco_ann), str(coco_ann), "coco")
    assert tuple(metrics) == COCO_METRICS
    for name in ("AP", "AP50", "AP75", "AR"):
        assert metrics[name] == pytest.approx(1.0), metrics


def test_crowdpose_ground_truth_scores_one(crowd_ann: Path) -> None:
    metrics = evaluate(gt_as_results(crowd_ann), str(crowd_ann), "crowdpose")
    assert tuple(metrics) == CROWDPOSE_METRICS
    for name in ("AP", "AP50", "AP75", "AR", "AP_medium"):
        assert metrics[name] == pytest.approx(1.0), metrics
    # Both sample images have crowd index 0.2..0.8: the easy and hard splits hold no people.
    assert metrics["AP_easy"] == -1 and metrics["AP_hard"] == -1


@pytest.mark.parametrize("dataset", ["coco", "crowdpose"])
def test_perturbed_keypoints_score_lower(dataset: str, coco_ann: Path, crowd_ann: Path) -> None:
    ann = coco_ann if dataset == "coco" else crowd_ann
    perfect = evaluate(gt_as_results(ann), str(ann), dataset)["AP"]
    slightly = evaluate(gt_as_results(ann, noise=4.0), str(ann), dataset)["AP"]
    badly = evaluate(gt_as_results(ann, noise=25.0), str(ann), dataset)["AP"]
    assert perfect > slightly > badly


@pytest.mark.parametrize("dataset", ["coco", "crowdpose"])
def test_no_results_score_zero(dataset: str, coco_ann: Path, crowd_ann: Path) -> None:
    ann = coco_ann if dataset == "coco" else crowd_ann
    metrics = evaluate([], str(ann), dataset)
    assert metrics["AP"] == 0.0 and metrics["AR"] == 0.0


def test_bad_dataset_name_and_quiet_output(coco_ann: Path, capsys) -> None:
    with pytest.raises(ValueError, match="dataset"):
        evaluate([], str(coco_ann), "mpii")
    evaluate(gt_as_results(coco_ann), str(coco_ann), "coco")
    assert capsys.readouterr().out == ""
    evaluate(gt_as_results(coco_ann), str(coco_ann), "coco", verbose=True)
    assert "Average Precision" in capsys.readouterr().out


def test_format_table() -> None:
    table = format_table(OrderedDict([("AP", 0.5), ("AR", 0.25)]))
    assert table.splitlines() == ["| AP | AR |", "|---|---|", "| 0.500 | 0.250 |"]
