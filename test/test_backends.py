"""Backend registry, output matching and load errors, with a tiny hand-built ONNX model."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from litepose_ros.backends import BackendError, backend_for_file, create_backend, order_outputs
from litepose_ros.common.metadata import METADATA_KEY, ModelMetadata


def patch_mean_model(meta: ModelMetadata, path, embed_metadata: bool = True) -> None:
    """Stage outputs are per-patch means of the input (stride 4 and 2), one per channel."""
    j = meta.num_joints
    w4 = np.full((2 * j, 3, 4, 4), 1.0 / 48, np.float32)
    w2 = np.full((j, 3, 2, 2), 1.0 / 12, np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["image", "w4"], ["heatmaps_tags"], strides=[4, 4]),
            helper.make_node("Conv", ["image", "w2"], ["heatmaps_highres"], strides=[2, 2]),
        ],
        "patch_mean",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, list(meta.input_shape))],
        [
            helper.make_tensor_value_info("heatmaps_tags", TensorProto.FLOAT, list(meta.output_shapes()[0])),
            helper.make_tensor_value_info("heatmaps_highres", TensorProto.FLOAT, list(meta.output_shapes()[1])),
        ],
        initializer=[helper.make_tensor("w4", TensorProto.FLOAT, w4.shape, w4.ravel()),
                     helper.make_tensor("w2", TensorProto.FLOAT, w2.shape, w2.ravel())],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    if embed_metadata:
        helper.set_model_props(model, {METADATA_KEY: meta.to_json()})
    onnx.save(model, str(path))


@pytest.fixture
def meta() -> ModelMetadata:
    return ModelMetadata.for_dataset("XS", "crowdpose", 64, 32, weights="random")


def test_onnxruntime_backend_runs_and_reads_metadata(tmp_path, meta):
    path = tmp_path / "m.onnx"
    patch_mean_model(meta, path)
    backend = create_backend(str(path), threads=1)
    assert backend.name == "onnxruntime"
    assert backend.metadata == meta
    tensor = np.random.default_rng(0).normal(size=meta.input_shape).astype(np.float32)
    stage1, stage2 = backend.run(tensor)
    assert stage1.shape == (1, 28, 8, 16) and stage2.shape == (1, 14, 16, 32)
    np.testing.assert_allclose(stage1[0, 3, 1, 2], tensor[0, :, 4:8, 8:12].mean(), atol=1e-5)
    np.testing.assert_allclose(stage2[0, 0, 5, 7], tensor[0, :, 10:12, 14:16].mean(), atol=1e-5)


@pytest.mark.parametrize("threads", [0, 2])
def test_onnxruntime_threads_do_not_spin_between_frames(tmp_path, meta, threads):
    """Issue 22 item 12: idle pool threads must sleep, not busy-wait (bench/bench_cpu.py shows
    the CPU it costs); the setting is read back from the session ONNX Runtime built."""
    path = tmp_path / "m.onnx"
    patch_mean_model(meta, path)
    options = create_backend(str(path), threads=threads)._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"


def test_non_finite_outputs_are_an_error(tmp_path, meta):
    """Issue 22 item 9: NaN/inf outputs raise NonFiniteOutput naming the output; finite pass."""
    from litepose_ros.backends import NonFiniteOutput, check_finite

    good = np.zeros((2, 3), np.float32)
    check_finite([good, np.full((2, 3), 3e38, np.float32)], ["a", "b"])  # finite, though their sum overflows
    for bad in (np.nan, np.inf, -np.inf):
        broken = good.copy()
        broken[1, 2] = bad
        with pytest.raises(NonFiniteOutput, match="model output b holds 1 of 6 values not finite"):
            check_finite([good, broken], ["a", "b"])


def test_backend_chosen_by_suffix_or_name(tmp_path, meta):
    assert backend_for_file("a/b/model.ONNX") == "onnxruntime"
    with pytest.raises(BackendError, match="suffix"):
        backend_for_file("model.pt")
    path = tmp_path / "m.onnx"
    patch_mean_model(meta, path)
    with pytest.raises(BackendError, match="unknown backend"):
        create_backend(str(path), backend="openvino")


def test_missing_corrupt_and_unlabelled_models_fail_clearly(tmp_path, meta):
    with pytest.raises(BackendError, match="not found.*nothing.onnx"):
        create_backend(str(tmp_path / "nothing.onnx"))
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(BackendError, match="cannot load"):
        create_backend(str(corrupt))
    plain = tmp_path / "plain.onnx"
    patch_mean_model(meta, plain, embed_metadata=False)
    with pytest.raises(BackendError, match="litepose export"):
        create_backend(str(plain))


def test_outputs_matched_by_shape_in_any_order_and_layout(meta):
    rng = np.random.default_rng(1)
    stage1 = rng.normal(size=meta.output_shapes()[0]).astype(np.float32)
    stage2 = rng.normal(size=meta.output_shapes()[1]).astype(np.float32)
    nhwc2 = np.ascontiguousarray(stage2.transpose(0, 2, 3, 1))
    a, b = order_outputs([nhwc2, stage1], meta)
    np.testing.assert_array_equal(a, stage1)
    np.testing.assert_array_equal(b, stage2)
    with pytest.raises(BackendError, match="do not match"):
        order_outputs([stage1, stage1], meta)


def test_onnx_outputs_that_differ_from_the_metadata_are_refused_at_load(tmp_path, meta):
    """A model whose metadata belongs to another model would fail on every frame: refuse it."""
    other = ModelMetadata.for_dataset("XS", "coco", 64, 32, weights="random")  # 17 joints, not 14
    path = tmp_path / "mismatch.onnx"
    patch_mean_model(meta, path)
    model = onnx.load(str(path))
    helper.set_model_props(model, {METADATA_KEY: other.to_json()})
    onnx.save(model, str(path))
    with pytest.raises(BackendError) as error:
        create_backend(str(path))
    message = str(error.value)
    assert "output 'heatmaps_tags' has shape [1, 28, 8, 16] where the metadata says [1, 34, 8, 16]" in message
    assert "output 'heatmaps_highres' has shape [1, 14, 16, 32] where the metadata says [1, 17, 16, 32]" in message

    renamed = onnx.load(str(path))
    helper.set_model_props(renamed, {METADATA_KEY: meta.to_json()})
    renamed.graph.output[1].name = "other"
    renamed.graph.node[1].output[0] = "other"
    onnx.save(renamed, str(path))
    with pytest.raises(BackendError, match="no output named 'heatmaps_highres'.*unexpected output 'other'"):
        create_backend(str(path))


def test_output_differences_without_names_allow_any_order_and_nhwc(meta):
    from litepose_ros.backends.base import output_differences

    s1, s2 = meta.output_shapes()
    nhwc2 = (s2[0], s2[2], s2[3], s2[1])
    assert output_differences([("a", nhwc2), ("b", s1)], meta, by_name=False) == []
    assert output_differences([("a", ["n", 28, 8, 16]), ("b", s2)], meta, by_name=False) == []  # unknown dim
    problems = output_differences([("a", (1, 34, 8, 16)), ("b", s2)], meta, by_name=False)
    assert problems == ["output shapes [[1, 34, 8, 16], [1, 14, 16, 32]] where the metadata expects "
                        "[[1, 28, 8, 16], [1, 14, 16, 32]] (NCHW or NHWC)"]
    assert output_differences([("a", s1), ("b", s2), ("c", s2)], meta, by_name=False) == [
        "unexpected extra outputs [[1, 14, 16, 32]]"]


def test_tflite_outputs_are_checked_at_load(tmp_path, monkeypatch, meta):
    """The TFLite backend's load path with a stand-in interpreter (the real one is in test_tflite)."""
    from litepose_ros.backends import tflite_backend as tfl

    class Interpreter(object):
        def __init__(self, **kwargs):
            pass

        def allocate_tensors(self):
            pass

        def get_input_details(self):
            return [{"name": "image", "shape": list(meta.input_shape), "dtype": np.float32, "index": 0}]

        def get_output_details(self):
            return [{"name": "Identity", "shape": [1, 34, 8, 16], "index": 1},
                    {"name": "Identity_1", "shape": list(meta.output_shapes()[1]), "index": 2}]

    path = tmp_path / "m.tflite"
    path.write_bytes(b"stand-in")
    monkeypatch.setattr(tfl, "read_tflite_metadata", lambda content: {METADATA_KEY: meta.to_json().encode()})
    monkeypatch.setattr(tfl, "_interpreter_module", lambda: (type("M", (), {"Interpreter": Interpreter}), "fake"))
    with pytest.raises(BackendError, match=r"outputs do not match its litepose metadata: output shapes "
                                           r"\[\[1, 34, 8, 16\], \[1, 14, 16, 32\]\]"):
        tfl.TFLiteBackend(str(path))


def test_onnx_named_as_an_engine_gets_a_build_command_that_keeps_it(tmp_path, meta):
    """Issue 22 item 14: the hint used to build 'model.engine' from itself (same --onnx and --output)."""
    path = tmp_path / "model.engine"
    patch_mean_model(meta, path)
    with pytest.raises(BackendError) as error:
        create_backend(str(path), backend="tensorrt")
    message = str(error.value)
    onnx_path = str(tmp_path / "model.onnx")
    assert "rename it to {}".format(onnx_path) in message
    assert "--onnx {} --output {}".format(onnx_path, path) in message


def test_model_path_that_is_a_directory_is_named_so(tmp_path):
    with pytest.raises(BackendError, match="is a directory, not a file"):
        create_backend(str(tmp_path), backend="onnxruntime")
