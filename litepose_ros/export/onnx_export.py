"""Export a LitePose network to one self-contained ONNX file and prove it computes the same thing.

The file has a static input shape [1, 3, H, W], batch norm folded into the convolutions,
opset 11 by default (well inside what the oldest target, TensorRT 8.0 on the Jetson Nano,
parses) and the model's ``ModelMetadata`` as JSON under ``metadata_props[METADATA_KEY]``.
After writing it, the file is run with ONNX Runtime and compared with the unfused PyTorch model in eval
mode; a maximum absolute difference above the tolerance is an error, and the file is removed.
"""
import os
import warnings
from typing import Dict, NamedTuple, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..metadata import METADATA_KEY, ModelMetadata
from ..model.fuse import fuse_batchnorm

DEFAULT_OPSET = 11
PARITY_TOLERANCE = 1e-4
PARITY_SEED = 0


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

    @property
    def worst(self) -> float:
        return max(self.max_abs_diff.values())

    def summary(self) -> str:
        parts = [
            "{}: max |diff| {:.3g} (max |value| {:.3g})".format(name, self.max_abs_diff[name], self.max_abs_value[name])
            for name in self.max_abs_diff
        ]
        return "ONNX Runtime vs PyTorch on a fixed random input {}: {}; tolerance {:g}".format(
            list(self.input_shape), "; ".join(parts), self.tolerance
        )


def parity_input(metadata: ModelMetadata, seed: int = PARITY_SEED) -> np.ndarray:
    """A reproducible random image in [0, 1], normalised the way the runtime normalises frames."""
    image = np.random.default_rng(seed).random(metadata.input_shape)
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


def _torch_export(model: nn.Module, metadata: ModelMetadata, path: str, opset: int) -> None:
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


def _compare(model: nn.Module, path: str, metadata: ModelMetadata, opset: int) -> ParityReport:
    tensor = parity_input(metadata)
    with torch.no_grad():
        expected = [t.numpy() for t in model(torch.from_numpy(tensor))]
    found = _run_onnxruntime(path, metadata.input_name, tensor, metadata.output_names)
    diffs, scales = {}, {}
    for name, reference in zip(metadata.output_names, expected):
        if found[name].shape != reference.shape:
            raise ExportError(
                "output {} has shape {} in ONNX, {} in PyTorch".format(name, found[name].shape, reference.shape)
            )
        diffs[name] = float(np.max(np.abs(found[name] - reference)))
        scales[name] = float(np.max(np.abs(reference)))
    return ParityReport(path, opset, metadata.input_shape, diffs, scales, PARITY_TOLERANCE, os.path.getsize(path))


def export_onnx(
    model: nn.Module, metadata: ModelMetadata, output_path: str, opset: int = DEFAULT_OPSET
) -> ParityReport:
    """Export ``model`` (weights as given, BN folded) to ``output_path``; verify it with ONNX Runtime.

    Raises ``ExportError`` (and leaves no file behind) when ONNX Runtime's outputs differ
    from PyTorch's by more than ``PARITY_TOLERANCE``. ``model``'s train/eval mode is restored.
    """
    _check_model_fits(model, metadata)
    output_path = str(output_path)
    was_training = model.training
    model.eval()
    try:
        _torch_export(fuse_batchnorm(model), metadata, output_path, opset)
        _finalise(output_path, metadata, opset)
        # Against the unfused model: this checks the folding and the conversion together.
        report = _compare(model, output_path, metadata, opset)
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
