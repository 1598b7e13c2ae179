"""Real LiteRT conversion (litert-torch) and the real interpreter: fp32 parity, fp16/int8, metadata, I/O."""
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("litert_torch")
pytest.importorskip("ai_edge_quantizer")

from litepose_ros.backends import create_backend  # noqa: E402
from litepose_ros.backends import tflite_backend as tfl  # noqa: E402
from litepose_ros.common.metadata import METADATA_KEY, ModelMetadata  # noqa: E402

META = ModelMetadata.for_dataset("XS", "crowdpose", 128, 128, weights="random")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(model, fp32 .tflite path): one `litepose export-tflite` run shared by the module (~30 s).

    Random exports are seeded, so the same PyTorch model can be rebuilt here for parity checks."""
    from litepose_ros.commands.export_cmd import RANDOM_SEED
    from litepose_ros.model.litepose import build_model

    path = str(tmp_path_factory.mktemp("tflite") / "xs.tflite")
    done = subprocess.run([sys.executable, "-m", "litepose_ros.cli", "export-tflite", "--arch", "XS", "--dataset",
                           "crowdpose", "--input-size", "128", "--precision", "fp32", "--output", path],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "RANDOMLY INITIALISED" in done.stderr and "max |diff|" in done.stdout
    torch.manual_seed(RANDOM_SEED)
    model = build_model("XS", META.num_joints).eval()
    return model, path


def _torch_outputs(model, tensor):
    with torch.no_grad():
        return [t.numpy() for t in model(torch.from_numpy(tensor))]


def _frames(video_dir, count):
    from litepose_ros.export.verify import load_images

    return load_images([str(video_dir)], count)


def test_fp32_parity_and_metadata(exported, video_dir):
    model, path = exported
    backend = create_backend(path, threads=1)  # chosen by the .tflite suffix
    assert isinstance(backend, tfl.TFLiteBackend) and backend.metadata == META
    from litepose_ros.image.preprocess import Preprocessor

    tensor = Preprocessor(META)(_frames(video_dir, 1)[0])[0]
    for got, want in zip(backend.run(tensor), _torch_outputs(model, tensor)):
        assert got.shape == want.shape and np.max(np.abs(got - want)) <= 1e-4


def test_xnnpack_on_and_off_agree(exported):
    _, path = exported
    tensor = np.random.RandomState(1).randn(*META.input_shape).astype(np.float32)
    on = tfl.TFLiteBackend(path, threads=1, xnnpack=True).run(tensor)
    off = tfl.TFLiteBackend(path, threads=1, xnnpack=False)
    assert "XNNPACK off" in off.describe()
    for a, b in zip(on, off.run(tensor)):
        assert np.max(np.abs(a - b)) <= 1e-4


def test_fp16_and_int8_from_real_frames(exported, video_dir, tmp_path):
    from litepose_ros.engines.tflite_export import calibration_tensors, quantize_fp16, quantize_int8
    from litepose_ros.engines.torch_backend import TorchBackend
    from litepose_ros.export.verify import Tolerance, compare_backends

    model, path = exported
    content = open(path, "rb").read()
    frames = _frames(video_dir, 4)
    reference = TorchBackend(model, META)
    for precision, tolerance in (("fp16", 1e-3), ("int8", 0.05)):
        if precision == "fp16":
            quantized = quantize_fp16(content)
        else:
            quantized = quantize_int8(content, calibration_tensors(frames, META))
        # the quantiser keeps the metadata (it moves weights out of the flatbuffer: offsets)
        assert tfl.read_tflite_metadata(quantized)[METADATA_KEY] == META.to_json().encode()
        out = tmp_path / "xs_{}.tflite".format(precision)
        out.write_bytes(quantized)
        backend = tfl.TFLiteBackend(str(out), threads=1, xnnpack=False)
        if precision == "int8":
            assert np.dtype(backend._input["dtype"]) == np.int8  # quantised I/O handled by the backend
        report = compare_backends(backend, reference, frames, Tolerance(heatmap_max_abs=tolerance))
        assert report.passed, report.summary()
        assert len(quantized) < 0.6 * len(content)


def test_quantise_helpers_and_layouts():
    detail = {"dtype": np.int8, "quantization": (0.5, -3)}
    values = np.array([-100.0, 0.0, 1.0, 100.0], np.float32)
    q = tfl.quantize(values, detail)
    assert q.dtype == np.int8 and list(q) == [-128, -3, -1, 127]
    assert list(tfl.dequantize(q, detail)) == [-62.5, 0.0, 1.0, 65.0]
    float_detail = {"dtype": np.float32, "quantization": (0.0, 0)}
    assert tfl.quantize(values, float_detail) is values
    # outputs in reversed order and NHWC still come back as (stage 1, stage 2) NCHW
    from litepose_ros.backends.base import order_outputs

    s1, s2 = [np.random.rand(*s).astype(np.float32) for s in META.output_shapes()]
    a, b = order_outputs([np.transpose(s2, (0, 2, 3, 1)), s1], META)
    assert np.array_equal(a, s1) and np.array_equal(b, s2)


def test_missing_metadata_is_a_clear_error(exported, tmp_path):
    from litepose_ros.backends.base import BackendError

    _, path = exported
    content = open(path, "rb").read().replace(METADATA_KEY.encode(), b"xxxxxxxx")
    broken = tmp_path / "no_meta.tflite"
    broken.write_bytes(content)
    with pytest.raises(BackendError) as error:
        tfl.TFLiteBackend(str(broken))
    assert "no 'litepose' metadata" in str(error.value)
