"""ONNX Runtime backend: the CPU reference runtime (and CUDA where onnxruntime-gpu is installed)."""
from typing import Sequence, Tuple

import numpy as np

from ..common.metadata import METADATA_KEY, ModelMetadata, ModelMetadataError
from .base import Backend, BackendError, order_outputs, output_differences, register_backend


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    file_kind = "onnx"

    def __init__(self, model_path: str, threads: int = 0, providers: Sequence[str] = ("CPUExecutionProvider",),
                 spin: bool = False) -> None:
        """``spin``: let idle worker threads busy-wait for work (ONNX Runtime's default). Off here:
        between frames the pool would burn whole cores that a robot's other nodes need (the XS
        model at 10 Hz: 77 % CPU with spinning against 26 %), for a millisecond or two of latency."""
        super(OnnxRuntimeBackend, self).__init__(model_path)
        try:
            import onnxruntime
        except ImportError:
            raise BackendError("onnxruntime is not installed: pip install onnxruntime") from None
        options = onnxruntime.SessionOptions()
        if threads > 0:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        spinning = "1" if spin else "0"
        options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
        options.add_session_config_entry("session.inter_op.allow_spinning", spinning)
        self.spinning = spin
        try:
            self._session = onnxruntime.InferenceSession(model_path, sess_options=options, providers=list(providers))
        except Exception as error:  # onnxruntime raises its own exception types
            raise BackendError("cannot load ONNX model {}: {}".format(model_path, error)) from None
        props = self._session.get_modelmeta().custom_metadata_map
        try:
            self.metadata = ModelMetadata.from_json(props.get(METADATA_KEY), source=model_path)
        except ModelMetadataError as error:
            raise BackendError(str(error)) from None
        self._check_io()
        self._input_name = self._session.get_inputs()[0].name

    def _check_io(self) -> None:
        inputs = self._session.get_inputs()
        expected = list(self.metadata.input_shape)
        shape = list(inputs[0].shape) if len(inputs) == 1 else []
        # Exported with --dynamic-size: height and width are named dimensions, not numbers.
        self.dynamic_size = len(shape) == 4 and shape[:2] == expected[:2] and all(
            not isinstance(d, int) for d in shape[2:])
        if not self.dynamic_size and shape != expected:
            raise BackendError(
                "{}: expected one input of shape {}, found {}".format(
                    self.model_path, expected, [(i.name, i.shape) for i in inputs]
                )
            )
        problems = output_differences([(o.name, o.shape) for o in self._session.get_outputs()], self.metadata)
        if problems:
            raise BackendError(
                "{}: the model's outputs do not match its litepose metadata: {}. Was the metadata copied from "
                "another model? Re-export it with `litepose export`".format(self.model_path, "; ".join(problems))
            )

    def run(self, tensor: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        outputs = self._session.run(None, {self._input_name: tensor})
        return order_outputs(outputs, self.metadata, (int(tensor.shape[2]), int(tensor.shape[3])))


register_backend("onnxruntime", OnnxRuntimeBackend, suffixes=(".onnx",))
