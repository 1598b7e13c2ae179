"""TensorRT backend and builder logic without a GPU: sidecar, checks, API selection, name mapping.

The engine/context fakes mimic the two TensorRT Python API families. The tensor-API (10.x)
surface is also checked against real, installable API surfaces: the ``tensorrt_lean`` runtime
bindings (a compiled module of TensorRT 10.x) and the ``tensorrt-stubs`` type stubs (full API
including the builder and ONNX parser). No installable surface exists for TensorRT 8.x: its
binding-API fakes follow NVIDIA's 8.x Python API documentation.
"""
import ast
import inspect
import json
import os
import re
import textwrap
import types

import numpy as np
import pytest

from litepose_ros.backends import base, create_backend
from litepose_ros.backends import sidecar as sc
from litepose_ros.backends import tensorrt_backend as trt_backend
from litepose_ros.backends.base import BackendError
from litepose_ros.common.metadata import ModelMetadata
from litepose_ros.engines import tensorrt_build

META = ModelMetadata.for_dataset("XS", "crowdpose", 64, 64, weights="test")
GPU, CC, VERSION = "Orin", (8, 7), "10.3.0.30"


# ---------------------------------------------------------------- fakes (pycuda + tensorrt)
class FakeDeviceMemory(object):
    def __init__(self, nbytes, registry):
        self.nbytes, self.data, self.freed = nbytes, None, False
        self.address = 0x1000 + 0x100 * len(registry)
        registry[self.address] = self

    def __int__(self):
        return self.address

    def free(self):
        self.freed = True


def make_cuda(gpu_name=GPU, capability=CC):
    registry = {}
    pushes = []

    class Context(object):
        def push(self):
            pushes.append(1)

        def pop(self):
            pushes.append(-1)

    class Device(object):
        def __init__(self, index):
            self.index = index

        def name(self):
            return gpu_name

        def compute_capability(self):
            return capability

        def retain_primary_context(self):
            return Context()

    class Stream(object):
        handle = 1234

        def synchronize(self):
            pass

    def memcpy_htod_async(dest, src, stream):
        assert stream.handle == 1234
        dest.data = np.array(src, copy=True)

    def memcpy_dtoh_async(dest, src, stream):
        dest[...] = src.data.reshape(dest.shape)

    return types.SimpleNamespace(
        init=lambda: None, Device=Device, Stream=Stream, registry=registry, pushes=pushes,
        pagelocked_empty=lambda shape, dtype: np.zeros(shape, dtype),
        mem_alloc=lambda nbytes: FakeDeviceMemory(nbytes, registry),
        memcpy_htod_async=memcpy_htod_async, memcpy_dtoh_async=memcpy_dtoh_async,
    )


def io_spec(metadata=META, order=("heatmaps_highres", "image", "heatmaps_tags")):
    """Engine I/O in a deliberately different order from the metadata's."""
    shapes = {metadata.input_name: metadata.input_shape}
    shapes.update(zip(metadata.output_names, metadata.output_shapes()))
    return [(name, name == metadata.input_name, tuple(shapes[name])) for name in order]


def compute(inputs, registry, addresses):
    """What the fake GPU computes: each output filled with a value that identifies it."""
    image = registry[addresses["image"]].data
    for name, value in (("heatmaps_tags", 1.0), ("heatmaps_highres", 2.0)):
        memory = registry[addresses[name]]
        shape = [s for n, _, s in inputs if n == name][0]
        memory.data = np.full(shape, value + float(image.mean()), np.float32)


class TensorEngine(object):
    """TensorRT 8.5+/10.x ICudaEngine (tensor API only)."""

    def __init__(self, spec, registry, context_cls):
        self.spec, self.registry, self.context_cls = spec, registry, context_cls

    @property
    def num_io_tensors(self):
        return len(self.spec)

    def get_tensor_name(self, index):
        return self.spec[index][0]

    def get_tensor_mode(self, name):
        return "IN" if dict((n, i) for n, i, _ in self.spec)[name] else "OUT"

    def get_tensor_shape(self, name):
        return [s for n, _, s in self.spec if n == name][0]

    def get_tensor_dtype(self, name):
        return "float32"

    def create_execution_context(self):
        return self.context_cls(self)


class TensorContext(object):
    def __init__(self, engine):
        self.engine, self.addresses = engine, {}

    def set_tensor_address(self, name, address):
        self.addresses[name] = address

    def execute_async_v3(self, stream_handle):
        compute(self.engine.spec, self.engine.registry, self.addresses)
        return True


class BindingEngine(object):
    """TensorRT 8.0-8.4 ICudaEngine (binding API only)."""

    def __init__(self, spec, registry, context_cls):
        self.spec, self.registry, self.context_cls = spec, registry, context_cls

    @property
    def num_bindings(self):
        return len(self.spec)

    def get_binding_name(self, index):
        return self.spec[index][0]

    def binding_is_input(self, index):
        return self.spec[index][1]

    def get_binding_shape(self, index):
        return self.spec[index][2]

    def get_binding_dtype(self, index):
        return "float32"

    def get_binding_index(self, name):
        names = [n for n, _, _ in self.spec]
        return names.index(name) if name in names else -1

    def create_execution_context(self):
        return self.context_cls(self)


class BindingContext(object):
    def __init__(self, engine):
        self.engine = engine

    def execute_async_v2(self, bindings, stream_handle):
        addresses = {n: bindings[i] for i, (n, _, _) in enumerate(self.engine.spec)}
        compute(self.engine.spec, self.engine.registry, addresses)
        return True


class BothEngine(TensorEngine, BindingEngine):
    """TensorRT 8.5/8.6 have both families."""


class BothContext(TensorContext, BindingContext):
    pass


def make_trt(engine_cls=TensorEngine, context_cls=TensorContext, spec=None, version=VERSION, registry=None,
             deserialise_ok=True):
    class ILogger(object):
        def __init__(self):
            pass

    class Runtime(object):
        def __init__(self, logger):
            self.logger = logger

        def deserialize_cuda_engine(self, plan):
            if not deserialise_ok:
                self.logger.log(1, "The engine plan file is not compatible with this version of TensorRT")
                return None
            return engine_cls(spec or io_spec(), registry, context_cls)

    return types.SimpleNamespace(
        __version__=version, ILogger=ILogger, Logger=types.SimpleNamespace(WARNING=2), Runtime=Runtime,
        TensorIOMode=types.SimpleNamespace(INPUT="IN", OUTPUT="OUT"), nptype=lambda dtype: np.float32,
    )


@pytest.fixture
def engine_file(tmp_path):
    path = str(tmp_path / "xs.engine")
    with open(path, "wb") as handle:
        handle.write(b"plan")
    sidecar = sc.EngineSidecar(VERSION, GPU, "8.7", "fp16", META, "ab" * 32, onnx_path="/models/xs.onnx",
                               workspace_mb=512)
    sc.write_sidecar(path, sidecar)
    return path


def install(monkeypatch, trt, cuda):
    monkeypatch.setattr(trt_backend, "_import_runtime", lambda: (trt, cuda))


# ---------------------------------------------------------------- sidecar
def test_sidecar_round_trip(engine_file):
    loaded = sc.read_sidecar(engine_file)
    assert loaded.metadata == META
    assert (loaded.tensorrt_version, loaded.gpu_name, loaded.compute_capability) == (VERSION, GPU, "8.7")
    data = json.load(open(sc.sidecar_path(engine_file)))
    assert data["input_shape"] == [1, 3, 64, 64]
    assert data["output_shapes"] == [[1, 28, 16, 16], [1, 14, 32, 32]]
    assert data["onnx_sha256"] == "ab" * 32 and data["precision"] == "fp16" and data["built_at"].endswith("Z")
    assert loaded.rebuild_command(engine_file) == \
        "litepose build-engine --onnx /models/xs.onnx --output {} --fp16 --workspace 512".format(engine_file)


def test_tensorrt_version_comparison():
    assert sc.same_tensorrt_version("8.2.1.8", "8.2.1.8")
    assert sc.same_tensorrt_version("10.3.0", "10.3.0.post1")
    assert not sc.same_tensorrt_version("8.2.1.8", "8.2.1.9")
    assert not sc.same_tensorrt_version("8.5.2", "10.3.0")


def test_missing_sidecar_names_the_rebuild_command(monkeypatch, tmp_path):
    cuda = make_cuda()
    install(monkeypatch, make_trt(registry=cuda.registry), cuda)
    path = str(tmp_path / "lost.engine")
    open(path, "wb").write(b"plan")
    with pytest.raises(BackendError) as error:
        trt_backend.TensorRTBackend(path)
    assert "has no sidecar" in str(error.value)
    assert "litepose build-engine --onnx MODEL.onnx --output " + path in str(error.value)


def test_engine_without_tensorrt_says_what_the_file_is_and_what_to_run(monkeypatch, engine_file):
    """Without TensorRT the sidecar does not matter: say that, not "missing sidecar" (issue 14, item 8)."""
    def no_tensorrt():
        raise BackendError("TensorRT's Python bindings are not installed; on a Jetson they come with JetPack")

    monkeypatch.setattr(trt_backend, "_import_runtime", no_tensorrt)
    for path in (engine_file, engine_file.replace("xs.engine", "bare.engine")):
        open(path, "ab").close()
        with pytest.raises(BackendError) as error:
            trt_backend.TensorRTBackend(path)
        message = str(error.value)
        assert message.startswith(path + " is to be run as a TensorRT engine, but TensorRT's Python bindings are "
                                         "not installed")
        assert "litepose build-engine --onnx MODEL.onnx --output " + path in message
        assert "run the ONNX export instead (backend onnxruntime" in message and "sidecar" not in message


def test_onnx_or_tflite_given_to_tensorrt_is_named(tmp_path):
    onnx_path = tmp_path / "xs.onnx"
    onnx_path.write_bytes(b"\x08\x07\x12\x07pytorch")  # ModelProto: ir_version 7, producer_name
    with pytest.raises(BackendError) as error:
        create_backend(str(onnx_path), backend="tensorrt")
    message = str(error.value)
    assert message.startswith("{} is an ONNX file, not a TensorRT engine".format(onnx_path))
    assert "build-engine --onnx {} --output {}".format(onnx_path, tmp_path / "xs.engine") in message
    tflite_path = tmp_path / "xs.tflite"
    tflite_path.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(32))
    with pytest.raises(BackendError, match="is a TFLite file, not a TensorRT engine.*backend tflite"):
        create_backend(str(tflite_path), backend="tensorrt")


@pytest.mark.parametrize("version, gpu, capability, words", [
    ("8.6.2.3", GPU, CC, "built with TensorRT 10.3.0.30 but TensorRT 8.6.2.3 is installed"),
    (VERSION, "Xavier", (7, 2),
     "built on Orin (compute capability 8.7) but this GPU is Xavier (compute capability 7.2)"),
])
def test_version_or_gpu_mismatch_is_refused(monkeypatch, engine_file, version, gpu, capability, words):
    cuda = make_cuda(gpu, capability)
    install(monkeypatch, make_trt(version=version, registry=cuda.registry), cuda)
    with pytest.raises(BackendError) as error:
        trt_backend.TensorRTBackend(engine_file)
    message = str(error.value)
    assert words in message
    assert "litepose build-engine --onnx /models/xs.onnx --output {} --fp16".format(engine_file) in message
    assert sum(cuda.pushes) == 0  # the CUDA context is popped again


def test_failed_deserialisation_is_explained(monkeypatch, engine_file):
    cuda = make_cuda()
    install(monkeypatch, make_trt(registry=cuda.registry, deserialise_ok=False), cuda)
    with pytest.raises(BackendError) as error:
        trt_backend.TensorRTBackend(engine_file)
    assert "not compatible with this version" in str(error.value)
    assert "litepose build-engine --onnx /models/xs.onnx" in str(error.value)


@pytest.mark.parametrize("spec, difference", [
    ([("image", True, (1, 3, 64, 64)), ("heatmaps_tags", False, (1, 28, 16, 16)), ("out", False, (1, 14, 32, 32))],
     "no output named 'heatmaps_highres' (expected shape [1, 14, 32, 32]); unexpected output 'out' [1, 14, 32, 32]"),
    ([("image", True, (1, 3, 64, 64)), ("heatmaps_tags", False, (1, 34, 16, 16)),
      ("heatmaps_highres", False, (1, 14, 32, 32))],
     "output 'heatmaps_tags' has shape [1, 34, 16, 16] where the metadata says [1, 28, 16, 16]"),
    ([("input", True, (1, 3, 64, 64)), ("heatmaps_tags", False, (1, 28, 16, 16)),
      ("heatmaps_highres", False, (1, 14, 32, 32))],
     "no input named 'image' (expected shape [1, 3, 64, 64]); unexpected input 'input' [1, 3, 64, 64]"),
])
def test_io_names_and_shapes_must_match_metadata(monkeypatch, engine_file, spec, difference):
    cuda = make_cuda()
    install(monkeypatch, make_trt(spec=spec, registry=cuda.registry), cuda)
    with pytest.raises(BackendError) as error:
        trt_backend.TensorRTBackend(engine_file)
    assert "does not match its model metadata: " + difference + "." in str(error.value)
    assert "litepose build-engine" in str(error.value)


# ---------------------------------------------------------------- API selection + name mapping
@pytest.mark.parametrize("engine_cls, context_cls, family", [
    (TensorEngine, TensorContext, "tensor"),    # TensorRT 10.x
    (BothEngine, BothContext, "tensor"),        # TensorRT 8.5 / 8.6: tensor API preferred
    (BindingEngine, BindingContext, "binding"),  # TensorRT 8.0 - 8.4
])
def test_runs_with_each_api_family_matching_outputs_by_name(monkeypatch, engine_file, engine_cls, context_cls,
                                                             family):
    cuda = make_cuda()
    install(monkeypatch, make_trt(engine_cls, context_cls, registry=cuda.registry), cuda)
    backend = create_backend(engine_file)  # selected by the .engine suffix
    assert isinstance(backend, trt_backend.TensorRTBackend) and backend.api_family == family
    tensor = np.full(META.input_shape, 0.5, np.float32)
    stage1, stage2 = backend.run(tensor)
    # The engine lists outputs highres-first; the values show each was fetched by its name.
    assert stage1.shape == (1, 28, 16, 16) and np.all(stage1 == 1.5)
    assert stage2.shape == (1, 14, 32, 32) and np.all(stage2 == 2.5)
    assert sum(cuda.pushes) == 0
    backend.close()
    assert all(memory.freed for memory in cuda.registry.values())


def test_unknown_api_is_an_error():
    with pytest.raises(BackendError):
        trt_backend.select_api(make_trt(), object(), object())


def test_backend_selection_by_suffix_and_parameter(tmp_path):
    from litepose_ros.backends import tflite_backend  # noqa: F401  (registers "tflite")

    assert base.backend_for_file("a/b.engine") == "tensorrt"
    assert base.backend_for_file("b.PLAN") == "tensorrt"
    assert base.backend_for_file("m.tflite") == "tflite"
    assert base.backend_for_file("m.onnx") == "onnxruntime"
    path = tmp_path / "model.bin"
    path.write_bytes(b"x")
    with pytest.raises(BackendError) as error:  # an explicit backend overrides the suffix
        create_backend(str(path), backend="tensorrt")
    assert "model.bin is to be run as a TensorRT engine" in str(error.value)


def test_stub_only_tensorrt_is_reported(monkeypatch):
    fake = types.ModuleType("tensorrt")
    fake.__path__ = ["/site-packages/tensorrt"]
    monkeypatch.setitem(__import__("sys").modules, "tensorrt", fake)
    with pytest.raises(BackendError) as error:
        trt_backend._import_runtime()
    assert "module found at /site-packages/tensorrt is not the TensorRT runtime" in str(error.value)


# ---------------------------------------------------------------- calls vs real API surfaces
def _attributes_used(source_obj, receivers):
    """Attribute names read on the given receiver expressions (e.g. 'self.engine', 'config')."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(source_obj)))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            receiver = ast.unparse(node.value)
            if receiver in receivers:
                found.add(node.attr)
    return found


def _lean():
    return pytest.importorskip("tensorrt_lean_bindings", reason="tensorrt-lean-cu12-bindings not installed")


def _stub_classes():
    import importlib.util

    spec = importlib.util.find_spec("tensorrt_bindings")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("tensorrt-stubs not installed")
    path = os.path.join(list(spec.submodule_search_locations)[0], "tensorrt.pyi")
    # The generated stub is not always valid Python (argument order), so read it line by line.
    classes, current = {}, None
    for line in open(path):
        match = re.match(r"class (\w+)", line)
        if match:
            current = classes.setdefault(match.group(1), set())
            continue
        match = re.match(r"    (?:def )?(\w+)\s*[(:=]", line)
        if match and current is not None:
            current.add(match.group(1))
    return classes


def test_tensor_api_calls_exist_in_the_real_tensorrt_10_runtime():
    trt = _lean()
    engine_calls = _attributes_used(trt_backend.TensorApi, {"self.engine"})
    context_calls = _attributes_used(trt_backend.TensorApi, {"self.context"})
    assert engine_calls <= set(trt_backend.TensorApi.ENGINE_CALLS)
    assert context_calls <= set(trt_backend.TensorApi.CONTEXT_CALLS)
    for name in trt_backend.TensorApi.ENGINE_CALLS:
        assert hasattr(trt.ICudaEngine, name), name
    for name in trt_backend.TensorApi.CONTEXT_CALLS:
        assert hasattr(trt.IExecutionContext, name), name
    # The module-level names the backend uses on `tensorrt`.
    for name in ("Runtime", "ILogger", "Logger", "TensorIOMode", "nptype"):
        assert hasattr(trt, name), name
    assert hasattr(trt.Runtime, "deserialize_cuda_engine") and hasattr(trt.Logger, "WARNING")
    assert hasattr(trt.TensorIOMode, "INPUT")
    # The fakes above must not offer the tensor family anything the real runtime lacks.
    for fake, real in ((TensorEngine, trt.ICudaEngine), (TensorContext, trt.IExecutionContext)):
        public = {n for n in vars(fake) if not n.startswith("_")}
        assert public <= set(dir(real)), public - set(dir(real))
    # ... and TensorRT 10 really dropped the binding API, so selection must pick "tensor" there.
    assert not hasattr(trt.IExecutionContext, "execute_async_v2")
    assert not hasattr(trt.ICudaEngine, "get_binding_index")


def test_binding_api_calls_are_the_documented_tensorrt_8_surface():
    engine_calls = _attributes_used(trt_backend.BindingApi, {"self.engine"})
    context_calls = _attributes_used(trt_backend.BindingApi, {"self.context"})
    assert engine_calls <= set(trt_backend.BindingApi.ENGINE_CALLS) <= set(dir(BindingEngine))
    assert context_calls <= set(trt_backend.BindingApi.CONTEXT_CALLS) <= set(dir(BindingContext))


def test_builder_calls_exist_in_the_tensorrt_10_stubs():
    classes = _stub_classes()
    used = {
        "Builder": _attributes_used(tensorrt_build, {"builder"}),
        "IBuilderConfig": _attributes_used(tensorrt_build, {"config"}) - set(tensorrt_build.LEGACY_CONFIG_CALLS),
        "OnnxParser": _attributes_used(tensorrt_build, {"parser"}),
    }
    assert used["Builder"] <= set(tensorrt_build.BUILDER_CALLS)
    assert used["IBuilderConfig"] <= set(tensorrt_build.CONFIG_CALLS)
    for cls, names in used.items():
        assert names and names <= classes[cls], (cls, names - classes[cls])
    assert "serialize" in classes["ITimingCache"]
    trt_names = _attributes_used(tensorrt_build, {"trt"})
    assert trt_names <= set(classes) | {"__version__"}, trt_names - set(classes)
    assert "WORKSPACE" in classes["MemoryPoolType"] and "FP16" in classes["BuilderFlag"]
    assert "EXPLICIT_BATCH" in classes["NetworkDefinitionCreationFlag"]
    assert "max_workspace_size" not in classes["IBuilderConfig"]  # hence the hasattr fallback for 8.0-8.3
