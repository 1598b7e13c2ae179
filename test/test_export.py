"""ONNX export: parity with PyTorch, file format (opset, one file, metadata) and `litepose export`."""
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from torch import nn  # noqa: E402

from litepose_ros.backends import create_backend  # noqa: E402
from litepose_ros.cli import main as cli_main  # noqa: E402
from litepose_ros.common.metadata import METADATA_KEY, ModelMetadata  # noqa: E402
from litepose_ros.export import onnx_export  # noqa: E402
from litepose_ros.export.onnx_export import ExportError, export_onnx, parity_input  # noqa: E402
from litepose_ros.model.checkpoint import save_checkpoint  # noqa: E402
from litepose_ros.model.litepose import build_model  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def randomized_model(arch: str, joints: int, seed: int = 0) -> nn.Module:
    """Random weights with non-trivial BN statistics, so that folding errors show in the outputs."""
    torch.manual_seed(seed)
    model = build_model(arch, joints)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n) - 0.5)
                m.running_var.copy_(torch.rand(n) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n) + 0.5)
                m.bias.copy_(torch.rand(n) * 0.4 - 0.2)
    return model


def _torch_outputs(model: nn.Module, metadata: ModelMetadata):
    model.eval()
    with torch.no_grad():
        return [t.numpy() for t in model(torch.from_numpy(parity_input(metadata)))]


@pytest.fixture(scope="module", params=[("XS", "crowdpose", 128, 128), ("S", "coco", 128, 96)], ids=["XS", "S"])
def exported(request, tmp_path_factory):
    arch, dataset, width, height = request.param
    model = randomized_model(arch, 14 if dataset == "crowdpose" else 17)
    model.train()  # export must switch to eval itself, and restore the mode afterwards
    metadata = ModelMetadata.for_dataset(arch, dataset, width, height, weights="test weights")
    out_dir = tmp_path_factory.mktemp("export_" + arch)
    path = str(out_dir / "model.onnx")
    report = export_onnx(model, metadata, path)
    assert model.training
    return model, metadata, path, report


def test_parity_report(exported) -> None:
    _, metadata, path, report = exported
    assert report.path == path and report.opset == 11
    assert report.input_shape == (1, 3, metadata.input_height, metadata.input_width)
    assert list(report.max_abs_diff) == list(metadata.output_names)
    assert report.worst <= 1e-4
    # The comparison is meaningful only if the outputs are not all tiny.
    assert min(report.max_abs_value.values()) > 0.05
    assert "max |diff|" in report.summary()


def test_file_format(exported) -> None:
    _, metadata, path, report = exported
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [11]
    # One self-contained file: nothing stored externally, nothing else written beside it.
    assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
    assert os.listdir(os.path.dirname(path)) == ["model.onnx"]
    assert report.size_bytes == os.path.getsize(path)
    # Static input shape and the agreed names.
    (graph_input,) = proto.graph.input
    assert graph_input.name == metadata.input_name
    assert [d.dim_value for d in graph_input.type.tensor_type.shape.dim] == list(metadata.input_shape)
    assert [o.name for o in proto.graph.output] == list(metadata.output_names)
    # Batch norm is folded away, also in the deconvolution head.
    assert not [n for n in proto.graph.node if n.op_type == "BatchNormalization"]
    props = {p.key: p.value for p in proto.metadata_props}
    assert ModelMetadata.from_json(props[METADATA_KEY]) == metadata


def test_backend_reads_metadata_and_matches_torch(exported) -> None:
    model, metadata, path, _ = exported
    backend = create_backend(path)
    assert backend.metadata == metadata
    heatmaps_tags, heatmaps = backend.run(parity_input(metadata))
    expected = _torch_outputs(model, metadata)
    assert np.abs(heatmaps_tags - expected[0]).max() <= 1e-4
    assert np.abs(heatmaps - expected[1]).max() <= 1e-4


def test_parity_failure_removes_file(tmp_path, monkeypatch) -> None:
    metadata = ModelMetadata.for_dataset("XS", "crowdpose", 64, 64, weights="random")
    monkeypatch.setattr(onnx_export, "PARITY_TOLERANCE", -1.0)  # no export can pass this
    path = tmp_path / "bad.onnx"
    with pytest.raises(ExportError, match="disagrees with PyTorch.*max \\|diff\\|"):
        export_onnx(build_model("XS", 14), metadata, str(path))
    assert not path.exists()


def test_joint_count_must_match_metadata(tmp_path) -> None:
    metadata = ModelMetadata.for_dataset("XS", "coco", 64, 64, weights="random")
    with pytest.raises(ExportError, match="14 joints"):
        export_onnx(build_model("XS", 14), metadata, str(tmp_path / "x.onnx"))


def test_cli_random_weights_subprocess(tmp_path) -> None:
    out = tmp_path / "nested" / "xs.onnx"
    result = subprocess.run(
        [sys.executable, "-m", "litepose_ros.cli", "export", "--arch", "XS", "--dataset", "crowdpose",
         "--input-size", "128x64", "--output", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "RANDOMLY INITIALISED" in result.stderr
    assert "max |diff|" in result.stdout
    metadata = create_backend(str(out)).metadata
    assert (metadata.arch, metadata.dataset, metadata.weights) == ("XS", "crowdpose", "random")
    assert (metadata.input_width, metadata.input_height) == (128, 64)


def test_cli_uses_checkpoint_and_its_metadata(tmp_path, capsys) -> None:
    model = randomized_model("XS", 17, seed=3)
    ckpt = tmp_path / "trained.pth"
    save_checkpoint(model, str(ckpt), metadata={"arch": "XS", "dataset": "coco"})
    out = tmp_path / "xs.onnx"
    # arch and dataset come from the checkpoint's metadata.
    assert cli_main(["export", "--checkpoint", str(ckpt), "--input-size", "64", "--output", str(out)]) == 0
    captured = capsys.readouterr()
    assert "RANDOM" not in captured.err
    backend = create_backend(str(out))
    assert backend.metadata.dataset == "coco"
    assert backend.metadata.weights.startswith("trained.pth sha256:")
    # The file computes with the checkpoint's weights, not fresh ones.
    expected = _torch_outputs(model, backend.metadata)
    assert np.abs(backend.run(parity_input(backend.metadata))[1] - expected[1]).max() <= 1e-4


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--arch", "XS", "--dataset", "coco", "--input-size", "100"], "multiple of 16"),
        (["--arch", "XS", "--dataset", "coco", "--input-size", "64x"], "N or WxH"),
        (["--arch", "S", "--dataset", "coco", "--checkpoint", "CKPT"], "contradicts the checkpoint"),
        (["--checkpoint", "PLAIN"], "--arch is required"),
    ],
)
def test_cli_usage_errors(tmp_path, capsys, extra, message) -> None:
    model = build_model("XS", 17)
    save_checkpoint(model, str(tmp_path / "ckpt.pth"), metadata={"arch": "XS", "dataset": "coco"})
    save_checkpoint(model, str(tmp_path / "plain.pth"))
    paths = {"CKPT": str(tmp_path / "ckpt.pth"), "PLAIN": str(tmp_path / "plain.pth")}
    args = [paths.get(a, a) for a in extra]
    out = tmp_path / "x.onnx"
    assert cli_main(["export"] + args + ["--output", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_cli_checkpoint_that_does_not_fit(tmp_path, capsys) -> None:
    save_checkpoint(build_model("XS", 14), str(tmp_path / "crowdpose.pth"))
    code = cli_main(["export", "--arch", "XS", "--dataset", "coco", "--checkpoint", str(tmp_path / "crowdpose.pth"),
                     "--input-size", "64", "--output", str(tmp_path / "x.onnx")])
    assert code == 1
    assert "final_refined.0.conv.3.weight: expected (34, 24, 1, 1) vs found (28, 24, 1, 1)" in capsys.readouterr().err
