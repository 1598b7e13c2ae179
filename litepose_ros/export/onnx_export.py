"""Export a LitePose network to one self-contained ONNX file and prove it computes the same thing.

The file has a static input shape [1, 3, H, W] (with ``dynamic_size``: any height and width,
named ``height`` / ``width``, for the official evaluation protocol's non-square inputs; the
metadata's H x W stays the nominal size), batch norm folded into the convolutions,
opset 11 by default (well inside what the oldest target, TensorRT 8.0 on the Jetson Nano,
parses) and the model's ``ModelMetadata`` as JSON under ``metadata_props[METADATA_KEY]``.
After writing it, the file is run with ONNX Runtime and compared with the unfused PyTorch model in eval
mode (a dynamic-size file also at a non-square size); a maximum absolute difference above the
tolerance is an error, and the file is removed.
"""
import os
import warnings
from typing import Dict, NamedTuple, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..common.metadata import METADATA_KEY, ModelMetadata
from ..model.fuse import fuse_batchnorm

DEFAULT_OPSET = 11
PARITY_TOLERANCE = 1e-4
PARITY_SEED = 0
# A dynamic-size export is also checked at the nominal size plus these many pixels in width,
# as a 3:2-like landscape input of the official protocol.
DYNAMIC_CHECK_EXTRA_WIDTH = 128


class ExportError(RuntimeError):
    """The model could not be exported, or the exported file does not match PyTorch."""


class ParityReport(NamedTuple):
    path: str
    opset: int
    input_shape: Tuple[int, int, int, int]
    # Per output name: max |onnxruntime - pytorch| and, for scale, max |pytorch|.
    max_abs_diff: Dict[str, float]
    max_abs_value: Dict[str, float]
    tolerance: float
    size_bytes: int
    extra_shapes: Tuple[Tuple[int, int, int, int], ...] = ()  # further inputs checked (dynamic size)

    @property
    def worst(self) -> float:
        return max(self.max_abs_diff.values())

    def summary(self) -> str:
        parts = [
            "{}: max |diff| {:.3g} (max |value| {:.3g})".format(name, self.max_abs_diff[name], self.max_abs_value[name])
            for name in self.max_abs_diff
        ]
        shapes = " and ".join(str(list(s)) for s in (self.input_shape,) + tuple(self.extra_shapes))
        return "ONNX Runtime vs PyTorch on fixed random input {}: {}; tolerance {:g}".format(
            shapes, "; ".join(parts), self.tolerance
        )


def parity_input(metadata: ModelMetadata, seed: int = PARITY_SEED, shape: Tuple[int, ...] = ()) -> np.ndarray:
    """A reproducible random image in [0, 1], normalised the way the runtime normalises frames."""
    image = np.random.default_rng(seed).random(shape or metadata.input_shape)
    mean = np.asarray(metadata.mean).reshape(1, 3, 1, 1)
    std = np.asarray(metadata.std).reshape(1, 3, 1, 1)
    return ((image - mean) / std).astype(np.float32)


def _check_model_fits(model: nn.Module, metadata: ModelMetadata) -> None:
    joints = getattr(model, "num_joints", None)
    if joints is not None and joints != metadata.num_joints:
        raise ExportError(
            "model has {} joints but the metadata describes {} ({})".format(
                joints, metadata.num_joints, metadata.dataset
            )
        )


def _dynamic_axes(metadata: ModelMetadata) -> Dict[str, Dict[int, str]]:
    first, second = metadata.output_names
    return {metadata.input_name: {2: "height", 3: "width"},
            first: {2: "height_div_4", 3: "width_div_4"}, second: {2: "height_div_2", 3: "width_div_2"}}


def _torch_export(model: nn.Module, metadata: ModelMetadata, path: str, opset: int, dynamic_size: bool) -> None:
    dummy = torch.zeros(metadata.input_shape)
    with warnings.catch_warnings():
        # The TorchScript exporter announces its own deprecation; it is chosen on purpose because
        # the torch.export-based one targets opset 18+ and cannot write opset 11 reliably.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (dummy,),
            path,
            input_names=[metadata.input_name],
            output_names=list(metadata.output_names),
            opset_version=opset,
            do_constant_folding=True,
            dynamic_axes=_dynamic_axes(metadata) if dynamic_size else None,
            dynamo=False,
        )


def _finalise(path: str, metadata: ModelMetadata, opset: int) -> None:
    """Embed the metadata, verify the graph and rewrite the file as one self-contained file."""
    import onnx

    proto = onnx.load(path)
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, metadata.to_json()
    proto.doc_string = "LitePose-{} ({}) exported by litepose_ros".format(metadata.arch, metadata.dataset)
    default_opset = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    if default_opset != [opset]:
        raise ExportError("exported opset {} instead of the requested {}".format(default_opset, opset))
    external = [t.name for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise ExportError("exporter wrote external data for {}; expected one self-contained file".format(external))
    onnx.checker.check_model(proto, full_check=True)
    onnx.save_model(proto, path, save_as_external_data=False)


def _run_onnxruntime(
    path: str, input_name: str, tensor: np.ndarray, output_names: Sequence[str]
) -> Dict[str, np.ndarray]:
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return dict(zip(output_names, session.run(list(output_names), {input_name: tensor})))


def _compare(model: nn.Module, path: str, metadata: ModelMetadata, opset: int, dynamic_size: bool) -> ParityReport:
    shapes = [metadata.input_shape]
    if dynamic_size:
        n, c, h, w = metadata.input_shape
        shapes.append((n, c, h, w + DYNAMIC_CHECK_EXTRA_WIDTH))
    diffs: Dict[str, float] = {name: 0.0 for name in metadata.output_names}
    scales: Dict[str, float] = dict(diffs)
    for shape in shapes:
        tensor = parity_input(metadata, shape=shape)
        with torch.no_grad():
            expected = [t.numpy() for t in model(torch.from_numpy(tensor))]
        found = _run_onnxruntime(path, metadata.input_name, tensor, metadata.output_names)
        for name, reference in zip(metadata.output_names, expected):
            if found[name].shape != reference.shape:
                raise ExportError("output {} has shape {} in ONNX, {} in PyTorch (input {})".format(
                    name, found[name].shape, reference.shape, list(shape)))
            diffs[name] = max(diffs[name], float(np.max(np.abs(found[name] - reference))))
            scales[name] = max(scales[name], float(np.max(np.abs(reference))))
    return ParityReport(path, opset, metadata.input_shape, diffs, scales, PARITY_TOLERANCE, os.path.getsize(path),
                        tuple(shapes[1:]))


def export_onnx(
    model: nn.Module, metadata: ModelMetadata, output_path: str, opset: int = DEFAULT_OPSET, dynamic_size: bool = False
) -> ParityReport:
    """Export ``model`` (weights as given, BN folded) to ``output_path``; verify it with ONNX Runtime.

    ``dynamic_size``: height and width are free (multiples of 64 are what the network supports
    exactly; the official protocol only makes those).

    Raises ``ExportError`` (and leaves no file behind) when ONNX Runtime's outputs differ
    from PyTorch's by more than ``PARITY_TOLERANCE``. ``model``'s train/eval mode is restored.
    """
    _check_model_fits(model, metadata)
    output_path = str(output_path)
    was_training = model.training
    model.eval()
    try:
        _torch_export(fuse_batchnorm(model), metadata, output_path, opset, dynamic_size)
        _finalise(output_path, metadata, opset)
        # Against the unfused model: this checks the folding and the conversion together.
        report = _compare(model, output_path, metadata, opset, dynamic_size)
    except BaseException:
        if os.path.exists(output_path):
            os.remove(output_path)
        raise
    finally:
        model.train(was_training)
    if report.worst > report.tolerance:
        os.remove(output_path)
        raise ExportError("exported model disagrees with PyTorch, file removed. " + report.summary())
    return report
