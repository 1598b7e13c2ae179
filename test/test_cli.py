"""`litepose predict` and `litepose eval` end to end on the shared photos (random weights:
this checks structure and plumbing; accuracy needs real weights)."""
import json
import subprocess
import sys

import pytest


def litepose(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "litepose_ros.cli"] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    paths = {}
    for dataset in ("coco", "crowdpose"):
        path = out / "xs_{}.onnx".format(dataset)
        # Dynamic height and width: the official protocol (eval's default) runs non-square inputs.
        done = litepose("export", "--arch", "XS", "--dataset", dataset, "--input-size", "128", "--dynamic-size",
                        "--output", path)
        assert done.returncode == 0, done.stderr
        paths[dataset] = path
    return paths


def test_predict_writes_coco_results_and_drawings(models, coco_dir, tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    results, drawn = tmp_path / "results.json", tmp_path / "drawn"
    # A low threshold so that even random weights yield people to write and draw.
    done = litepose("predict", "--model", models["coco"], coco_dir, tmp_path / "broken.jpg",
                    "--detection-threshold", "0.0001", "--output", results, "--draw", drawn)
    assert done.returncode == 0, done.stderr
    assert "skipping unreadable image" in done.stderr and "broken.jpg" in done.stderr
    assert "4 of 5 images processed" in done.stdout
    predictions = json.loads(results.read_text())
    assert predictions, "expected people with a near-zero detection threshold"
    image_ids = {p["image_id"] for p in predictions}
    assert image_ids <= {785, 40083, 196141, 197388}  # COCO ids from the file names
    for prediction in predictions:
        assert prediction["category_id"] == 1 and len(prediction["keypoints"]) == 17 * 3
    assert sorted(p.name for p in drawn.iterdir()) == sorted(p.name for p in coco_dir.glob("*.jpg"))


@pytest.mark.parametrize("dataset, annotations, metric", [
    ("coco", "person_keypoints_mmpose_test.json", "APm"),
    ("crowdpose", "crowdpose_mmpose_test.json", "AP_hard"),
])
def test_eval_reports_the_dataset_metrics(models, dataset, annotations, metric, tmp_path):
    from conftest import shared_path

    images = shared_path(dataset)
    output = tmp_path / "metrics.json"
    done = litepose("eval", "--model", models[dataset], "--annotations", images / annotations,
                    "--images", images, "--output", output, "--no-progress")
    assert done.returncode == 0, done.stderr
    report = json.loads(output.read_text())
    assert report["dataset"] == dataset and report["protocol"] == "official"
    assert metric in report["metrics"] and "AP" in done.stdout
    assert 0.0 <= report["metrics"]["AP"] <= 1.0


def test_eval_writes_files_only_when_asked(models, coco_dir, tmp_path):
    """Without --output/--results the metrics are printed and nothing lands in the current directory."""
    done = litepose("eval", "--model", models["coco"], "--annotations", coco_dir / "person_keypoints_mmpose_test.json",
                    "--images", coco_dir, "--protocol", "fast", "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "AP" in done.stdout and list(tmp_path.iterdir()) == []


def test_eval_refuses_annotations_of_the_other_dataset(models, coco_dir, tmp_path):
    done = litepose("eval", "--model", models["crowdpose"], "--annotations",
                    coco_dir / "person_keypoints_mmpose_test.json", "--images", coco_dir,
                    "--dataset", "coco", "--output", tmp_path / "m.json")
    assert done.returncode == 1 and "crowdpose" in done.stderr


def test_official_protocol_on_a_fixed_size_model_says_how_to_export(coco_dir, tmp_path):
    path = tmp_path / "static.onnx"
    done = litepose("export", "--arch", "XS", "--dataset", "coco", "--input-size", "128", "--output", path)
    assert done.returncode == 0, done.stderr
    done = litepose("eval", "--model", path, "--annotations", coco_dir / "person_keypoints_mmpose_test.json",
                    "--images", coco_dir, "--no-progress")
    assert done.returncode == 1 and "--dynamic-size" in done.stderr and "Traceback" not in done.stderr


def test_missing_model_is_a_clear_error(tmp_path, coco_dir):
    done = litepose("predict", "--model", tmp_path / "nope.onnx", coco_dir)
    assert done.returncode == 1 and "not found" in done.stderr and "nope.onnx" in done.stderr
