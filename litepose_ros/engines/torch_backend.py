"""A PyTorch module behind the ``Backend`` interface: the reference for parity checks and benchmarks."""
from typing import Tuple

import numpy as np
import torch
from torch import nn

from ..backends.base import Backend
from ..common.metadata import ModelMetadata


class TorchBackend(Backend):
    """Runs an in-memory model (eval mode, no grad) on the CPU; nothing is loaded from disk."""

    name = "pytorch"

    def __init__(self, model: nn.Module, metadata: ModelMetadata, threads: int = 0) -> None:
        # Backend.__init__ wants a file; this backend has none.
        self.model_path = "<in-memory {}>".format(type(model).__name__)
        self.metadata = metadata
        self.model = model.eval()
        if threads > 0:
            torch.set_num_threads(threads)

    def run(self, tensor: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            first, second = self.model(torch.from_numpy(np.ascontiguousarray(tensor, dtype=np.float32)))
        return first.numpy(), second.numpy()
