"""The small interface every inference backend implements, and the registry that picks one.

A backend loads one model file, reports the model's metadata and input shape, and maps an
input tensor to the network's two outputs as numpy arrays. Nothing else: pre- and
post-processing are shared by all backends.
"""
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..common.files import file_problem
from ..common.hints import litepose_command, model_file_kind
from ..common.metadata import ModelMetadata


class BackendError(RuntimeError):
    """A model could not be loaded or run; the message says what to do about it."""


class NonFiniteOutput(BackendError):
    """The network produced NaN or inf (e.g. FP16 overflow in an engine): the frame has no
    usable result, and reporting "no people" would hide a broken model."""


def check_finite(outputs: Sequence[np.ndarray], names: Sequence[str]) -> None:
    """NonFiniteOutput naming the first output holding NaN or inf. A sum per output is the
    fast test (NaN and inf propagate into it); only when it is not finite are values looked at."""
    with np.errstate(over="ignore", invalid="ignore"):
        for output, name in zip(outputs, names):
            if np.isfinite(np.sum(output, dtype=np.float32)):
                continue
            bad = int(np.count_nonzero(~np.isfinite(output)))
            if bad:  # else only the sum overflowed
                raise NonFiniteOutput("model output {} holds {} of {} values not finite (NaN/inf: FP16 "
                                      "overflow or a broken model)".format(name, bad, output.size))


class Backend(object):
    """Base class: subclasses set ``name`` and ``metadata`` and implement ``run``."""

    name = "abstract"
    file_kind = ""  # what model_file_kind() says of the files it loads ("engine": none of those)
    # True where the model runs inputs of any height and width (ONNX exported with --dynamic-size,
    # PyTorch modules); the official evaluation protocol needs that.
    dynamic_size = False

    def __init__(self, model_path: str) -> None:
        problem = file_problem(model_path, "model file")
        if problem:
            raise BackendError(problem)
        kind = model_file_kind(model_path)
        if kind is not None and kind != self.file_kind:
            raise BackendError(wrong_file_message(model_path, kind, self.name))
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


_FILE_KINDS = {"onnx": "an ONNX file", "tflite": "a TFLite file", "engine": "a TensorRT engine"}
_BACKEND_WANTS = {"onnxruntime": "ONNX", "tflite": "TFLite", "tensorrt": "a TensorRT engine"}


def wrong_file_message(model_path: str, kind: str, backend: str) -> str:
    """``model_path`` is a ``kind`` file given to ``backend``: say so, and what to run instead."""
    text = "{} is {}, not {} (backend {}): ".format(model_path, _FILE_KINDS[kind], _BACKEND_WANTS.get(backend, backend),
                                                      backend)
    if kind == "onnx" and backend == "tensorrt":
        stem, suffix = os.path.splitext(model_path)
        engine = stem + ".engine"
        if suffix.lower() in (".engine", ".plan"):  # an ONNX file named as an engine: the build must not overwrite it
            onnx_path = stem + ".onnx"
            return text + ("rename it to {} and build the engine from it on this device with\n  {}\n(or run the "
                           "ONNX file as it is with backend onnxruntime)".format(onnx_path, litepose_command(
                               "build-engine --onnx {} --output {}".format(onnx_path, model_path))))
        return text + ("build the engine from it on this device with\n  {}\nand set model_path to {} "
                       "(or run the ONNX file as it is with backend onnxruntime)".format(
                           litepose_command("build-engine --onnx {} --output {}".format(model_path, engine)), engine))
    if kind == "onnx":
        return text + ("run it with backend onnxruntime (backend auto picks by file suffix), or export a .tflite "
                       "from the checkpoint with `{}`".format(litepose_command(
                           "export-tflite --arch ARCH --dataset DATASET --checkpoint CKPT --output MODEL.tflite")))
    return text + "run it with backend tflite (backend auto picks by file suffix)"


def order_outputs(outputs: Sequence[np.ndarray], metadata: ModelMetadata,
                  input_hw: Tuple[int, int] = (0, 0)) -> Tuple[np.ndarray, np.ndarray]:
    """Put the two outputs in (stride-4 heatmaps+tags, stride-2 heatmaps) order by their shapes.

    Converters (TFLite, TensorRT) are free to reorder outputs, and some emit NHWC; matching on
    shape makes the result independent of both. NHWC arrays are transposed to NCHW.
    ``input_hw``: the input's (height, width) where it is not the metadata's (dynamic-size models).
    """
    expected = metadata.output_shapes(*input_hw)
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


def _same_shape(found: Sequence[Any], expected: Sequence[int]) -> bool:
    """Equal shapes; a dimension the runtime does not know (None, a name, -1) matches any."""
    if len(found) != len(expected):
        return False
    return all(not isinstance(f, int) or f < 0 or f == e for f, e in zip(found, expected))


def tensor_differences(found: Dict[str, Sequence[Any]], expected: Dict[str, Sequence[int]], kind: str) -> List[str]:
    """What differs between the model's tensors and the metadata's, by name; empty if nothing."""
    problems = ["no {} named {!r} (expected shape {})".format(kind, name, list(expected[name]))
                for name in sorted(set(expected) - set(found))]
    problems += ["unexpected {} {!r} {}".format(kind, name, list(found[name]))
                 for name in sorted(set(found) - set(expected))]
    problems += ["{} {!r} has shape {} where the metadata says {}".format(
        kind, name, list(found[name]), list(expected[name]))
        for name in sorted(set(found) & set(expected)) if not _same_shape(found[name], expected[name])]
    return problems


def output_differences(found: Sequence[Tuple[str, Sequence[Any]]], metadata: ModelMetadata,
                       by_name: bool = True) -> List[str]:
    """What differs between the model's outputs and the two the metadata describes.

    ``by_name=False`` for converters that rename outputs (TFLite): then only the shapes count,
    in any order and in NCHW or NHWC layout, as ``order_outputs`` will match them.
    """
    expected = metadata.output_shapes()
    if by_name:
        return tensor_differences(dict(found), dict(zip(metadata.output_names, expected)), "output")
    shapes = [list(shape) for _, shape in found]
    left = list(shapes)
    for shape in expected:
        nhwc = (shape[0], shape[2], shape[3], shape[1])
        match = next((s for s in left if _same_shape(s, shape) or _same_shape(s, nhwc)), None)
        if match is None:
            return ["output shapes {} where the metadata expects {} (NCHW or NHWC)".format(
                shapes, [list(s) for s in expected])]
        left.remove(match)
    return ["unexpected extra outputs {}".format(left)] if left else []


BackendFactory = Callable[..., Backend]

_REGISTRY: Dict[str, Tuple[BackendFactory, Tuple[str, ...]]] = {}


def register_backend(name: str, factory: BackendFactory, suffixes: Sequence[str]) -> None:
    """Register a backend id (used by the `backend` parameter) and the file suffixes it loads."""
    _REGISTRY[name] = (factory, tuple(s.lower() for s in suffixes))


AUTO = "auto"  # not a backend: pick the registered one whose suffixes the model file has


def available_backends() -> List[str]:
    return sorted(_REGISTRY)


def backend_choices() -> Tuple[str, ...]:
    """What the ``backend`` parameter and options accept: ``auto``, then every registered backend."""
    return (AUTO,) + tuple(available_backends())


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
    name = backend_for_file(model_path) if backend == AUTO else backend
    if name not in _REGISTRY:
        raise BackendError("unknown backend {!r}; available: {}".format(name, available_backends()))
    factory = _REGISTRY[name][0]
    return factory(model_path, threads=threads, **options)
