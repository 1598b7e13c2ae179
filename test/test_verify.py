"""`litepose verify`: same weights on two backends pass; perturbed weights fail with exit code 1."""
import numpy as np
import pytest

from litepose_ros.cli import main
from litepose_ros.common.metadata import ModelMetadata
from litepose_ros.common.people import People
from litepose_ros.export.verify import oks_matrix, people_agreement

torch = pytest.importorskip("torch")


def _export(model, path):
    from litepose_ros.export.onnx_export import export_onnx

    metadata = ModelMetadata.for_dataset("XS", "crowdpose", 128, 128, weights="test")
    export_onnx(model, metadata, str(path))
    return str(path)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from litepose_ros.model.litepose import build_model

    folder = tmp_path_factory.mktemp("verify")
    torch.manual_seed(0)
    model = build_model("XS", 14).eval()
    same = _export(model, folder / "a.onnx")
    with torch.no_grad():  # wrong output-layer scale: what a broken conversion might produce
        for head in model.final_refined:
            head.conv[3].weight.mul_(4.0)
    perturbed = _export(model, folder / "perturbed.onnx")
    return same, perturbed


def test_same_weights_on_two_backends_pass(models, video_dir, capsys):
    same, _ = models
    code = main(["verify", "--model", same, "--reference", same, "--reference-backend", "onnxruntime",
                 "--images", str(video_dir), "--limit", "3", "--threads", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "result: PASS" in out and "max |diff| 0 " in out


def test_torch_vs_onnxruntime_agree(models, video_dir):
    from litepose_ros.backends import create_backend
    from litepose_ros.engines.torch_backend import TorchBackend
    from litepose_ros.export.verify import compare_backends, load_images
    from litepose_ros.model.litepose import build_model

    torch.manual_seed(0)
    reference = create_backend(models[0])
    report = compare_backends(TorchBackend(build_model("XS", 14), reference.metadata), reference,
                              load_images([str(video_dir)], 2))
    assert report.passed and report.stats.heatmap_max_abs < 1e-4 and report.inputs == 2


def test_perturbed_weights_fail(models, video_dir, capsys):
    same, perturbed = models
    # Random weights give small heatmaps (max ~0.13), hence a tolerance tighter than the default.
    code = main(["verify", "--model", perturbed, "--reference", same, "--images", str(video_dir), "--limit", "3",
                 "--tolerance", "0.001"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "result: FAIL" in out


def test_oks_and_agreement():
    person = np.array([[[10, 10, 1], [20, 10, 1], [15, 30, 1]]], np.float32)
    sigmas = [0.1, 0.1, 0.1]
    same = People(person, np.ones(1, np.float32))
    assert oks_matrix(same, same, sigmas)[0, 0] == pytest.approx(1.0)
    moved = People(person + np.array([5, 0, 0], np.float32), np.ones(1, np.float32))
    assert 0.0 < oks_matrix(moved, same, sigmas)[0, 0] < 0.9
    # an extra person counts as a disagreement
    two = People(np.concatenate([person, person + 100]), np.ones(2, np.float32))
    total, count = people_agreement(two, same, sigmas)
    assert count == 2 and total == pytest.approx(1.0)
    assert people_agreement(People.empty(3), People.empty(3), sigmas) == (0.0, 0)
