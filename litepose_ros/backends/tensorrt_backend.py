"""TensorRT backend (Jetson): a serialised engine + its sidecar, run with pycuda.

Supports two TensorRT Python API families, chosen once by capability (not by version string):

* tensor API (TensorRT 8.5, 8.6, 10.x): ``num_io_tensors`` / ``get_tensor_name`` /
  ``set_tensor_address`` / ``execute_async_v3``;
* binding API (TensorRT 8.0 - 8.4, JetPack 4.6 on Python 3.6): ``num_bindings`` /
  ``get_binding_index`` / ``execute_async_v2``.

Inputs and outputs are always matched by tensor name; the ONNX export fixes the names and
the engine builder may reorder them. ``tensorrt`` and ``pycuda`` are imported only when an
engine is loaded, so this module imports (and its logic is testable) anywhere.
"""
import threading
from typing import Any, Dict, List, NamedTuple, Sequence, Tuple  # noqa: F401  (Dict: type comments)

import numpy as np

from .base import Backend, BackendError, output_differences, register_backend, tensor_differences
from .sidecar import (
    EngineSidecar,
    SidecarError,
    check_compatible,
    format_compute_capability,
    read_sidecar,
    rebuild_command,
)


class IOTensor(NamedTuple):
    name: str
    is_input: bool
    shape: Tuple[int, ...]
    dtype: Any  # numpy dtype


class TensorApi(object):
    """TensorRT >= 8.5: I/O addressed by name."""

    family = "tensor"
    ENGINE_CALLS = ("num_io_tensors", "get_tensor_name", "get_tensor_mode", "get_tensor_shape",
                    "get_tensor_dtype", "create_execution_context")
    CONTEXT_CALLS = ("set_tensor_address", "execute_async_v3")

    def __init__(self, trt: Any, engine: Any, context: Any) -> None:
        self.trt, self.engine, self.context = trt, engine, context
        self._addresses = {}  # type: Dict[str, int]

    def io_tensors(self) -> List[IOTensor]:
        tensors = []
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            is_input = self.engine.get_tensor_mode(name) == self.trt.TensorIOMode.INPUT
            shape = tuple(int(d) for d in self.engine.get_tensor_shape(name))
            dtype = np.dtype(self.trt.nptype(self.engine.get_tensor_dtype(name)))
            tensors.append(IOTensor(name, is_input, shape, dtype))
        return tensors

    def bind(self, name: str, device_address: int) -> None:
        self.context.set_tensor_address(name, int(device_address))
        self._addresses[name] = int(device_address)

    def execute(self, stream_handle: int) -> bool:
        return bool(self.context.execute_async_v3(stream_handle))


class BindingApi(object):
    """TensorRT 8.0 - 8.4: I/O addressed by binding index, looked up by name."""

    family = "binding"
    ENGINE_CALLS = ("num_bindings", "get_binding_name", "binding_is_input", "get_binding_shape",
                    "get_binding_dtype", "get_binding_index", "create_execution_context")
    CONTEXT_CALLS = ("execute_async_v2",)

    def __init__(self, trt: Any, engine: Any, context: Any) -> None:
        self.trt, self.engine, self.context = trt, engine, context
        self._bindings = [0] * int(engine.num_bindings)

    def io_tensors(self) -> List[IOTensor]:
        tensors = []
        for i in range(self.engine.num_bindings):
            name = self.engine.get_binding_name(i)
            shape = tuple(int(d) for d in self.engine.get_binding_shape(i))
            dtype = np.dtype(self.trt.nptype(self.engine.get_binding_dtype(i)))
            tensors.append(IOTensor(name, bool(self.engine.binding_is_input(i)), shape, dtype))
        return tensors

    def bind(self, name: str, device_address: int) -> None:
        index = self.engine.get_binding_index(name)
        if index < 0:
            raise BackendError("engine has no binding named {!r}".format(name))
        self._bindings[index] = int(device_address)

    def execute(self, stream_handle: int) -> bool:
        return bool(self.context.execute_async_v2(bindings=self._bindings, stream_handle=stream_handle))


def select_api(trt: Any, engine: Any, context: Any) -> Any:
    """The API adapter this TensorRT supports; the tensor API wins where both exist (8.5, 8.6)."""
    if hasattr(engine, "num_io_tensors") and hasattr(context, "execute_async_v3"):
        return TensorApi(trt, engine, context)
    if hasattr(engine, "get_binding_index") and hasattr(context, "execute_async_v2"):
        return BindingApi(trt, engine, context)
    raise BackendError("unsupported TensorRT Python API (neither execute_async_v3 nor execute_async_v2 found)")


def check_io(tensors: Sequence[IOTensor], sidecar: EngineSidecar, engine_path: str) -> None:
    """The engine's I/O must be the metadata's names and shapes (names decide, never positions)."""
    metadata = sidecar.metadata
    problems = tensor_differences({t.name: t.shape for t in tensors if t.is_input},
                                  {metadata.input_name: tuple(metadata.input_shape)}, "input")
    problems += output_differences([(t.name, t.shape) for t in tensors if not t.is_input], metadata)
    if problems:
        raise BackendError(
            "TensorRT engine {} does not match its model metadata: {}. The engine and sidecar do not belong "
            "together (or the ONNX was not made by `litepose export`); rebuild:\n  {}".format(
                engine_path, "; ".join(problems), sidecar.rebuild_command(engine_path))
        )


def _import_runtime() -> Tuple[Any, Any]:
    """(tensorrt, pycuda.driver), or BackendError saying what to install."""
    try:
        import tensorrt as trt
    except ImportError:
        raise BackendError("TensorRT's Python bindings are not installed; on a Jetson they come with JetPack "
                           "(python3-libnvinfer)") from None
    if not hasattr(trt, "Runtime"):  # e.g. only the tensorrt-stubs package, which installs a bare namespace
        raise BackendError("the `tensorrt` module found at {} is not the TensorRT runtime (type stubs only?)".format(
            ", ".join(str(p) for p in getattr(trt, "__path__", [])) or getattr(trt, "__file__", "?")))
    try:
        import pycuda.driver as cuda
    except ImportError:
        raise BackendError("pycuda is not installed: pip3 install pycuda") from None
    return trt, cuda


def _no_runtime_message(engine_path: str, problem: str) -> str:
    return ("{} is to be run as a TensorRT engine, but {}. An engine runs only on the TensorRT release and GPU that "
            "built it: on the Jetson, build it there with\n  {}\nOn a machine without TensorRT, run the ONNX export "
            "instead (backend onnxruntime, model_path:=MODEL.onnx).".format(
                engine_path, problem, rebuild_command(engine_path)))


def _make_logger(trt: Any) -> Any:
    """A TensorRT logger that also keeps errors, to quote them when deserialisation fails."""

    class CollectingLogger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.messages = []  # type: List[str]

        def log(self, severity: Any, msg: str) -> None:
            if int(severity) <= int(trt.Logger.WARNING):
                self.messages.append(str(msg))

    return CollectingLogger()


class TensorRTBackend(Backend):
    name = "tensorrt"
    file_kind = "engine"

    def __init__(self, model_path: str, threads: int = 0, device: int = 0) -> None:
        super(TensorRTBackend, self).__init__(model_path)
        del threads  # the GPU does the work; the parameter exists for the common interface
        try:  # first: without TensorRT the engine cannot run here whatever its sidecar says
            self._trt, self._cuda = _import_runtime()
        except BackendError as error:
            raise BackendError(_no_runtime_message(model_path, str(error))) from None
        try:
            self.sidecar = read_sidecar(model_path)
        except SidecarError as error:
            raise BackendError(str(error)) from None
        self.metadata = self.sidecar.metadata
        self._lock = threading.Lock()
        self._device_buffers = []  # type: List[Any]
        self._cuda.init()
        self._gpu = gpu = self._cuda.Device(device)
        self.gpu_name = str(gpu.name())
        # The primary context is shared with anything else in the process; pushed per call, so
        # run() works from any thread (ROS executors call back from their own threads).
        self._cuda_context = gpu.retain_primary_context()
        self._cuda_context.push()
        try:
            self._check_device()
            self._load_engine()
        except BaseException:
            self._release()
            raise
        finally:
            self._cuda_context.pop()

    def _check_device(self) -> None:
        capability = format_compute_capability(self._gpu.compute_capability())
        try:
            check_compatible(self.sidecar, self.model_path, self._trt.__version__, self.gpu_name, capability)
        except SidecarError as error:
            raise BackendError(str(error)) from None

    def _load_engine(self) -> None:
        trt = self._trt
        self._logger = _make_logger(trt)
        self._runtime = trt.Runtime(self._logger)
        with open(self.model_path, "rb") as handle:
            plan = handle.read()
        try:
            engine = self._runtime.deserialize_cuda_engine(plan)
        except Exception as error:  # some releases raise instead of returning None
            self._logger.messages.append(str(error))
            engine = None
        if engine is None:
            raise BackendError(
                "TensorRT {} could not deserialise {} ({}). The engine was probably built by another TensorRT "
                "release or on another GPU; rebuild it on this device:\n  {}".format(
                    trt.__version__, self.model_path, " | ".join(self._logger.messages[-3:]) or "no details",
                    self.sidecar.rebuild_command(self.model_path))
            )
        self._engine = engine
        self._context = engine.create_execution_context()
        self._api = select_api(trt, engine, self._context)
        tensors = self._api.io_tensors()
        check_io(tensors, self.sidecar, self.model_path)
        self._allocate(tensors)

    def _allocate(self, tensors: Sequence[IOTensor]) -> None:
        cuda = self._cuda
        self._stream = cuda.Stream()
        self._host = {}  # type: Dict[str, np.ndarray]
        self._device = {}  # type: Dict[str, Any]
        for tensor in tensors:
            host = cuda.pagelocked_empty(tensor.shape, tensor.dtype)
            device = cuda.mem_alloc(host.nbytes)
            self._device_buffers.append(device)
            self._host[tensor.name] = host
            self._device[tensor.name] = device
            self._api.bind(tensor.name, int(device))
        self._input_name = self.metadata.input_name
        self._output_names = list(self.metadata.output_names)

    @property
    def api_family(self) -> str:
        return self._api.family

    def run(self, tensor: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        cuda = self._cuda
        host_in = self._host[self._input_name]
        if tuple(tensor.shape) != host_in.shape:
            raise BackendError("input shape {} != engine input {}".format(tuple(tensor.shape), host_in.shape))
        with self._lock:
            self._cuda_context.push()
            try:
                np.copyto(host_in, tensor, casting="same_kind")
                cuda.memcpy_htod_async(self._device[self._input_name], host_in, self._stream)
                if not self._api.execute(self._stream.handle):
                    raise BackendError("TensorRT failed to enqueue {}".format(self.model_path))
                for name in self._output_names:
                    cuda.memcpy_dtoh_async(self._host[name], self._device[name], self._stream)
                self._stream.synchronize()
                outputs = [np.array(self._host[name], dtype=np.float32) for name in self._output_names]
            finally:
                self._cuda_context.pop()
        return outputs[0], outputs[1]

    def describe(self) -> str:
        return "{}; TensorRT {} ({} API), {} on {}".format(
            super(TensorRTBackend, self).describe(), self._trt.__version__, self._api.family,
            self.sidecar.precision, self.gpu_name)

    def _release(self) -> None:
        for device in self._device_buffers:
            device.free()
        self._device_buffers = []
        for attr in ("_context", "_engine", "_runtime"):
            if hasattr(self, attr):
                delattr(self, attr)  # TensorRT objects must die while the CUDA context is current

    def close(self) -> None:
        if not hasattr(self, "_cuda_context"):
            return
        with self._lock:
            self._cuda_context.push()
            try:
                self._release()
            finally:
                self._cuda_context.pop()


register_backend("tensorrt", TensorRTBackend, suffixes=(".engine", ".plan", ".trt"))
