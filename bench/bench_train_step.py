"""CPU cost of one training step, with and without channels_last, and what it does to the gradients.

One step = forward, loss, backward and an Adam update, on real training samples (the shared COCO
images through the official sample recipe). The float32 gradients of each memory format are
compared with float64 gradients of the same weights and batch:
relative error = ||g32 - g64|| / ||g64|| over all parameters.

    .venv/bin/python bench/bench_train_step.py --arch XS --size 256 --batch 2 --steps 8

Prints the median and 90th percentile step time per memory format, their ratio, and the errors.
Timing only: no pass/fail.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from litepose_ros.common.keypoints import COCO  # noqa: E402
from litepose_ros.training.data import collate  # noqa: E402
from litepose_ros.training.datasets import load_split, read_rgb  # noqa: E402
from litepose_ros.training.loss import total_loss  # noqa: E402
from litepose_ros.training.targets import as_tensors, make_sample, sample_params  # noqa: E402
from litepose_ros.training.trainer import TrainConfig, new_model  # noqa: E402
from litepose_ros.training.transforms import AugmentConfig  # noqa: E402

SHARED = Path(os.environ.get("LITEPOSE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def coco_batch(size: int, batch: int) -> dict:
    """``batch`` augmented samples of the shared COCO images (official recipe), seeded."""
    coco = SHARED / "coco"
    root = Path("/tmp") / "bench_train_step_coco"
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for link, target in (("val2017", coco), ("annotations/person_keypoints_val2017.json",
                                               coco / "person_keypoints_mmpose_test.json")):
        if not (root / link).exists():
            (root / link).symlink_to(target)
    records = load_split("coco", str(root), "val")
    rng = np.random.default_rng(0)
    samples = []
    for i in range(batch):
        record = records[i % len(records)]
        params = sample_params(AugmentConfig(), rng, record.width, record.height)
        samples.append(as_tensors(make_sample(record, read_rgb(record.path), COCO, (size, size), params)))
    return collate(samples)


def gradients(model: torch.nn.Module, batch: dict, dtype: torch.dtype, channels_last: bool) -> torch.Tensor:
    model = model.to(dtype)
    images = batch["image"].to(dtype)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    model.zero_grad(set_to_none=True)
    loss, _ = total_loss(model(images), [h.to(dtype) for h in batch["heatmaps"]],
                         [m.to(dtype) for m in batch["masks"]], batch["joints"])
    loss.backward()
    return torch.cat([p.grad.reshape(-1).double() for p in model.parameters()])


def step_times(model: torch.nn.Module, batch: dict, channels_last: bool, steps: int) -> list:
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=4e-3)
    images = batch["image"].contiguous(memory_format=torch.channels_last) if channels_last else batch["image"]
    times = []
    for index in range(steps + 1):
        start = time.perf_counter()
        loss, _ = total_loss(model(images), batch["heatmaps"], batch["masks"], batch["joints"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if index:  # the first step warms up allocators and kernels
            times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="XS")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    batch = coco_batch(args.size, args.batch)
    torch.manual_seed(0)
    initial = new_model(TrainConfig(args.arch, "coco", "", ""), COCO.num_joints).state_dict()

    def fresh() -> torch.nn.Module:
        model = new_model(TrainConfig(args.arch, "coco", "", ""), COCO.num_joints)
        model.load_state_dict(initial)
        return model.train()

    reference = gradients(fresh(), batch, torch.float64, False)
    print("LitePose-{} @{} batch {}, {} torch threads, {} timed steps per format".format(
        args.arch, args.size, args.batch, torch.get_num_threads(), args.steps))
    medians = {}
    for channels_last in (False, True):
        name = "channels_last" if channels_last else "contiguous (NCHW)"
        g32 = gradients(fresh(), batch, torch.float32, channels_last)
        error = float((g32 - reference).norm() / reference.norm())
        times = np.array(step_times(fresh(), batch, channels_last, args.steps))
        medians[channels_last] = float(np.median(times))
        print("{:18s} step median {:.3f} s, p90 {:.3f} s; float32 gradient error vs float64 {:.2%}".format(
            name, medians[channels_last], float(np.percentile(times, 90)), error))
    print("channels_last / contiguous step time: {:.2f}".format(medians[True] / medians[False]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
