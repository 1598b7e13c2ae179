"""The four LitePose architectures (XS, S, M, L), stored as plain data.

No torch here: runtime code on the robot (Python 3.6, no torch) imports this module to
learn an architecture's official input size and the input-size rule. The values are the
LitePose reference search results (mobile_configs/search-*.json) and the head settings
of its CrowdPose/COCO experiment files.
"""
from typing import Dict, NamedTuple, Tuple


class StageConfig(NamedTuple):
    """One backbone stage: ``num_blocks`` inverted-residual blocks; the first one strides."""

    num_blocks: int
    stride: int
    channels: int
    expansion: int
    kernel: int


class ArchConfig(NamedTuple):
    name: str
    # Square input side the reference model was trained and evaluated at.
    img_size: int
    # Channels leaving the stem (after its 1x1 projection).
    input_channel: int
    stages: Tuple[StageConfig, ...]
    # Output channels of the three deconvolution (upsampling) layers of the fusion head.
    deconv_channels: Tuple[int, int, int]


# Kernel and padding of every head deconvolution: kernel 4, stride 2, padding 1 doubles
# the resolution exactly.
DECONV_KERNEL = 4
# Depthwise kernel of the separable convolutions that produce the outputs.
FINAL_KERNEL = 5
# The stem and the first three stages each halve the resolution (the fourth keeps it), so
# the deepest features are at stride 16. The head upsamples them by 2 and adds them to the
# stride-8 features, and so on down to stride 2: the sums only line up when every stride-2
# layer divides evenly, i.e. when width and height are multiples of 16.
INPUT_SIZE_MULTIPLE = 16


def _stages(channels: Tuple[int, int, int, int]) -> Tuple[StageConfig, ...]:
    # All four searched architectures share block counts, strides, expansion 6 and kernel 7;
    # only the widths differ.
    blocks = (6, 8, 10, 10)
    strides = (2, 2, 2, 1)
    return tuple(StageConfig(n, s, c, 6, 7) for n, s, c in zip(blocks, strides, channels))


ARCHS: Dict[str, ArchConfig] = {
    "XS": ArchConfig("XS", 256, 16, _stages((16, 32, 48, 80)), (16, 24, 24)),
    "S": ArchConfig("S", 448, 16, _stages((16, 32, 48, 120)), (32, 24, 32)),
    "M": ArchConfig("M", 448, 16, _stages((24, 48, 72, 120)), (64, 40, 32)),
    "L": ArchConfig("L", 512, 24, _stages((24, 64, 96, 160)), (64, 40, 32)),
}


def get_arch(name: str) -> ArchConfig:
    """Look up an architecture by name, case-insensitively."""
    try:
        return ARCHS[name.upper()]
    except KeyError:
        raise ValueError("unknown LitePose architecture {!r}; expected one of {}".format(name, sorted(ARCHS))) from None


def input_size_problem(width: int, height: int) -> str:
    """Why ``width`` x ``height`` cannot be fed to the network, or '' when it can."""
    if width <= 0 or height <= 0:
        return "input size {}x{} must be positive".format(width, height)
    if width % INPUT_SIZE_MULTIPLE or height % INPUT_SIZE_MULTIPLE:
        return (
            "input size {}x{} must be a multiple of {} in both dimensions (the network downsamples "
            "by 16 and upsamples back, and the skip connections must line up)".format(
                width, height, INPUT_SIZE_MULTIPLE
            )
        )
    return ""
