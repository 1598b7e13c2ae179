"""A PyTorch module (in memory, or read from a .pth checkpoint) behind the ``Backend`` interface.

Used by the validation during training and by ``litepose eval`` / ``predict`` on a checkpoint:
it takes inputs of any height and width, which the official evaluation protocol needs.
"""
from typing import Optional, Tuple

import numpy as np
import torch
from torch import nn

from ..backends.base import Backend, BackendError
from ..common.keypoints import get_keypoint_set
from ..common.metadata import ModelMetadata
from .checkpoint import load_checkpoint, read_checkpoint
from .litepose import build_model

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".pth.tar")


class ModuleBackend(Backend):
    """Runs ``model`` (eval mode is the caller's business) on ``device``."""

    name = "pytorch"
    dynamic_size = True

    def __init__(self, model: nn.Module, metadata: ModelMetadata, device: torch.device,
                 model_path: str = "<training model>") -> None:
        self.model_path = model_path
        self.metadata = metadata
        self.model = model
        self.device = device

    def run(self, tensor: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            first, second = self.model(torch.from_numpy(np.ascontiguousarray(tensor, np.float32)).to(self.device))
        return first.float().cpu().numpy(), second.float().cpu().numpy()


def is_checkpoint(path: str) -> bool:
    return str(path).lower().endswith(CHECKPOINT_SUFFIXES)


def checkpoint_backend(path: str, arch: Optional[str] = None, dataset: Optional[str] = None,
                       threads: int = 0, device: str = "") -> ModuleBackend:
    """A ModuleBackend for a ``litepose train`` or official checkpoint.

    Arch, dataset and input size come from the checkpoint's metadata; official checkpoints have
    none, so ``arch`` and ``dataset`` must be given (the input size is then the arch's).
    """
    try:
        _, stored = read_checkpoint(path)
    except (OSError, ValueError, RuntimeError) as error:
        raise BackendError("cannot read checkpoint {}: {}".format(path, error)) from None
    arch = (arch or stored.get("arch") or "").upper()
    dataset = (stored.get("dataset") or dataset or "").lower()
    if not arch or not dataset:
        raise BackendError("{} has no litepose metadata: give --arch and --dataset".format(path))
    if stored.get("arch") and stored["arch"].upper() != arch:
        raise BackendError("{} holds LitePose-{}, not {}".format(path, stored["arch"], arch))
    try:
        model = build_model(arch, get_keypoint_set(dataset).num_joints)
    except (KeyError, ValueError) as error:
        raise BackendError("{}: {}".format(path, error)) from None
    size = stored.get("input_size") or [model.arch.img_size] * 2
    metadata = ModelMetadata.for_dataset(arch, dataset, int(size[0]), int(size[1]), weights="checkpoint")
    try:
        load_checkpoint(model, path)
    except (OSError, ValueError, RuntimeError) as error:
        raise BackendError(str(error)) from None
    if threads > 0:
        torch.set_num_threads(threads)
    target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return ModuleBackend(model.to(target).eval(), metadata, target, model_path=str(path))
