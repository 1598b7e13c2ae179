"""Build a TensorRT engine from a `litepose export` ONNX file on the device, then verify it there.

Runs on the Jetson (Python 3.6 on JetPack 4.6): TensorRT Python API + pycuda, no torch.
Version differences are handled by capability checks on the objects themselves:

* workspace: ``config.set_memory_pool_limit`` (TensorRT >= 8.4) else ``config.max_workspace_size``;
* explicit batch: the ``EXPLICIT_BATCH`` network flag where it exists (ignored since 10.0);
* serialisation: ``builder.build_serialized_network`` (TensorRT >= 8.0).

After writing the plan and its sidecar, the engine is loaded through ``TensorRTBackend`` and
compared with ONNX Runtime on the CPU (heatmaps and decoded people), so a build that succeeds
is known to find the same people as the ONNX file on this very device.
"""
import os
import time
from typing import Any, List, NamedTuple, Optional, Sequence

import numpy as np

from ..backends.sidecar import EngineSidecar, format_compute_capability, write_sidecar
from ..common.files import file_sha256
from ..common.metadata import METADATA_KEY, ModelMetadata, ModelMetadataError

BUILDER_CALLS = ("create_network", "create_builder_config", "build_serialized_network", "platform_has_fast_fp16")
CONFIG_CALLS = ("set_memory_pool_limit", "set_flag", "create_timing_cache", "set_timing_cache", "get_timing_cache")
PARSER_CALLS = ("parse", "num_errors", "get_error")
# Only on TensorRT < 8.4 (guarded by hasattr): the workspace attribute later replaced by memory pools.
LEGACY_CONFIG_CALLS = ("max_workspace_size",)


class EngineBuildError(RuntimeError):
    """The engine could not be built or did not verify."""


class BuildReport(NamedTuple):
    engine_path: str
    sidecar_path: str
    precision: str
    seconds: float
    size_bytes: int




def onnx_metadata(onnx_path: str) -> ModelMetadata:
    """The model metadata embedded by `litepose export`, read with the onnx package or ONNX Runtime."""
    try:
        import onnx

        props = {p.key: p.value for p in onnx.load(onnx_path, load_external_data=False).metadata_props}
    except ImportError:
        import onnxruntime

        session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        props = dict(session.get_modelmeta().custom_metadata_map)
    try:
        return ModelMetadata.from_json(props.get(METADATA_KEY), source=onnx_path)
    except ModelMetadataError as error:
        raise EngineBuildError(str(error)) from None


def _explicit_batch_flags(trt: Any) -> int:
    flag = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    return 1 << int(flag) if flag is not None else 0


def _parse(trt: Any, network: Any, logger: Any, onnx_path: str) -> Any:
    parser = trt.OnnxParser(network, logger)
    with open(onnx_path, "rb") as handle:
        ok = parser.parse(handle.read())
    if not ok:
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise EngineBuildError("TensorRT's ONNX parser rejected {}: {}".format(onnx_path, "; ".join(errors)))
    return parser


def _configure(trt: Any, builder: Any, fp16: bool, workspace_mb: int, cache_bytes: Optional[bytes]) -> Any:
    config = builder.create_builder_config()
    workspace = int(workspace_mb) << 20
    if hasattr(config, "set_memory_pool_limit"):
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace)
    else:
        config.max_workspace_size = workspace
    if fp16:
        if not builder.platform_has_fast_fp16:
            raise EngineBuildError("this GPU has no fast FP16; build with --fp32")
        config.set_flag(trt.BuilderFlag.FP16)
    if cache_bytes is not None:
        cache = config.create_timing_cache(cache_bytes)
        config.set_timing_cache(cache, False)
    return config


def _device_info(cuda: Any) -> Any:
    cuda.init()
    device = cuda.Device(0)
    return device, str(device.name()), format_compute_capability(device.compute_capability())


def build_engine(onnx_path: str, engine_path: str, fp16: bool = True, workspace_mb: int = 1024,
                 timing_cache: Optional[str] = None) -> BuildReport:
    """Parse ``onnx_path``, build, write ``engine_path`` and its sidecar (no verification)."""
    from ..backends.tensorrt_backend import _import_runtime, _make_logger

    trt, cuda = _import_runtime()
    metadata = onnx_metadata(onnx_path)
    device, gpu_name, capability = _device_info(cuda)
    context = device.retain_primary_context()
    context.push()
    start = time.time()
    try:
        logger = _make_logger(trt)
        builder = trt.Builder(logger)
        network = builder.create_network(_explicit_batch_flags(trt))
        parser = _parse(trt, network, logger, onnx_path)
        cache_bytes = None
        if timing_cache is not None:
            cache_bytes = open(timing_cache, "rb").read() if os.path.isfile(timing_cache) else b""
        config = _configure(trt, builder, fp16, workspace_mb, cache_bytes)
        plan = builder.build_serialized_network(network, config)
        if plan is None:
            raise EngineBuildError("TensorRT failed to build the engine: {}".format(
                " | ".join(logger.messages[-5:]) or "no details"))
        _write(engine_path, plan)
        if timing_cache is not None:
            _write(timing_cache, config.get_timing_cache().serialize())
        del parser
    finally:
        context.pop()
    sidecar = EngineSidecar(
        tensorrt_version=trt.__version__, gpu_name=gpu_name, compute_capability=capability,
        precision="fp16" if fp16 else "fp32", metadata=metadata, onnx_sha256=file_sha256(onnx_path),
        onnx_path=os.path.abspath(onnx_path), workspace_mb=workspace_mb,
    )
    sidecar_file = write_sidecar(engine_path, sidecar)
    return BuildReport(engine_path, sidecar_file, sidecar.precision, time.time() - start,
                       os.path.getsize(engine_path))


def _write(path: str, data: Any) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with open(path, "wb") as handle:
        handle.write(memoryview(data))


def verify_engine(engine_path: str, onnx_path: str, images: Sequence[np.ndarray] = (),
                  tolerance: Any = None) -> Any:
    """TensorRT engine vs ONNX Runtime on the CPU; returns the ``VerifyReport``."""
    from ..backends.onnxruntime_backend import OnnxRuntimeBackend
    from ..backends.tensorrt_backend import TensorRTBackend
    from ..export.verify import compare_backends

    engine = TensorRTBackend(engine_path)
    try:
        reference = OnnxRuntimeBackend(onnx_path)
        return compare_backends(engine, reference, images, tolerance)
    finally:
        engine.close()


def default_images(directories: List[str], limit: int = 4) -> List[np.ndarray]:
    """A few real frames for the post-build check, when any of ``directories`` holds some."""
    from ..export.verify import load_images

    for directory in directories:
        if os.path.isdir(directory):
            images = load_images([directory], limit)
            if images:
                return images
    return []
