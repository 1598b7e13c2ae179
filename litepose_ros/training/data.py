"""The torch side of the data: a Dataset of training samples and a resumable sampler.

Augmentation randomness is a pure function of (seed, epoch, image index), so a sample is
the same whichever worker or process draws it, and a resumed run sees exactly the
images and augmentations the uninterrupted run would have.
"""
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

from ..common.keypoints import KeypointSet
from .datasets import ImageRecord, read_rgb
from .targets import OFFICIAL, SampleOptions, as_tensors, make_sample, sample_params
from .transforms import AugmentConfig


class PoseDataset(Dataset):
    def __init__(self, records: Sequence[ImageRecord], kps: KeypointSet, input_size: Tuple[int, int],
                 augment: AugmentConfig, seed: int = 0, options: SampleOptions = OFFICIAL) -> None:
        self.records = list(records)
        self.kps = kps
        self.input_size = input_size
        self.augment = augment
        self.seed = seed
        self.options = options

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, item: Tuple[int, int]) -> Dict[str, Any]:
        epoch, index = item
        record = self.records[index]
        rng = np.random.default_rng([self.seed, epoch, index])
        params = sample_params(self.augment, rng, record.width, record.height, self.options.crop)
        sample = make_sample(record, read_rgb(record.path), self.kps, self.input_size, params,
                             options=self.options)
        return as_tensors(sample)


class EpochSampler(Sampler):
    """DistributedSampler's shard of each epoch, as (epoch, index) pairs, optionally skipping a prefix.

    Works without a process group (num_replicas=1) too. ``skip`` drops this rank's first
    samples, which is how a run resumed mid-epoch continues where it stopped.
    """

    def __init__(self, size: int, num_replicas: int, rank: int, seed: int, shuffle: bool = True) -> None:
        self.inner = DistributedSampler(range(size), num_replicas=num_replicas, rank=rank, shuffle=shuffle,
                                        seed=seed, drop_last=False)
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch = epoch
        self.skip = skip
        self.inner.set_epoch(epoch)

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        indices: List[int] = list(self.inner)[self.skip:]
        return iter([(self.epoch, i) for i in indices])

    def __len__(self) -> int:
        return max(0, len(self.inner) - self.skip)


def collate(samples: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {
        "image": torch.stack([s["image"] for s in samples]),
        "heatmaps": [torch.stack(maps) for maps in zip(*(s["heatmaps"] for s in samples))],
        "masks": [torch.stack(masks) for masks in zip(*(s["masks"] for s in samples))],
        "joints": torch.stack([s["joints"] for s in samples]),
    }
