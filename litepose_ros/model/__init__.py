"""The LitePose network in PyTorch (tooling: needs torch): module, checkpoints and BN folding.

The architectures themselves are plain data in ``litepose_ros.common.architectures``, which
runtime code on the robot reads without torch.
"""
