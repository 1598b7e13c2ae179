"""Reading and writing LitePose checkpoints in the reference implementation's formats.

Accepted on load:

* a plain ``state_dict`` (the reference ``final_state.pth`` and released weights);
* a training checkpoint ``{"state_dict": ..., ...}`` (the reference ``checkpoint.pth``);
* either of them with the ``module.`` prefix that (Distributed)DataParallel adds.

Loading is strict: any missing key, unexpected key or shape mismatch raises
``CheckpointError`` naming all of them, because a silently half-loaded pose network
still produces plausible-looking but wrong heatmaps.
"""
import os
import pickle
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import torch
from torch import nn

from ..common.files import file_sha256

PathLike = Union[str, "os.PathLike[str]"]
StateDict = Dict[str, torch.Tensor]

DDP_PREFIX = "module."
# Where save_checkpoint puts the optional metadata, next to the reference "state_dict" key.
METADATA_FIELD = "litepose_metadata"
# At most this many names per category in an error message; the count is always given.
_MAX_LISTED = 25


class CheckpointError(ValueError):
    """A checkpoint cannot be read or does not fit the model; the message lists every problem."""




def describe_weights(path: PathLike) -> str:
    """How exported metadata records where the weights came from: file name + sha256 prefix."""
    return "{} sha256:{}".format(os.path.basename(str(path)), file_sha256(path)[:12])


def _torch_load(path: PathLike) -> Any:
    if not os.path.isfile(str(path)):
        raise CheckpointError("checkpoint not found: {}".format(path))
    try:
        # weights_only: a checkpoint is data; never execute arbitrary pickled code from it.
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            "{} is not a weights-only checkpoint ({}). Files holding custom Python objects are not "
            "loaded, for safety; if you trust it, re-save just its weights with "
            "torch.save(checkpoint['state_dict'], path)".format(path, _unpickling_reason(error))
        ) from None
    except (RuntimeError, EOFError, OSError) as error:
        raise CheckpointError("cannot read checkpoint {}: {}".format(path, error)) from None


def _unpickling_reason(error: Exception) -> str:
    # torch wraps the useful part ("Unsupported global: GLOBAL x.Y ...") in a page of advice.
    text = str(error)
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text.split(marker, 1)[1].split("Check the documentation", 1)[0]
    text = " ".join(text.split())
    return text[:200] + ("..." if len(text) > 200 else "")


def _split(content: Any, source: str) -> Tuple[StateDict, Dict[str, Any]]:
    """Return (state_dict, metadata) from a loaded checkpoint object."""
    if not isinstance(content, Mapping):
        raise CheckpointError("{}: expected a state_dict or a dict with 'state_dict', got {}".format(
            source, type(content).__name__))
    metadata = {}  # type: Dict[str, Any]
    if "state_dict" in content and isinstance(content["state_dict"], Mapping):
        metadata = dict(content.get(METADATA_FIELD) or {})
        content = content["state_dict"]
    not_tensors = [key for key, value in content.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(
            "{}: not a state_dict (entries {} are not tensors); expected a plain state_dict or a dict "
            "with a 'state_dict' entry".format(source, _listing(sorted(map(str, not_tensors))))
        )
    state = dict(content)
    if state and all(key.startswith(DDP_PREFIX) for key in state):
        state = {key[len(DDP_PREFIX):]: value for key, value in state.items()}
    return state, metadata


def read_checkpoint(source: Union[PathLike, Mapping]) -> Tuple[StateDict, Dict[str, Any]]:
    """Read a checkpoint file (or an already loaded object) into (state_dict, metadata).

    ``metadata`` is what ``save_checkpoint`` stored, or ``{}`` for reference checkpoints.
    """
    if isinstance(source, Mapping):
        return _split(source, "checkpoint")
    return _split(_torch_load(source), str(source))


def _listing(names: List[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown += ", ... ({} more)".format(len(names) - _MAX_LISTED)
    return shown


def _mismatch_report(expected: StateDict, found: StateDict) -> List[str]:
    # num_batches_tracked only drives BN momentum when momentum=None; old checkpoints lack it.
    missing = sorted(k for k in expected if k not in found and not k.endswith("num_batches_tracked"))
    unexpected = sorted(k for k in found if k not in expected)
    shapes = sorted(
        "{}: expected {} vs found {}".format(k, tuple(expected[k].shape), tuple(found[k].shape))
        for k in expected
        if k in found and expected[k].shape != found[k].shape
    )
    problems = []
    for title, names in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes)):
        if names:
            problems.append("{} {}: {}".format(len(names), title, _listing(names)))
    return problems


def load_checkpoint(model: nn.Module, source: Union[PathLike, Mapping]) -> Dict[str, Any]:
    """Load weights into ``model`` strictly; return the checkpoint's metadata (``{}`` if none).

    Raises ``CheckpointError`` listing missing keys, unexpected keys and shape mismatches.
    """
    state, metadata = read_checkpoint(source)
    expected = model.state_dict()
    problems = _mismatch_report(expected, state)
    if problems:
        name = source if not isinstance(source, Mapping) else "checkpoint"
        raise CheckpointError("{} does not fit the model: {}".format(name, "; ".join(problems)))
    for key in expected:
        if key not in state:  # only num_batches_tracked can be absent here
            state[key] = expected[key]
    model.load_state_dict(state, strict=True)
    return metadata


def save_checkpoint(model: nn.Module, path: PathLike, metadata: Optional[Mapping[str, Any]] = None) -> None:
    """Write ``model``'s weights in a format the reference code and ``load_checkpoint`` read.

    Without metadata the file is a plain state_dict, as the reference ``final_state.pth``.
    With metadata (plain JSON-like values, e.g. ``{"arch": "S", "dataset": "crowdpose"}``) it
    is ``{"state_dict": ..., "litepose_metadata": ...}``, the layout of a reference training
    checkpoint; ``litepose export`` checks arch and dataset against it.
    """
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    if metadata is None:
        torch.save(state, str(path))
        return
    _check_plain(metadata, "metadata")
    torch.save({"state_dict": state, METADATA_FIELD: dict(metadata)}, str(path))


def _check_plain(value: Any, where: str) -> None:
    """Reject values that weights_only loading would refuse, at save time rather than load time."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CheckpointError("{}: keys must be strings, got {!r}".format(where, key))
            _check_plain(item, "{}.{}".format(where, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, "{}[{}]".format(where, index))
    elif not (value is None or isinstance(value, (str, int, float, bool))):
        raise CheckpointError("{}: {} is not a plain JSON-like value".format(where, type(value).__name__))
