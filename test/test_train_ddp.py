"""Distributed training (two CPU processes, gloo) and exact resume."""
import os
import socket

import pytest

torch = pytest.importorskip("torch")

from train_testing import coco_root  # noqa: E402

from litepose_ros.model.checkpoint import read_checkpoint  # noqa: E402
from litepose_ros.training.trainer import TrainConfig, Trainer  # noqa: E402


def _config(root, output, **changes):
    settings = dict(arch="XS", dataset="coco", data_root=str(root), output=str(output), epochs=2, batch_size=2,
                    input_size=64, workers=0, no_val=True, progress=False, warmup_steps=2, seed=3, device="cpu")
    settings.update(changes)
    return TrainConfig(**settings)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ddp_worker(rank, world, port, root, output):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    trainer = Trainer(_config(root, output, batch_size=1, epochs=1))
    try:
        trainer.train()
        params = {k: v.detach().clone() for k, v in trainer._bare_model().named_parameters()}
        torch.save(params, os.path.join(output, "params_rank{}.pt".format(rank)))
        torch.distributed.barrier()
    finally:
        trainer.close()


def test_two_gloo_processes_agree_on_weights(coco_dir, tmp_path):
    root, output = coco_root(tmp_path, coco_dir), tmp_path / "ddp"
    output.mkdir()
    torch.multiprocessing.spawn(_ddp_worker, args=(2, _free_port(), str(root), str(output)), nprocs=2, join=True)
    rank0 = torch.load(str(output / "params_rank0.pt"))
    rank1 = torch.load(str(output / "params_rank1.pt"))
    saved, meta = read_checkpoint(str(output / "last.pth"))
    assert meta["step"] == 2  # 4 images / (2 processes x batch 1)
    initial = Trainer(_config(root, tmp_path / "unused")).model.state_dict()
    moved = 0
    for name, value in rank0.items():
        assert torch.equal(value, rank1[name]), name
        assert torch.equal(value, saved[name]), name
        moved += int(not torch.equal(value, initial[name]))
    assert moved > len(rank0) // 2  # the processes trained, and identically


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(coco_dir, tmp_path):
    root = coco_root(tmp_path, coco_dir)
    torch.set_num_threads(1)
    Trainer(_config(root, tmp_path / "straight")).train()
    # Interrupted mid-epoch (step 3 of 4), then resumed to the end.
    Trainer(_config(root, tmp_path / "split", max_steps=3)).train()
    interrupted, meta = read_checkpoint(str(tmp_path / "split" / "last.pth"))
    assert meta["step"] == 3
    Trainer(_config(root, tmp_path / "split", resume=True)).train()
    straight, _ = read_checkpoint(str(tmp_path / "straight" / "last.pth"))
    resumed, meta = read_checkpoint(str(tmp_path / "split" / "last.pth"))
    assert meta["step"] == 4 and meta["epoch"] == 2
    assert any(not torch.equal(interrupted[k], straight[k]) for k in straight)
    for name, value in straight.items():
        assert torch.equal(value, resumed[name]), name
