"""Evaluation protocols: the PoseEstimator settings each name stands for.

One table for ``litepose eval`` / ``predict`` and the validation during training; no heavy
imports, so the CLI can list the names at start-up.

* ``official``: the official LitePose test: the short side resized to the input size and the
  long side to a multiple of 64 (a non-square input; needs a dynamic-size ONNX file or a
  PyTorch checkpoint), flip test, heatmaps at input resolution, coordinates not clipped.
  Its AP is the one comparable with the paper.
* ``robot``: the same decoder on the square letterbox the node runs.
* ``fast``: what the node runs by default: letterbox, no flip test, grouping at stride 2.
"""
from typing import Any, Dict

PROTOCOLS = {
    "official": {"resize": "official", "flip_test": True, "project_to_input": True, "clip_to_image": False},
    "robot": {"resize": "letterbox", "flip_test": True, "project_to_input": True, "clip_to_image": True},
    "fast": {"resize": "letterbox", "flip_test": False, "project_to_input": False, "clip_to_image": True},
}

PROTOCOL_HELP = ("official: the official LitePose test (short side to the input size, long side to a multiple "
                 "of 64, flip test; needs `litepose export --dynamic-size` or a .pth checkpoint); robot: the same "
                 "decoder on the node's square letterbox; fast: the node's default settings (letterbox, no flip, "
                 "stride-2 grouping)")


def protocol_options(name: str) -> Dict[str, Any]:
    """PoseEstimator keyword arguments of protocol ``name``; ValueError names the known ones."""
    if name not in PROTOCOLS:
        raise ValueError("unknown protocol {!r}; expected one of {}".format(name, sorted(PROTOCOLS)))
    return dict(PROTOCOLS[name])
