"""Seconds per epoch of `litepose train` with persistent loader workers vs. workers started every epoch.

A short fine-tuning-sized run (the shared COCO sample images, XS at 64 px, one thread) so that
starting the loader processes is visible next to the steps. Runs alternate between the two modes
to share the machine's load; prints each run and the median ratio.

    .venv/bin/python bench/bench_train_loader.py [--epochs 10] [--workers 2] [--repeats 2]
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from litepose_ros.training import trainer as trainer_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test"))
from train_testing import coco_root  # noqa: E402  (the training tests' data layout)

REPO = Path(__file__).resolve().parent.parent


class RestartingTrainer(trainer_module.Trainer):
    """The behaviour before persistent workers: a new DataLoader (new processes) every epoch."""

    def _loader(self):
        self._train_loader = None
        return super()._loader()


def run_once(kind: type, data: Path, epochs: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        config = trainer_module.TrainConfig(
            arch="XS", dataset="coco", data_root=str(data), output=out, epochs=epochs, batch_size=2, input_size=64,
            workers=workers, no_val=True, progress=False, warmup_steps=1, seed=1, device="cpu")
        trainer = kind(config)
        started = time.perf_counter()
        trainer.train()
        elapsed = time.perf_counter() - started
        trainer.close()
    return elapsed / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--images", default=str(REPO.parent / "shared" / "data" / "coco"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        data = coco_root(Path(tmp), Path(args.images))
        times = {"restarting": [], "persistent": []}
        for _ in range(args.repeats):
            for name, kind in (("restarting", RestartingTrainer), ("persistent", trainer_module.Trainer)):
                times[name].append(run_once(kind, data, args.epochs, args.workers))
                print("{}: {:.3f} s/epoch".format(name, times[name][-1]), flush=True)
    restart, keep = statistics.median(times["restarting"]), statistics.median(times["persistent"])
    print("median s/epoch: restarting {:.3f}, persistent {:.3f}, ratio {:.2f}x ({} epochs, {} workers)".format(
        restart, keep, restart / keep, args.epochs, args.workers))


if __name__ == "__main__":
    main()
