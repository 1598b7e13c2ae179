"""Inference backends. Importing this package registers every backend that ships with it;
each backend imports its runtime (onnxruntime, tensorrt, ai_edge_litert) only when loading."""
from . import onnxruntime_backend, tensorrt_backend, tflite_backend  # noqa: F401  (each registers itself)
from .base import (
    AUTO,
    Backend,
    BackendError,
    NonFiniteOutput,
    available_backends,
    backend_choices,
    backend_for_file,
    check_finite,
    create_backend,
    order_outputs,
    register_backend,
)

__all__ = [
    "AUTO",
    "Backend",
    "BackendError",
    "NonFiniteOutput",
    "available_backends",
    "backend_choices",
    "backend_for_file",
    "check_finite",
    "create_backend",
    "order_outputs",
    "register_backend",
]
