"""Backend registry, output matching and load errors, with a tiny hand-built ONNX model."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from litepose_ros.backends import BackendError, backend_for_file, create_backend, order_outputs
from litepose_ros.metadata import METADATA_KEY, ModelMetadata


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
