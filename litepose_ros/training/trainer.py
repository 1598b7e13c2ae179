"""The training loop: single process, or one process per GPU/CPU under ``torchrun`` (DDP).

Run state lives in the output directory:

* ``last.pth`` / ``best.pth``: weights in the official format plus ``litepose_metadata``
  (``litepose export --checkpoint`` takes them as they are);
* ``train_state.pt``: optimizer, AMP scaler, RNG states and position (epoch, step), which
  together with ``last.pth`` make ``--resume`` continue exactly where the run stopped;
* ``train_log.csv``, ``val_log.csv``, ``config.json``.
"""
import csv
import json
import math
import os
import random
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from ..common.interrupt import GracefulInterrupt
from ..common.keypoints import get_keypoint_set
from ..common.metadata import ModelMetadata
from ..model.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from ..model.litepose import build_model
from .data import EpochSampler, PoseDataset, collate
from .datasets import DEFAULT_SPLITS, check_images, load_split, split_paths
from .loss import total_loss
from .targets import SampleOptions
from .transforms import CROPS, NO_AUGMENT, AugmentConfig
from .validation import validate

# Official recipe: Adam at 4e-3, whatever the number of GPUs (16 images per GPU and step);
# x0.1 at 70% and 96% of training (LitePose CrowdPose: 500 epochs, steps at 350 and 480).
BASE_LR = 4e-3
BASE_BATCH = 16
LR_SCALINGS = ("none", "sqrt")
LR_FACTOR = 0.1
LR_STEP_FRACTIONS = (0.7, 0.96)
STATE_FILE = "train_state.pt"


@dataclass
class TrainConfig:
    arch: str
    dataset: str
    data_root: str
    output: str
    epochs: int = 500
    batch_size: int = 16  # per process
    lr: Optional[float] = None  # None: base_learning_rate(lr_scaling, total batch)
    lr_scaling: str = "none"  # official: BASE_LR whatever the total batch; "sqrt": x sqrt(batch / 16)
    lr_steps: Optional[List[int]] = None  # epochs; None: LR_STEP_FRACTIONS of epochs
    warmup_steps: int = 0  # official: none
    input_size: Optional[int] = None  # None: the arch's official size
    amp: bool = False  # official: fp32
    channels_last: bool = False
    grad_clip: float = 0.0  # max gradient norm; 0: off
    seed: int = 0
    deterministic: bool = False
    workers: Optional[int] = None  # data-loader processes per training process; None: default_workers()
    augment: bool = True
    crop: str = "short"  # official SCALE_TYPE short; "long": letterbox geometry (the robot's input)
    supervise_padding: bool = False  # official: padding unsupervised
    crowdpose_masks: bool = False  # official: CrowdPose masks nothing
    normal_init: bool = False  # official: PyTorch's default initialisation; True: HigherHRNet's N(0, 1e-3)
    init: Optional[str] = None
    resume: bool = False
    train_split: Optional[str] = None
    val_split: Optional[str] = None
    val_every: int = 10  # epochs; validation also runs after the last epoch
    val_protocol: str = "official"
    val_max_images: int = 0  # 0: all
    no_val: bool = False
    max_steps: int = 0  # stop (resumably) after this many steps in total; 0: no limit
    log_every: int = 20
    progress: bool = True
    device: str = ""  # "" picks cuda when available
    extra: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.workers is None:
            self.workers = default_workers()
        if self.crop not in CROPS:
            raise ValueError("crop must be one of {}, got {!r}".format(CROPS, self.crop))
        if self.lr_scaling not in LR_SCALINGS:
            raise ValueError("lr scaling must be one of {}, got {!r}".format(LR_SCALINGS, self.lr_scaling))


def default_workers() -> int:
    """min(4, the CPUs this process may use, shared by the training processes on this machine).

    More loader processes than cores only adds contention (and a PyTorch warning); 4 keep a
    GPU fed at LitePose's input sizes.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    processes = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    return max(1, min(4, cpus // processes))


# ----------------------------------------------------------------------------- set-up helpers
def distributed_env() -> Tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) without it."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def pick_device(requested: str, local_rank: int) -> torch.device:
    if requested:
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        # Required by cuBLAS for deterministic matmuls; harmless on the CPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True


def initialise_from(model: nn.Module, path: str) -> List[str]:
    """Load an official or litepose_ros checkpoint; return the tensors left freshly initialised.

    Only the output convolutions may differ in shape (another dataset's joint count): they
    keep their new initialisation. Any other difference means another architecture: error.
    """
    state, _ = read_checkpoint(path)
    own = model.state_dict()
    missing = sorted(k for k in own if k not in state and not k.endswith("num_batches_tracked"))
    unexpected = sorted(k for k in state if k not in own)
    reshaped = sorted(k for k in own if k in state and own[k].shape != state[k].shape)
    not_head = [k for k in reshaped if not k.startswith(("final_refined.", "final_raw."))]
    if missing or unexpected or not_head:
        raise CheckpointError("{} is not a checkpoint of this architecture: missing {}, unexpected {}, "
                              "reshaped outside the output heads {}".format(path, missing[:10], unexpected[:10],
                                                                            not_head[:10]))
    loaded = {k: v for k, v in state.items() if k not in reshaped}
    model.load_state_dict(loaded, strict=False)
    return reshaped


def normal_init(model: nn.Module) -> None:
    """HigherHRNet's initialisation (``--normal-init``): convolutions N(0, 0.001), BN identity.

    Not LitePose's: its network has no initialisation code and keeps PyTorch's defaults.
    """
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(module.weight, std=0.001)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def new_model(config: TrainConfig, num_joints: int) -> nn.Module:
    """The network a run starts from: PyTorch's initialisation (the official model has no
    initialisation code of its own), or HigherHRNet's with ``normal_init``."""
    model = build_model(config.arch, num_joints)
    if config.normal_init:
        normal_init(model)
    return model


def base_learning_rate(scaling: str, total_batch: int) -> float:
    """Peak learning rate for ``total_batch`` images per step (all processes together).

    ``none`` is the official behaviour: every GPU takes 16 images and the rate stays 4e-3.
    """
    if scaling == "none":
        return BASE_LR
    if scaling == "sqrt":
        return BASE_LR * math.sqrt(total_batch / BASE_BATCH)
    raise ValueError("lr scaling must be one of {}, got {!r}".format(LR_SCALINGS, scaling))


def learning_rate(config: TrainConfig, base: float, step: int, epoch: int) -> float:
    """Linear warm-up over the first steps, then x LR_FACTOR at each step epoch passed."""
    steps = config.lr_steps if config.lr_steps is not None else [
        int(round(f * config.epochs)) for f in LR_STEP_FRACTIONS]
    decay = LR_FACTOR ** sum(1 for s in steps if epoch >= s)
    warm = min(1.0, (step + 1) / config.warmup_steps) if config.warmup_steps > 0 else 1.0
    return base * decay * warm


def _rng_state() -> Dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: Dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class CsvLog(object):
    def __init__(self, path: str, columns: List[str]) -> None:
        self.path, self.columns = path, columns
        if not os.path.exists(path):
            with open(path, "w", newline="") as stream:
                csv.writer(stream).writerow(columns)

    def write(self, row: Dict[str, Any]) -> None:
        with open(self.path, "a", newline="") as stream:
            csv.writer(stream).writerow([_cell(row.get(c, "")) for c in self.columns])


def _cell(value: Any) -> Any:
    return "{:.6g}".format(value) if isinstance(value, float) else value


# ----------------------------------------------------------------------------- the trainer
class Trainer(object):
    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self._train_loader: Optional[DataLoader] = None
        self.rank, self.world, local_rank = distributed_env()
        self.device = pick_device(config.device, local_rank)
        if self.world > 1 and not dist.is_initialized():
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        seed_everything(config.seed, config.deterministic)
        self.kps = get_keypoint_set(config.dataset)
        size = config.input_size or build_model(config.arch, 1).arch.img_size
        self.input_size = (size, size)
        self.metadata = ModelMetadata.for_dataset(config.arch.upper(), self.kps.name, size, size, weights="training")
        self.model = new_model(config, self.kps.num_joints).to(self.device)
        if config.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.total_batch = config.batch_size * self.world
        self.base_lr = config.lr if config.lr is not None else base_learning_rate(config.lr_scaling, self.total_batch)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.base_lr)
        use_scaler = config.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.best_ap = -1.0
        self._load_data()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def log(self, message: str) -> None:
        if self.is_main:
            print(message, flush=True)

    def _path(self, name: str) -> str:
        return os.path.join(self.config.output, name)

    def _load_data(self) -> None:
        cfg = self.config
        train_split, val_split = DEFAULT_SPLITS[self.kps.name]
        records = load_split(self.kps.name, cfg.data_root, cfg.train_split or train_split)
        check_images(records, limit=50)
        augment = AugmentConfig() if cfg.augment else NO_AUGMENT
        options = SampleOptions(crop=cfg.crop, supervise_padding=cfg.supervise_padding,
                                crowdpose_masks=cfg.crowdpose_masks)
        self.train_set = PoseDataset(records, self.kps, self.input_size, augment, cfg.seed, options)
        self.sampler = EpochSampler(len(records), self.world, self.rank, cfg.seed)
        self.steps_per_epoch = len(self.sampler.inner) // cfg.batch_size
        if self.steps_per_epoch == 0:
            raise ValueError("{} training images over {} process(es) do not fill one batch of {}".format(
                len(records), self.world, cfg.batch_size))
        self.val_records: List[Any] = []
        if not cfg.no_val:
            self.val_annotations = split_paths(self.kps.name, cfg.data_root, cfg.val_split or val_split)[0]
            self.val_records = load_split(self.kps.name, cfg.data_root, cfg.val_split or val_split)
            if cfg.val_max_images > 0:
                self.val_records = self.val_records[:cfg.val_max_images]
            check_images(self.val_records)

    # ------------------------------------------------------------------ checkpoints
    def _metadata(self, **extra: Any) -> Dict[str, Any]:
        meta = {"arch": self.config.arch.upper(), "dataset": self.kps.name, "input_size": list(self.input_size),
                "epoch": self.epoch, "step": self.global_step, "tool": "litepose_ros train"}
        meta.update(extra)
        return meta

    def _bare_model(self) -> nn.Module:
        return self.model.module if isinstance(self.model, nn.parallel.DistributedDataParallel) else self.model

    def save(self) -> None:
        """last.pth + train_state.pt, written atomically (rank 0 only)."""
        if not self.is_main:
            return
        save_checkpoint(self._bare_model(), self._path("last.pth.tmp"), self._metadata())
        state = {"optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
                 "epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "global_step": self.global_step,
                 "best_ap": self.best_ap, "rng": _rng_state(), "config": _plain(asdict(self.config))}
        torch.save(state, self._path(STATE_FILE + ".tmp"))
        os.replace(self._path("last.pth.tmp"), self._path("last.pth"))
        os.replace(self._path(STATE_FILE + ".tmp"), self._path(STATE_FILE))

    def _resume(self) -> None:
        read_state, _ = read_checkpoint(self._path("last.pth"))
        self.model.load_state_dict(read_state)
        state = torch.load(self._path(STATE_FILE), map_location="cpu", weights_only=True)
        saved = state["config"]
        for key in ("arch", "dataset", "batch_size", "input_size"):
            if saved.get(key) != getattr(self.config, key):
                raise ValueError("--resume: {} was {!r} in the interrupted run, now {!r}".format(
                    key, saved.get(key), getattr(self.config, key)))
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step_in_epoch = state["epoch"], state["step_in_epoch"]
        self.global_step, self.best_ap = state["global_step"], state["best_ap"]
        _set_rng_state(state["rng"])
        self.log("resumed at epoch {} step {} (global step {})".format(
            self.epoch, self.step_in_epoch, self.global_step))

    def prepare(self) -> None:
        cfg = self.config
        if self.is_main:
            if os.path.exists(self._path("last.pth")) and not cfg.resume:
                raise ValueError("{} already holds a run; pass --resume or pick another --output".format(cfg.output))
            os.makedirs(cfg.output, exist_ok=True)
            with open(self._path("config.json"), "w") as stream:
                json.dump(_plain(asdict(cfg)), stream, indent=2)
        if cfg.resume:
            self._resume()
        elif cfg.init:
            fresh = initialise_from(self.model, cfg.init)
            self.log("initialised from {}{}".format(cfg.init, "; re-initialised " + ", ".join(fresh) if fresh else ""))
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

    # ------------------------------------------------------------------ loop
    def _loader(self) -> DataLoader:
        self.sampler.set_epoch(self.epoch, skip=self.step_in_epoch * self.config.batch_size)
        if self._train_loader is None:
            # One loader for the whole run, with persistent workers: starting the worker
            # processes again every epoch costs seconds, which dominates fine-tuning on a few
            # hundred images. The workers' dataset copies never need updating, because the
            # epoch travels with every sample index (EpochSampler yields (epoch, index)).
            workers = self.config.workers or 0
            self._train_loader = DataLoader(
                self.train_set, batch_size=self.config.batch_size, sampler=self.sampler, num_workers=workers,
                collate_fn=collate, drop_last=True, pin_memory=self.device.type == "cuda",
                persistent_workers=workers > 0)
        return self._train_loader

    def _step(self, batch: Dict[str, Any]) -> Dict[str, float]:
        cfg = self.config
        lr = learning_rate(cfg, self.base_lr, self.global_step, self.epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        to = self.device
        images = batch["image"].to(to, non_blocking=True)
        if cfg.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        heatmaps = [h.to(to, non_blocking=True) for h in batch["heatmaps"]]
        masks = [m.to(to, non_blocking=True) for m in batch["masks"]]
        amp_dtype = torch.float16 if to.type == "cuda" else torch.bfloat16
        with torch.autocast(to.type, dtype=amp_dtype, enabled=cfg.amp):
            outputs = self.model(images)
        loss, parts = total_loss(outputs, heatmaps, masks, batch["joints"].to(to, non_blocking=True))
        if not math.isfinite(parts["heatmap1"] + parts["heatmap2"] + parts["pull"] + parts["push"]):
            raise FloatingPointError("loss became {} at step {}".format(parts, self.global_step))
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        parts.update(loss=float(loss.detach()), lr=lr)
        return parts

    def _epoch(self, stop: GracefulInterrupt, train_log: CsvLog) -> bool:
        """One (possibly resumed) epoch; False when the run must stop early (interrupt, max steps)."""
        cfg = self.config
        bar = None
        if cfg.progress and self.is_main:
            from tqdm import tqdm

            bar = tqdm(total=self.steps_per_epoch, initial=self.step_in_epoch, unit="step",
                       desc="epoch {}/{}".format(self.epoch + 1, cfg.epochs), dynamic_ncols=True)
        self.model.train()
        started, seen = time.time(), 0
        for batch in self._loader():
            parts = self._step(batch)
            self.step_in_epoch += 1
            self.global_step += 1
            seen += batch["image"].shape[0] * self.world
            parts["images_per_s"] = seen / max(1e-9, time.time() - started)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss="{:.3g}".format(parts["loss"]), lr="{:.2g}".format(parts["lr"]),
                                img_s="{:.1f}".format(parts["images_per_s"]))
            if self.is_main and (self.global_step % cfg.log_every == 0 or self.step_in_epoch == 1):
                train_log.write(dict(parts, epoch=self.epoch, step=self.global_step))
            if stop.stopped or (cfg.max_steps and self.global_step >= cfg.max_steps):
                break
        if bar is not None:
            bar.close()
        if self.step_in_epoch < self.steps_per_epoch:
            return False
        self.epoch += 1
        self.step_in_epoch = 0
        return True

    def _validate(self, val_log: CsvLog) -> Optional["OrderedDict[str, float]"]:
        metrics: Optional["OrderedDict[str, float]"] = None
        if self.is_main and self.val_records:
            metrics = validate(self._bare_model(), self.val_records, self.val_annotations, self.metadata,
                               self.device, self.config.val_protocol, self.config.progress,
                               work_dir=self.config.output if self.config.val_max_images else None)
            val_log.write(dict(metrics, epoch=self.epoch, step=self.global_step))
            self.log("epoch {} validation AP {:.4f} ({} protocol)".format(
                self.epoch, metrics["AP"], self.config.val_protocol))
            if metrics["AP"] > self.best_ap:
                self.best_ap = metrics["AP"]
                save_checkpoint(self._bare_model(), self._path("best.pth"),
                                self._metadata(val_ap=self.best_ap, val_protocol=self.config.val_protocol))
        if self.world > 1:
            dist.barrier()
        return metrics

    def train(self) -> Optional["OrderedDict[str, float]"]:
        """Run (or resume) training; return the final validation metrics (rank 0, None otherwise)."""
        cfg = self.config
        self.prepare()
        names = ["epoch", "step", "lr", "loss", "heatmap1", "heatmap2", "pull", "push", "images_per_s"]
        train_log = CsvLog(self._path("train_log.csv"), names) if self.is_main else None
        val_log = CsvLog(self._path("val_log.csv"), ["epoch", "step"] + _metric_names(self.kps.name)) \
            if self.is_main else None
        self.log("LitePose-{} {} {}x{}: {} training images, {} steps/epoch, {} process(es) x batch {}, "
                 "lr {:.3g}".format(
            cfg.arch.upper(), self.kps.name, self.input_size[0], self.input_size[1], len(self.train_set),
            self.steps_per_epoch, self.world, cfg.batch_size, self.base_lr))
        metrics = None
        with GracefulInterrupt("interrupt: saving a resumable state after this step (Ctrl-C again to abort)") as stop:
            while self.epoch < cfg.epochs:
                finished = self._epoch(stop, train_log)
                if not finished or stop.stopped or (cfg.max_steps and self.global_step >= cfg.max_steps):
                    self.save()
                    self.log("stopped at epoch {} step {}; continue with --resume".format(
                        self.epoch, self.global_step))
                    return None
                last = self.epoch == cfg.epochs
                self.save()
                if not cfg.no_val and (last or (cfg.val_every > 0 and self.epoch % cfg.val_every == 0)):
                    metrics = self._validate(val_log)
                    self.save()  # best_ap is part of the resume state
        if metrics is not None and self.is_main:
            from ..evaluation.coco import format_table

            print("final validation ({} protocol, {} images, epoch {}):".format(
                cfg.val_protocol, len(self.val_records), self.epoch))
            print(format_table(metrics))
        return metrics

    def close(self) -> None:
        self._train_loader = None  # its persistent workers end with it
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _metric_names(dataset: str) -> List[str]:
    from ..evaluation.coco import COCO_METRICS, CROWDPOSE_METRICS

    return list(COCO_METRICS if dataset == "coco" else CROWDPOSE_METRICS)


def _plain(value: Any) -> Any:
    """JSON-like copy (tuples -> lists) that weights-only loading accepts."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
