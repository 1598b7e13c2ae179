"""The LitePose network (Wang et al., CVPR 2022) as a PyTorch module.

Attribute names and nesting follow the reference implementation exactly, so that its
released checkpoints load with ``strict=True`` (keys such as ``first.0.0.weight``,
``stage.0.0.inv.0.weight``, ``deconv_refined.0.weight``, ``final_refined.0.conv.3.weight``).

Data flow: a stride-2 stem, four stages of inverted-residual blocks (features at strides
4, 8, 16, 16), then a fusion head of three deconvolutions back to strides 8, 4 and 2. Each
head level adds an upsampled copy of the refined features to an upsampled copy of a raw
backbone feature. Two outputs:

* stage 1, stride 4: ``2 * num_joints`` channels (heatmaps, then associative-embedding tags);
* stage 2, stride 2: ``num_joints`` heatmap channels.
"""
from typing import List, Tuple

import torch
from torch import nn

from ..common.architectures import DECONV_KERNEL, FINAL_KERNEL, ArchConfig, StageConfig, get_arch


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to the nearest multiple of ``divisor`` (at least ``divisor``), never losing over 10%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvBNReLU6(nn.Sequential):
    """Conv (same padding, no bias) + BN + ReLU6; children are indexed 0, 1, 2 as in the checkpoints."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """MobileNetV2 block with a large depthwise kernel: 1x1 expand, kxk depthwise, 1x1 project."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, kernel: int, expansion: int) -> None:
        super().__init__()
        hidden = make_divisible(round(in_ch * expansion), 8)
        self.inv = nn.Sequential(
            nn.Conv2d(in_ch, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)
        )
        self.depth_conv = nn.Sequential(
            nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
        )
        # Linear bottleneck: no activation after the projection.
        self.point_conv = nn.Sequential(nn.Conv2d(hidden, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch))
        self.use_residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.point_conv(self.depth_conv(self.inv(x)))
        return out + x if self.use_residual else out


class SepConv(nn.Module):
    """Depthwise kxk + BN + ReLU, then a 1x1 convolution to the output channels (no bias, no BN)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_ch, in_ch, kernel, 1, kernel // 2, groups=in_ch, bias=False),
            nn.BatchNorm2d(in_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_ch, out_ch, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def _deconv(in_ch: int, out_ch: int) -> nn.ConvTranspose2d:
    # Kernel 4, stride 2, padding 1: output is exactly twice the input size.
    return nn.ConvTranspose2d(in_ch, out_ch, DECONV_KERNEL, stride=2, padding=1, bias=False)


class LitePose(nn.Module):
    def __init__(self, arch: ArchConfig, num_joints: int) -> None:
        super().__init__()
        self.arch = arch
        self.num_joints = num_joints
        stem_ch = make_divisible(arch.input_channel)
        self.first = nn.Sequential(
            ConvBNReLU6(3, 32, kernel=3, stride=2),
            ConvBNReLU6(32, 32, kernel=3, stride=1, groups=32),
            nn.Conv2d(32, stem_ch, 1, bias=False),
            nn.BatchNorm2d(stem_ch),
        )
        # Channels of every feature map the head may use: stem output, then each stage's output.
        self.channels: List[int] = [stem_ch]
        self.stage = nn.ModuleList(self._make_stage(cfg) for cfg in arch.stages)
        self._make_head(num_joints)

    def _make_stage(self, cfg: StageConfig) -> nn.Sequential:
        in_ch, out_ch = self.channels[-1], make_divisible(cfg.channels)
        blocks = []
        for index in range(cfg.num_blocks):
            stride = cfg.stride if index == 0 else 1
            blocks.append(InvertedResidual(in_ch, out_ch, stride, cfg.kernel, cfg.expansion))
            in_ch = out_ch
        self.channels.append(out_ch)
        return nn.Sequential(*blocks)

    def _make_head(self, num_joints: int) -> None:
        filters = self.arch.deconv_channels
        refined_in = [self.channels[-1]] + list(filters[:-1])
        # Raw level i upsamples the backbone feature i+2 from the end: strides 16, 8, 4.
        raw_in = [self.channels[-i - 2] for i in range(len(filters))]
        self.deconv_refined = nn.ModuleList(_deconv(a, b) for a, b in zip(refined_in, filters))
        self.deconv_raw = nn.ModuleList(_deconv(a, b) for a, b in zip(raw_in, filters))
        self.deconv_bnrelu = nn.ModuleList(nn.Sequential(nn.BatchNorm2d(f), nn.ReLU(inplace=True)) for f in filters)
        # Outputs after head levels 1 (stride 4: heatmaps + one tag map per joint) and 2 (stride 2: heatmaps).
        out_ch = [2 * num_joints, num_joints]
        skip_ch = [self.channels[-4], self.channels[-5]]
        self.final_refined = nn.ModuleList(SepConv(filters[i + 1], out_ch[i], FINAL_KERNEL) for i in range(2))
        self.final_raw = nn.ModuleList(SepConv(skip_ch[i], out_ch[i], FINAL_KERNEL) for i in range(2))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        features = [self.first(x)]
        for stage in self.stage:
            features.append(stage(features[-1]))
        # features: stem (stride 2), then stages at strides 4, 8, 16, 16.
        refined, raw = features[-1], features[-2]
        outputs: List[torch.Tensor] = []
        for level in range(len(self.deconv_refined)):
            refined = self.deconv_bnrelu[level](self.deconv_refined[level](refined) + self.deconv_raw[level](raw))
            raw = features[-level - 3]  # the backbone feature at the resolution just reached
            if level > 0:
                head = level - 1
                outputs.append(self.final_refined[head](refined) + self.final_raw[head](raw))
        return outputs[0], outputs[1]


def build_model(arch: str, num_joints: int) -> LitePose:
    """A LitePose network of architecture ``arch`` (XS, S, M, L) with freshly initialised weights."""
    if num_joints <= 0:
        raise ValueError("num_joints must be positive, got {}".format(num_joints))
    return LitePose(get_arch(arch), num_joints)
