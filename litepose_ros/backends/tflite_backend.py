"""TFLite / LiteRT backend (Raspberry Pi and other CPUs).

Uses ``ai_edge_litert`` and falls back to ``tflite_runtime`` (what older Pi images have).
Handles NCHW or NHWC inputs, int8/uint8 quantised inputs and outputs (scale, zero point),
and outputs in any order or layout (matched by shape, see ``order_outputs``). The model
metadata is read straight from the flatbuffer, so no TensorFlow or schema package is needed.
"""
import struct
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..common.metadata import METADATA_KEY, ModelMetadata, ModelMetadataError
from .base import Backend, BackendError, order_outputs, output_differences, register_backend

# Field numbers in the TFLite schema (schema.fbs): Model.buffers, Model.metadata,
# Metadata.name, Metadata.buffer, Buffer.data, Buffer.offset, Buffer.size.
_MODEL_BUFFERS, _MODEL_METADATA = 4, 6
_METADATA_NAME, _METADATA_BUFFER = 0, 1
_BUFFER_DATA, _BUFFER_OFFSET, _BUFFER_SIZE = 0, 1, 2


class _Table(object):
    """Just enough of the flatbuffers wire format to read a table's fields."""

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self.vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vtable_size = struct.unpack_from("<H", buf, self.vtable)[0]

    def _field(self, index: int) -> int:
        entry = 4 + 2 * index
        if entry >= self.vtable_size:
            return 0
        offset = struct.unpack_from("<H", self.buf, self.vtable + entry)[0]
        return self.pos + offset if offset else 0

    def _indirect(self, at: int) -> int:
        return at + struct.unpack_from("<I", self.buf, at)[0]

    def scalar(self, index: int, fmt: str, default: int = 0) -> int:
        at = self._field(index)
        return struct.unpack_from(fmt, self.buf, at)[0] if at else default

    def vector(self, index: int) -> Tuple[int, int]:
        """(position of the first element, length), or (0, 0) when absent."""
        at = self._field(index)
        if not at:
            return 0, 0
        start = self._indirect(at)
        return start + 4, struct.unpack_from("<I", self.buf, start)[0]

    def table_vector(self, index: int) -> list:
        start, length = self.vector(index)
        return [_Table(self.buf, self._indirect(start + 4 * i)) for i in range(length)]

    def string(self, index: int) -> Optional[str]:
        start, length = self.vector(index)
        return self.buf[start:start + length].decode("utf-8") if start else None


def read_tflite_metadata(content: bytes) -> Dict[str, bytes]:
    """All named metadata entries of a TFLite flatbuffer (``Model.metadata``) as {name: bytes}."""
    buf = bytes(content)
    if len(buf) < 8:
        raise ValueError("not a TFLite model (too short)")
    model = _Table(buf, struct.unpack_from("<I", buf, 0)[0])
    buffers = model.table_vector(_MODEL_BUFFERS)
    entries = {}  # type: Dict[str, bytes]
    for entry in model.table_vector(_MODEL_METADATA):
        name = entry.string(_METADATA_NAME)
        index = entry.scalar(_METADATA_BUFFER, "<I")
        if name is None or index >= len(buffers):
            continue
        buffer = buffers[index]
        offset = buffer.scalar(_BUFFER_OFFSET, "<Q")
        if offset > 1:  # large models keep buffer data after the flatbuffer, addressed from the file start
            entries[name] = buf[offset:offset + buffer.scalar(_BUFFER_SIZE, "<Q")]
        else:
            start, length = buffer.vector(_BUFFER_DATA)
            entries[name] = buf[start:start + length]
    return entries


def _interpreter_module() -> Tuple[Any, str]:
    try:
        from ai_edge_litert import interpreter as module

        return module, "ai_edge_litert"
    except ImportError:
        pass
    try:
        from tflite_runtime import interpreter as module

        return module, "tflite_runtime"
    except ImportError:
        raise BackendError("no TFLite runtime: pip install ai-edge-litert (or tflite-runtime on older Pi OS)") from None


def make_interpreter(module: Any, model_path: str, threads: int, xnnpack: bool) -> Any:
    """An interpreter with or without the default XNNPACK delegate."""
    kwargs = {"model_path": model_path}  # type: Dict[str, Any]
    if threads > 0:
        kwargs["num_threads"] = threads
    if not xnnpack:
        resolver = getattr(module, "OpResolverType", None)
        if resolver is None:
            raise BackendError("this TFLite runtime cannot disable XNNPACK (no OpResolverType); upgrade it")
        kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    return module.Interpreter(**kwargs)


def quantize(array: np.ndarray, detail: Dict[str, Any]) -> np.ndarray:
    """float -> the tensor's integer type with its (scale, zero point); floats pass through."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return array.astype(dtype, copy=False)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(array / scale) + zero_point, info.min, info.max).astype(dtype)


def dequantize(array: np.ndarray, detail: Dict[str, Any]) -> np.ndarray:
    if np.dtype(detail["dtype"]).kind == "f":
        return array.astype(np.float32, copy=False)
    scale, zero_point = detail["quantization"]
    return ((array.astype(np.float32) - zero_point) * scale).astype(np.float32)


class TFLiteBackend(Backend):
    name = "tflite"
    file_kind = "tflite"

    def __init__(self, model_path: str, threads: int = 0, xnnpack: bool = True) -> None:
        super(TFLiteBackend, self).__init__(model_path)
        with open(model_path, "rb") as handle:
            content = handle.read()
        try:
            entries = read_tflite_metadata(content)
            text = entries.get(METADATA_KEY, b"").decode("utf-8")
            self.metadata = ModelMetadata.from_json(text, source=model_path)
        except (ValueError, struct.error) as error:  # ModelMetadataError is a ValueError
            if isinstance(error, ModelMetadataError):
                raise BackendError(str(error)) from None
            raise BackendError("{} is not a readable TFLite model: {}".format(model_path, error)) from None
        module, self.runtime = _interpreter_module()
        self.xnnpack = xnnpack
        try:
            self._interpreter = make_interpreter(module, model_path, threads, xnnpack)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise BackendError("cannot load TFLite model {}: {}".format(model_path, error)) from None
        self._input = self._input_detail()
        self._outputs = self._interpreter.get_output_details()
        # converters rename outputs, so only their shapes can be checked
        problems = output_differences([(d["name"], [int(v) for v in d["shape"]]) for d in self._outputs],
                                      self.metadata, by_name=False)
        if problems:
            raise BackendError("{}: the model's outputs do not match its litepose metadata: {}. Re-export it with "
                               "`litepose export-tflite`".format(model_path, "; ".join(problems)))

    def _input_detail(self) -> Dict[str, Any]:
        inputs = self._interpreter.get_input_details()
        n, c, h, w = self.metadata.input_shape
        if len(inputs) != 1 or tuple(inputs[0]["shape"]) not in ((n, c, h, w), (n, h, w, c)):
            raise BackendError("{}: expected one input of shape {} (or NHWC), found {}".format(
                self.model_path, [n, c, h, w], [(i["name"], list(i["shape"])) for i in inputs]))
        detail = dict(inputs[0])
        detail["nhwc"] = tuple(inputs[0]["shape"]) != (n, c, h, w)
        return detail

    def run(self, tensor: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        if self._input["nhwc"]:
            tensor = np.ascontiguousarray(np.transpose(tensor, (0, 2, 3, 1)))
        self._interpreter.set_tensor(self._input["index"], quantize(tensor, self._input))
        self._interpreter.invoke()
        outputs = [dequantize(self._interpreter.get_tensor(d["index"]), d) for d in self._outputs]
        return order_outputs(outputs, self.metadata)

    def describe(self) -> str:
        return "{}; {} ({}), XNNPACK {}".format(
            super(TFLiteBackend, self).describe(), self.runtime, np.dtype(self._input["dtype"]).name,
            "on" if self.xnnpack else "off")


register_backend("tflite", TFLiteBackend, suffixes=(".tflite",))
