"""``litepose train``: train or fine-tune LitePose on COCO / CrowdPose (single process or torchrun DDP).

torch is imported inside ``run`` so that the CLI starts on machines without it.
"""
import argparse
import sys
from typing import Any

from ..common.architectures import ARCHS
from ..common.keypoints import DATASETS
from ..evaluation.protocols import PROTOCOLS


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train", help="train or fine-tune a LitePose network",
        description="Train LitePose on COCO 2017 or CrowdPose (official layouts). Under torchrun, one "
        "process per GPU (or CPU process with gloo) trains with PyTorch DDP. The defaults are the official "
        "LitePose recipe; every option marked 'not official' departs from it. Recipe, data layouts and outputs: "
        "README.md, section 'Training and fine-tuning (litepose train)'.",
    )
    parser.add_argument("--arch", required=True, type=str.upper, choices=sorted(ARCHS))
    parser.add_argument("--dataset", required=True, type=str.lower, choices=sorted(DATASETS))
    parser.add_argument("--data-root", required=True, help="dataset root in its official layout")
    parser.add_argument("--output", required=True, help="run directory (checkpoints, logs)")
    parser.add_argument("--init", help="start from this checkpoint (official or litepose_ros; heads re-initialised "
                        "when its joint count differs)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --output exactly where it stopped")
    parser.add_argument("--epochs", type=int, default=500, help="default: %(default)s (LitePose CrowdPose recipe)")
    parser.add_argument("--batch-size", type=int, default=16, help="images per process and step (default: 16)")
    parser.add_argument("--lr", type=float, help="peak learning rate (default: 4e-3, see --lr-scaling)")
    parser.add_argument("--lr-scaling", choices=("none", "sqrt"), default="none",
                        help="none (official): 4e-3 whatever the number of processes; sqrt (not official): "
                        "4e-3 x sqrt(total batch / 16)")
    parser.add_argument("--lr-steps", type=int, nargs="+",
                        help="epochs at which lr drops x0.1 (default: 70%% and 96%%)")
    parser.add_argument("--warmup-steps", type=int, default=0,
                        help="linear lr warm-up steps (default: 0, official; not official when > 0)")
    parser.add_argument("--input-size", type=int, help="square input side, multiple of 16 (default: the arch's)")
    parser.add_argument("--amp", action="store_true",
                        help="mixed precision (fp16 on GPU, bf16 on CPU; not official: it trained in fp32)")
    parser.add_argument("--channels-last", action="store_true",
                        help="NHWC memory format (faster on GPUs with tensor cores; see README for the CPU)")
    parser.add_argument("--grad-clip", type=float, default=0.0, help="max gradient norm (default: off)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--deterministic", action="store_true", help="deterministic algorithms where PyTorch allows")
    parser.add_argument("--workers", type=int, help="data-loader processes per training process, kept for the "
                        "whole run (default: min(4, CPUs / training processes on this machine))")
    parser.add_argument("--no-augment", action="store_true", help="no random affine/flip (overfitting checks)")
    parser.add_argument("--letterbox", action="store_true",
                        help="not official: crop squares of the long side (SCALE_TYPE long), so that un-augmented "
                        "samples are the robot's letterboxed input (default: official squares of the short side)")
    parser.add_argument("--supervise-padding", action="store_true",
                        help="not official: train the area outside the image as background (the robot's letterbox "
                        "padding); default: unsupervised, as the official")
    parser.add_argument("--crowdpose-masks", action="store_true",
                        help="not official: leave the boxes of CrowdPose crowd / keypoint-less people out of the "
                        "heatmap loss (the official masks nothing on CrowdPose)")
    parser.add_argument("--normal-init", action="store_true",
                        help="not official: convolutions N(0, 0.001), BN identity (HigherHRNet's); default: "
                        "PyTorch's initialisation, as the official LitePose")
    parser.add_argument("--train-split", help="default: train (COCO), trainval (CrowdPose)")
    parser.add_argument("--val-split", help="default: val (COCO), test (CrowdPose)")
    parser.add_argument("--val-every", type=int, default=10, help="validate every N epochs (and after the last)")
    parser.add_argument("--val-protocol", choices=tuple(PROTOCOLS), default="official",
                        help="protocol of the validation that picks best.pth (see `litepose eval --help`; "
                        "default: %(default)s)")
    parser.add_argument("--val-max-images", type=int, default=0, help="validate on the first N images (0: all)")
    parser.add_argument("--no-val", action="store_true", help="no validation (no best.pth)")
    parser.add_argument("--max-steps", type=int, default=0, help="stop resumably after N steps in total (smoke runs)")
    parser.add_argument("--log-every", type=int, default=20, help="CSV log period in steps")
    parser.add_argument("--device", default="", help="e.g. cpu, cuda:0 (default: cuda when available)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)
    return parser


def config_from_args(args: argparse.Namespace) -> Any:
    from ..training.trainer import TrainConfig

    return TrainConfig(
        arch=args.arch, dataset=args.dataset, data_root=args.data_root, output=args.output,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, lr_steps=args.lr_steps,
        lr_scaling=args.lr_scaling, warmup_steps=args.warmup_steps, input_size=args.input_size, amp=args.amp,
        channels_last=args.channels_last, grad_clip=args.grad_clip, seed=args.seed,
        deterministic=args.deterministic, workers=args.workers, augment=not args.no_augment,
        crop="long" if args.letterbox else "short", supervise_padding=args.supervise_padding,
        crowdpose_masks=args.crowdpose_masks, normal_init=args.normal_init,
        init=args.init, resume=args.resume, train_split=args.train_split, val_split=args.val_split,
        val_every=args.val_every, val_protocol=args.val_protocol, val_max_images=args.val_max_images,
        no_val=args.no_val, max_steps=args.max_steps, log_every=args.log_every, progress=not args.no_progress,
        device=args.device,
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``litepose train``; returns the process exit code."""
    try:
        from ..common.architectures import input_size_problem
        from ..training.trainer import Trainer
    except ImportError as error:
        sys.stderr.write("litepose train: needs torch ({}); pip install -r requirements/train.txt\n".format(error))
        return 1
    if args.input_size is not None and input_size_problem(args.input_size, args.input_size):
        sys.stderr.write("litepose train: error: --input-size: {}\n".format(
            input_size_problem(args.input_size, args.input_size)))
        return 2
    trainer = None
    try:
        trainer = Trainer(config_from_args(args))
        trainer.train()
    except (ValueError, OSError, FloatingPointError) as error:
        # AnnotationError, CheckpointError, bad settings, unreadable files: one readable line.
        sys.stderr.write("litepose train: error: {}\n".format(error))
        return 1
    finally:
        if trainer is not None:
            trainer.close()
    return 0
