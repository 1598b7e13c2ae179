"""The JSON file written next to every TensorRT engine, and the checks made with it at load time.

A TensorRT plan only runs on the TensorRT version and the GPU model that built it, and it
carries none of the model metadata. The sidecar (``NAME.engine.json``) records both, so a
mismatch is reported with the exact command that rebuilds the engine instead of a crash.
"""
import datetime
import json
import os
from typing import Any, Dict, Optional, Sequence, Tuple

from ..common.hints import litepose_command
from ..common.metadata import ModelMetadata, ModelMetadataError

SIDECAR_FORMAT_VERSION = 1
SIDECAR_SUFFIX = ".json"
PRECISIONS = ("fp16", "fp32")


class SidecarError(RuntimeError):
    """The engine cannot be used on this machine; the message says how to rebuild it."""


def sidecar_path(engine_path: str) -> str:
    return engine_path + SIDECAR_SUFFIX


def rebuild_command(engine_path: str, onnx_path: Optional[str] = None, precision: str = "fp16",
                    workspace_mb: Optional[int] = None) -> str:
    """The `litepose build-engine` command line that (re)builds ``engine_path`` on this device."""
    parts = ["build-engine", "--onnx", onnx_path or "MODEL.onnx", "--output", engine_path,
             "--" + precision]
    if workspace_mb:
        parts += ["--workspace", str(workspace_mb)]
    return litepose_command(" ".join(_quote(p) for p in parts))


def _quote(text: str) -> str:
    safe = all(c.isalnum() or c in "-_./:=+@%" for c in text)
    return text if safe and text else "'" + text.replace("'", "'\"'\"'") + "'"


def same_tensorrt_version(built: str, installed: str) -> bool:
    """Plans are only guaranteed to load on the exact TensorRT release that built them.

    Compared on major.minor.patch[.build], ignoring suffixes such as ``.post1``.
    """
    return _release(built) == _release(installed)


def _release(version: str) -> Tuple[str, ...]:
    numbers = []  # type: List[str]
    for part in str(version).strip().split("."):
        if not part.isdigit():
            break
        numbers.append(str(int(part)))
    return tuple(numbers)


def format_compute_capability(capability: Sequence[int]) -> str:
    return "{}.{}".format(int(capability[0]), int(capability[1]))


class EngineSidecar(object):
    """What was built, from what, with which TensorRT, on which GPU."""

    def __init__(self, tensorrt_version: str, gpu_name: str, compute_capability: str, precision: str,
                 metadata: ModelMetadata, onnx_sha256: str, onnx_path: str = "",
                 built_at: Optional[str] = None, workspace_mb: Optional[int] = None) -> None:
        if precision not in PRECISIONS:
            raise ValueError("precision must be one of {}, got {!r}".format(PRECISIONS, precision))
        self.tensorrt_version = str(tensorrt_version)
        self.gpu_name = str(gpu_name)
        self.compute_capability = str(compute_capability)
        self.precision = precision
        self.metadata = metadata
        self.onnx_sha256 = str(onnx_sha256)
        self.onnx_path = str(onnx_path)
        self.built_at = built_at or datetime.datetime.utcnow().replace(microsecond=0).isoformat() + "Z"
        self.workspace_mb = workspace_mb

    @property
    def input_shape(self) -> Tuple[int, int, int, int]:
        return self.metadata.input_shape

    def to_dict(self) -> Dict[str, Any]:
        return {
            "format_version": SIDECAR_FORMAT_VERSION,
            "tensorrt_version": self.tensorrt_version,
            "gpu_name": self.gpu_name,
            "compute_capability": self.compute_capability,
            "precision": self.precision,
            "input_name": self.metadata.input_name,
            "input_shape": list(self.metadata.input_shape),
            "output_names": list(self.metadata.output_names),
            "output_shapes": [list(s) for s in self.metadata.output_shapes()],
            "metadata": self.metadata.to_dict(),
            "onnx_sha256": self.onnx_sha256,
            "onnx_path": self.onnx_path,
            "built_at": self.built_at,
            "workspace_mb": self.workspace_mb,
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any], source: str = "sidecar") -> "EngineSidecar":
        if data.get("format_version") != SIDECAR_FORMAT_VERSION:
            raise SidecarError("{}: unsupported sidecar format_version {!r}".format(
                source, data.get("format_version")))
        try:
            metadata = ModelMetadata.from_dict(data["metadata"])
            return cls(
                tensorrt_version=data["tensorrt_version"],
                gpu_name=data["gpu_name"],
                compute_capability=data["compute_capability"],
                precision=data["precision"],
                metadata=metadata,
                onnx_sha256=data["onnx_sha256"],
                onnx_path=data.get("onnx_path", ""),
                built_at=data.get("built_at"),
                workspace_mb=data.get("workspace_mb"),
            )
        except KeyError as error:
            raise SidecarError("{}: missing field {}".format(source, error)) from None
        except (ModelMetadataError, ValueError, TypeError) as error:
            raise SidecarError("{}: {}".format(source, error)) from None

    def rebuild_command(self, engine_path: str) -> str:
        return rebuild_command(engine_path, self.onnx_path or None, self.precision, self.workspace_mb)


def write_sidecar(engine_path: str, sidecar: EngineSidecar) -> str:
    path = sidecar_path(engine_path)
    with open(path, "w") as handle:
        json.dump(sidecar.to_dict(), handle, indent=2, sort_keys=True)
        handle.write("\n")
    return path


def read_sidecar(engine_path: str) -> EngineSidecar:
    path = sidecar_path(engine_path)
    if not os.path.isfile(path):
        raise SidecarError(
            "{} has no sidecar {}: it was not built by `litepose build-engine`, so its TensorRT version, "
            "GPU and model metadata are unknown. Rebuild it on this device:\n  {}".format(
                engine_path, path, rebuild_command(engine_path))
        )
    try:
        with open(path) as handle:
            data = json.load(handle)
    except ValueError as error:
        raise SidecarError("{} is not valid JSON ({}); rebuild the engine:\n  {}".format(
            path, error, rebuild_command(engine_path))) from None
    if not isinstance(data, dict):
        raise SidecarError("{} must hold a JSON object".format(path))
    return EngineSidecar.from_dict(data, source=path)


def check_compatible(sidecar: EngineSidecar, engine_path: str, tensorrt_version: str, gpu_name: str,
                     compute_capability: str) -> None:
    """Raise SidecarError when the engine was built by another TensorRT or on another GPU model."""
    problems = []
    if not same_tensorrt_version(sidecar.tensorrt_version, tensorrt_version):
        problems.append("it was built with TensorRT {} but TensorRT {} is installed".format(
            sidecar.tensorrt_version, tensorrt_version))
    if sidecar.compute_capability != compute_capability or sidecar.gpu_name != gpu_name:
        problems.append("it was built on {} (compute capability {}) but this GPU is {} (compute capability {})".format(
            sidecar.gpu_name, sidecar.compute_capability, gpu_name, compute_capability))
    if problems:
        raise SidecarError(
            "TensorRT engine {} cannot run here: {}. TensorRT engines are specific to the TensorRT release and "
            "GPU model that built them; rebuild it on this device:\n  {}".format(
                engine_path, "; ".join(problems), sidecar.rebuild_command(engine_path))
        )
