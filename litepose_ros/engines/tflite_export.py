"""PyTorch -> LiteRT (.tflite) in fp32, fp16 weights or int8, with metadata and a parity check.

* fp32: ``litert_torch.convert`` of the BN-folded model (NCHW input, as the ONNX export);
* fp16: fp16 weights (float compute) via ``ai_edge_quantizer``'s float-casting weight-only recipe;
* int8: static int8 weights and activations via ``ai_edge_quantizer``, calibrated on REAL
  frames preprocessed exactly as at run time (never on noise unless the caller asks).

The ``ModelMetadata`` JSON goes into the flatbuffer's ``Model.metadata`` list under
``METADATA_KEY`` (the schema's own place for named metadata, which TFLite support tools use
too). Success is only reported after the written file, read back by ``TFLiteBackend``, agrees
with PyTorch: max |diff| <= 1e-4 for fp32; decoded-people agreement for fp16 and int8.
"""
import os
from typing import Any, Iterable, List, NamedTuple, Optional, Sequence

import numpy as np
import torch
from torch import nn

from ..common.metadata import METADATA_KEY, ModelMetadata
from ..image.preprocess import Preprocessor
from ..model.fuse import fuse_batchnorm

PRECISIONS = ("fp32", "fp16", "int8")
FP32_TOLERANCE = 1e-4
# fp16 weights change heatmaps by ~1e-3; int8 far more. What matters is that the people stay.
PEOPLE_MIN_OKS = {"fp16": 0.9, "int8": 0.75}
HEATMAP_TOLERANCE = {"fp16": 0.02, "int8": 0.1}
SIGNATURE = "serving_default"


class TFLiteExportError(RuntimeError):
    """Conversion failed, or the converted model does not match PyTorch."""


class TFLiteReport(NamedTuple):
    path: str
    precision: str
    size_bytes: int
    fp32_max_abs_diff: Optional[float]
    verify: Any  # VerifyReport for fp16/int8, else None
    calibration_images: int
    passed: bool

    def summary(self) -> str:
        if self.verify is None:
            return "LiteRT vs PyTorch on a fixed input: max |diff| {:.3g} (tolerance {:g})".format(
                self.fp32_max_abs_diff, FP32_TOLERANCE)
        return "LiteRT {} vs PyTorch:\n{}".format(self.precision, self.verify.summary())


def convert_fp32(model: nn.Module, metadata: ModelMetadata) -> bytes:
    import litert_torch

    from ..export.onnx_export import parity_input

    sample = torch.from_numpy(parity_input(metadata))
    edge = litert_torch.convert(fuse_batchnorm(model).eval(), (sample,))
    return bytes(edge.model_content())


def quantize_fp16(content: bytes) -> bytes:
    from ai_edge_quantizer import qtyping, quantizer

    q = quantizer.Quantizer(bytearray(content))
    q.add_weight_only_config(regex=".*", operation_name=qtyping.TFLOperationName.ALL_SUPPORTED, num_bits=16,
                             algorithm_key=quantizer.AlgorithmName.FLOAT_CASTING)
    return bytes(q.quantize(enable_progress_bar=False, enable_progress_report=False).quantized_model)


def quantize_int8(content: bytes, calibration: Sequence[np.ndarray]) -> bytes:
    """Static int8 (weights and activations, int8 I/O); ``calibration`` are preprocessed input tensors."""
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer, recipe

    if not len(calibration):
        raise TFLiteExportError("int8 needs calibration images")
    signature = Interpreter(model_content=content).get_signature_list()[SIGNATURE]
    input_name = signature["inputs"][0]
    q = quantizer.Quantizer(bytearray(content), recipe.static_wi8_ai8())
    data = {SIGNATURE: [{input_name: tensor} for tensor in calibration]}
    result = q.calibrate(data, num_threads=max(1, os.cpu_count() or 1))
    return bytes(q.quantize(result, enable_progress_bar=False, enable_progress_report=False).quantized_model)


def embed_metadata(content: bytes, metadata: ModelMetadata) -> bytes:
    """Add (or replace) the ``METADATA_KEY`` entry in the flatbuffer's named metadata."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    if any((b.offset or 0) > 1 for b in model.buffers or []):
        raise TFLiteExportError("cannot embed metadata: the model keeps buffers outside the flatbuffer")
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(metadata.to_json().encode("utf-8"), np.uint8)
    model.buffers = list(model.buffers or []) + [buffer]
    entry = schema.MetadataT()
    entry.name = METADATA_KEY
    entry.buffer = len(model.buffers) - 1
    others = [m for m in (model.metadata or []) if _name(m.name) != METADATA_KEY]
    model.metadata = others + [entry]
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _name(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def calibration_tensors(images: Iterable[np.ndarray], metadata: ModelMetadata) -> List[np.ndarray]:
    preprocess = Preprocessor(metadata)
    return [preprocess(image)[0] for image in images]


def _fp32_parity(path: str, model: nn.Module, metadata: ModelMetadata) -> float:
    from ..backends.tflite_backend import TFLiteBackend
    from ..export.onnx_export import parity_input

    tensor = parity_input(metadata)
    with torch.no_grad():
        expected = [t.numpy() for t in model.eval()(torch.from_numpy(tensor))]
    backend = TFLiteBackend(path, threads=1, xnnpack=False)
    found = backend.run(tensor)
    return max(float(np.max(np.abs(f - e))) for f, e in zip(found, expected))


def _people_parity(path: str, model: nn.Module, metadata: ModelMetadata, precision: str,
                   images: Sequence[np.ndarray]) -> Any:
    from ..backends.tflite_backend import TFLiteBackend
    from ..export.verify import Tolerance, compare_backends
    from .torch_backend import TorchBackend

    tolerance = Tolerance(heatmap_max_abs=HEATMAP_TOLERANCE[precision], min_oks=PEOPLE_MIN_OKS[precision])
    return compare_backends(TFLiteBackend(path, threads=1, xnnpack=False), TorchBackend(model, metadata),
                            images, tolerance)


def export_tflite(model: nn.Module, metadata: ModelMetadata, output_path: str, precision: str = "fp32",
                  calibration_images: Sequence[np.ndarray] = (), check_images: Sequence[np.ndarray] = (),
                  strict_people: bool = True) -> TFLiteReport:
    """Convert, quantise, embed metadata, write ``output_path`` and check it against ``model``.

    ``calibration_images`` (BGR) are required for int8. ``check_images`` (BGR; default: the
    calibration images) drive the fp16/int8 people comparison. With ``strict_people`` False
    (random weights, whose "people" are noise) a failed people comparison is reported, not raised.
    Raises ``TFLiteExportError`` and removes the file when a required check fails.
    """
    if precision not in PRECISIONS:
        raise TFLiteExportError("precision must be one of {}, got {!r}".format(PRECISIONS, precision))
    model = model.eval()
    # Metadata first: the quantiser keeps named metadata, but moves weights out of the flatbuffer
    # (buffer offsets), which a repack through the object API would break.
    content = embed_metadata(convert_fp32(model, metadata), metadata)
    if precision == "fp16":
        content = quantize_fp16(content)
    elif precision == "int8":
        content = quantize_int8(content, calibration_tensors(calibration_images, metadata))
    directory = os.path.dirname(os.path.abspath(output_path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with open(output_path, "wb") as handle:
        handle.write(content)
    try:
        report = _check(output_path, model, metadata, precision, check_images or calibration_images,
                        len(calibration_images))
    except BaseException:
        os.remove(output_path)
        raise
    if not report.passed and (precision == "fp32" or strict_people):
        os.remove(output_path)
        raise TFLiteExportError("the {} model disagrees with PyTorch, file removed.\n{}".format(
            precision, report.summary()))
    return report


def _check(path: str, model: nn.Module, metadata: ModelMetadata, precision: str,
           images: Sequence[np.ndarray], calibration_count: int) -> TFLiteReport:
    size = os.path.getsize(path)
    if precision == "fp32":
        diff = _fp32_parity(path, model, metadata)
        return TFLiteReport(path, precision, size, diff, None, 0, diff <= FP32_TOLERANCE)
    verdict = _people_parity(path, model, metadata, precision, images)
    return TFLiteReport(path, precision, size, None, verdict, calibration_count, verdict.passed)
