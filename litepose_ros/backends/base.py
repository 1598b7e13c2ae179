"""The small interface every inference backend implements, and the registry that picks one.

A backend loads one model file, reports the model's metadata and input shape, and maps an
input tensor to the network's two outputs as numpy arrays. Nothing else: pre- and
post-processing are shared by all backends.
"""
import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..metadata import ModelMetadata


class BackendError(RuntimeError):
    """A model could not be loaded or run; the message says what to do about it."""


class Backend(object):
    """Base class: subclasses set ``name`` and ``metadata`` and implement ``run``."""

    name = "abstract"

    def __init__(self, model_path: str) -> None:
        if not os.path.isfile(model_path):
            raise BackendError("model file not found: {}".format(model_path))
        self.model_path = model_path
        self.metadata: Optional[ModelMetadata] = None

    @property
    def input_shape(self) -> Tuple[int, int, int, int]:
        return self.metadata.input_shape

    def run(self, tensor: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Run the network on a float32 NCHW tensor; return (heatmaps_tags, heatmaps_highres)."""
        raise NotImplementedError

    def describe(self) -> str:
        return "{} backend, {} ({})".format(self.name, os.path.basename(self.model_path), self.metadata)

    def close(self) -> None:
        """Release device resources; the default has none."""


def order_outputs(outputs: Sequence[np.ndarray], metadata: ModelMetadata) -> Tuple[np.ndarray, np.ndarray]:
    """Put the two outputs in (stride-4 heatmaps+tags, stride-2 heatmaps) order by their shapes.

    Converters (TFLite, TensorRT) are free to reorder outputs, and some emit NHWC; matching on
    shape makes the result independent of both. NHWC arrays are transposed to NCHW.
    """
    expected = metadata.output_shapes()
    ordered: List[np.ndarray] = []
    for shape in expected:
        nhwc = (shape[0], shape[2], shape[3], shape[1])
        match = None
        for array in outputs:
            if tuple(array.shape) == shape:
                match = array
            elif tuple(array.shape) == nhwc:
                match = np.transpose(array, (0, 3, 1, 2))
            if match is not None:
                break
        if match is None:
            raise BackendError(
                "model outputs {} do not match the metadata's expected shapes {}".format(
                    [tuple(a.shape) for a in outputs], expected
                )
            )
        ordered.append(np.ascontiguousarray(match, dtype=np.float32))
    return ordered[0], ordered[1]


BackendFactory = Callable[..., Backend]

_REGISTRY: Dict[str, Tuple[BackendFactory, Tuple[str, ...]]] = {}


def register_backend(name: str, factory: BackendFactory, suffixes: Sequence[str]) -> None:
    """Register a backend id (used by the `backend` parameter) and the file suffixes it loads."""
    _REGISTRY[name] = (factory, tuple(s.lower() for s in suffixes))


def available_backends() -> List[str]:
    return sorted(_REGISTRY)


def backend_for_file(model_path: str) -> str:
    suffix = os.path.splitext(model_path)[1].lower()
    for name, (_, suffixes) in sorted(_REGISTRY.items()):
        if suffix in suffixes:
            return name
    raise BackendError(
        "cannot tell the backend from the file suffix {!r} of {}; known suffixes: {}".format(
            suffix, model_path, sorted(s for _, sfx in _REGISTRY.values() for s in sfx)
        )
    )


def create_backend(model_path: str, backend: str = "auto", threads: int = 0, **options: object) -> Backend:
    """Load ``model_path`` with the named backend, or the one its file suffix implies (``auto``).

    ``threads`` <= 0 lets the runtime choose.
    """
    name = backend_for_file(model_path) if backend == "auto" else backend
    if name not in _REGISTRY:
        raise BackendError("unknown backend {!r}; available: {}".format(name, available_backends()))
    factory = _REGISTRY[name][0]
    return factory(model_path, threads=threads, **options)
