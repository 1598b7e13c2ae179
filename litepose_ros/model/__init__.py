"""The LitePose network in PyTorch: architectures, module, checkpoints and BN folding.

Only ``configs`` is torch-free; import ``litepose``, ``checkpoint`` and ``fuse`` explicitly
(this package deliberately does not import them, so runtime code can use the configs
without torch installed).
"""
from .configs import ARCHS, INPUT_SIZE_MULTIPLE, ArchConfig, StageConfig, get_arch, input_size_problem

__all__ = ["ARCHS", "INPUT_SIZE_MULTIPLE", "ArchConfig", "StageConfig", "get_arch", "input_size_problem"]
