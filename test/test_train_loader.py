"""Data loading of `litepose train`: worker count, workers kept across epochs, the help's pointer."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from train_testing import coco_root  # noqa: E402

from litepose_ros.training import trainer as trainer_module  # noqa: E402
from litepose_ros.training.data import PoseDataset  # noqa: E402
from litepose_ros.training.trainer import TrainConfig, Trainer, default_workers  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def test_train_help_points_at_documentation_that_exists():
    done = subprocess.run([sys.executable, "-m", "litepose_ros.cli", "train", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "docs/" not in text
    section = re.search(r"README\.md, section '([^']+)'", text).group(1)
    headings = [line.lstrip("#").strip().replace("`", "") for line in (REPO / "README.md").read_text().splitlines()
                if line.startswith("## ")]
    assert section in headings


@pytest.mark.parametrize("cpus,processes,expected", [(2, None, 2), (1, None, 1), (16, None, 4), (16, "8", 2),
                                                     (2, "4", 1)])
def test_default_workers_fit_the_machine(monkeypatch, cpus, processes, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)))
    if processes is None:
        monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    else:
        monkeypatch.setenv("LOCAL_WORLD_SIZE", processes)
    assert default_workers() == expected
    assert TrainConfig(arch="XS", dataset="coco", data_root="r", output="o").workers == expected
    assert TrainConfig(arch="XS", dataset="coco", data_root="r", output="o", workers=0).workers == 0


def test_loader_workers_live_for_the_whole_run(tmp_path, coco_dir, monkeypatch):
    """Three epochs, one worker: every sample of every epoch is made by the same worker process."""
    log = tmp_path / "pids.txt"
    original = PoseDataset.__getitem__

    def recording(self, item):
        with open(str(log), "a") as stream:  # runs in the worker (forked: it inherits this patch)
            stream.write("{} {}\n".format(item[0], os.getpid()))
        return original(self, item)

    monkeypatch.setattr(PoseDataset, "__getitem__", recording)
    config = TrainConfig(arch="XS", dataset="coco", data_root=str(coco_root(tmp_path, coco_dir)),
                         output=str(tmp_path / "run"), epochs=3, batch_size=2, input_size=64, workers=1, no_val=True,
                         progress=False, warmup_steps=1, seed=1, device="cpu")
    created = []
    real_loader = trainer_module.DataLoader
    monkeypatch.setattr(trainer_module, "DataLoader", lambda *a, **k: created.append(k) or real_loader(*a, **k))
    run = Trainer(config)
    try:
        run.train()
    finally:
        run.close()
    pids = {}
    for line in log.read_text().split("\n")[:-1]:
        epoch, pid = line.split()
        pids.setdefault(int(epoch), set()).add(int(pid))
    assert sorted(pids) == [0, 1, 2]
    assert len(set.union(*pids.values())) == 1 and os.getpid() not in pids[0], pids
    assert len(created) == 1 and created[0]["persistent_workers"] is True
