"""Fold inference-mode batch normalisation into the preceding convolutions.

In eval mode BN is a per-channel affine map ``y = scale * x + shift`` with
``scale = gamma / sqrt(running_var + eps)`` and ``shift = beta - running_mean * scale``.
When BN directly follows a convolution it can be absorbed into the convolution's weight
and bias, which removes a memory pass per layer on the target devices (and TensorRT 8.0
does not fuse BN after a ConvTranspose by itself).

Two patterns are folded:

* a convolution followed by BN inside an ``nn.Sequential`` (the backbone and the
  separable output convolutions): nothing else reads the convolution's output there;
* the LitePose head, ``BN(deconv_refined(a) + deconv_raw(b))``: BN is affine, so it
  distributes over the sum; both deconvolutions are scaled and the shift becomes the
  refined deconvolution's bias.
"""
import copy
from typing import Tuple

import torch
from torch import nn


def _bn_scale_shift(bn: nn.BatchNorm2d) -> Tuple[torch.Tensor, torch.Tensor]:
    # Float64 so that folding adds no rounding of its own beyond the final cast.
    var = bn.running_var.double()
    mean = bn.running_mean.double()
    gamma = bn.weight.double() if bn.affine else torch.ones_like(var)
    beta = bn.bias.double() if bn.affine else torch.zeros_like(var)
    scale = gamma / torch.sqrt(var + bn.eps)
    return scale, beta - mean * scale


def _foldable(bn: nn.Module) -> bool:
    # Without running statistics BN normalises with batch statistics even in eval mode.
    return isinstance(bn, nn.BatchNorm2d) and bn.running_mean is not None and bn.running_var is not None


def _scale_out_channels(conv: nn.Module, scale: torch.Tensor) -> None:
    """Multiply each output channel of a Conv2d or (ungrouped) ConvTranspose2d by ``scale``."""
    weight = conv.weight.detach().double()
    if isinstance(conv, nn.ConvTranspose2d):
        # ConvTranspose2d weights are laid out (in, out / groups, kh, kw).
        if conv.groups != 1:
            raise ValueError("folding BN into a grouped ConvTranspose2d is not supported")
        weight = weight * scale.view(1, -1, 1, 1)
    else:
        weight = weight * scale.view(-1, 1, 1, 1)
    conv.weight = nn.Parameter(weight.to(conv.weight.dtype))


def _add_bias(conv: nn.Module, scale: torch.Tensor, shift: torch.Tensor) -> None:
    """Set the bias to ``old_bias * scale + shift`` (old bias 0 when the layer had none)."""
    old = conv.bias.detach().double() if conv.bias is not None else torch.zeros_like(shift)
    conv.bias = nn.Parameter((old * scale + shift).to(conv.weight.dtype))


def _fold_sequential(seq: nn.Sequential) -> int:
    folded = 0
    children = list(seq.named_children())
    for (_, conv), (bn_name, bn) in zip(children, children[1:]):
        if isinstance(conv, nn.Conv2d) and _foldable(bn):
            scale, shift = _bn_scale_shift(bn)
            _scale_out_channels(conv, scale)
            _add_bias(conv, scale, shift)
            setattr(seq, bn_name, nn.Identity())
            folded += 1
    return folded


def _fold_fusion_head(model: nn.Module) -> int:
    """Fold ``deconv_bnrelu[i][0]`` into ``deconv_refined[i]`` and ``deconv_raw[i]`` (LitePose head)."""
    if not all(hasattr(model, name) for name in ("deconv_refined", "deconv_raw", "deconv_bnrelu")):
        return 0
    folded = 0
    for refined, raw, bn_relu in zip(model.deconv_refined, model.deconv_raw, model.deconv_bnrelu):
        bn = bn_relu[0]
        if not _foldable(bn):
            continue
        scale, shift = _bn_scale_shift(bn)
        _scale_out_channels(refined, scale)
        _scale_out_channels(raw, scale)
        # The shift must be added once to the sum: it goes to the refined branch only.
        _add_bias(refined, scale, shift)
        if raw.bias is not None:
            _add_bias(raw, scale, torch.zeros_like(shift))
        bn_relu[0] = nn.Identity()
        folded += 1
    return folded


def fuse_batchnorm(model: nn.Module) -> nn.Module:
    """Return an eval-mode copy of ``model`` with every foldable BatchNorm2d folded away.

    The copy is for inference only (its BN layers are gone); ``model`` itself is untouched.
    In eval mode the copy's outputs equal the original's up to float rounding.
    """
    fused = copy.deepcopy(model).eval()
    with torch.no_grad():
        _fold_fusion_head(fused)
        for module in list(fused.modules()):
            if isinstance(module, nn.Sequential):
                _fold_sequential(module)
    return fused


def count_batchnorms(model: nn.Module) -> int:
    """Number of BatchNorm layers left in ``model`` (0 after a complete fold of LitePose)."""
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
