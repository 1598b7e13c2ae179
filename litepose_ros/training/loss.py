"""The LitePose / HigherHRNet training loss.

* Heatmaps, both stages: squared error, zeroed where the mask says "do not supervise",
  averaged over joints and pixels (factor 1 each).
* Associative embedding, stage 1 only, the "exp" form: *pull* is each person's variance of
  tag values around their mean tag; *push* is ``exp(-(m_a - m_b)^2)`` averaged over ordered
  pairs of distinct people, halved. Both weighted 1e-3.
"""
from typing import Dict, List, Sequence, Tuple

import torch

AE_FACTOR = 1e-3


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sample masked MSE: pred/target [B, J, H, W], mask [B, H, W] -> [B]."""
    return ((pred - target) ** 2 * mask[:, None]).mean(dim=(1, 2, 3))


def ae_loss(tags: torch.Tensor, joints: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-sample (pull, push) of tag maps [B, J, H, W] at joints [B, P, J, 2] (flat index, valid)."""
    batch, people, num_joints, _ = joints.shape
    valid = joints[..., 1].to(tags.dtype)
    values = tags.reshape(batch, -1).gather(1, joints[..., 0].reshape(batch, -1)).reshape(batch, people, num_joints)
    count = valid.sum(-1)
    present = (count > 0).to(tags.dtype)
    mean = (values * valid).sum(-1) / count.clamp(min=1)
    spread = ((values - mean[..., None]) ** 2 * valid).sum(-1) / count.clamp(min=1)
    num_people = present.sum(-1)
    pull = (spread * present).sum(-1) / num_people.clamp(min=1)

    pairs = present[:, :, None] * present[:, None, :] * (1 - torch.eye(people, dtype=tags.dtype, device=tags.device))
    closeness = torch.exp(-((mean[:, :, None] - mean[:, None, :]) ** 2))
    push = 0.5 * (closeness * pairs).sum(dim=(1, 2)) / (num_people * (num_people - 1)).clamp(min=1)
    return pull, push


def total_loss(outputs: Sequence[torch.Tensor], heatmaps: Sequence[torch.Tensor], masks: Sequence[torch.Tensor],
               joints: torch.Tensor, ae_factor: float = AE_FACTOR) -> Tuple[torch.Tensor, Dict[str, float]]:
    """Scalar loss (batch mean) and its parts; outputs = (stage1 [B, 2J, ...], stage2 [B, J, ...])."""
    num_joints = heatmaps[0].shape[1]
    stage1, stage2 = (o.float() for o in outputs)  # the loss in float32 even under autocast
    parts: List[torch.Tensor] = [
        heatmap_loss(stage1[:, :num_joints], heatmaps[0], masks[0]).mean(),
        heatmap_loss(stage2, heatmaps[1], masks[1]).mean(),
    ]
    pull, push = ae_loss(stage1[:, num_joints:], joints)
    parts += [ae_factor * pull.mean(), ae_factor * push.mean()]
    total = parts[0] + parts[1] + parts[2] + parts[3]
    names = ("heatmap1", "heatmap2", "pull", "push")
    return total, {name: float(value.detach()) for name, value in zip(names, parts)}
