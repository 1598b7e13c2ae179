"""Associative-embedding decoder: network outputs to people.

``decode`` is the compiled core (``compiled.decode``) where it is built, else the numpy
reference (``reference.decode_reference``), which computes the same people much more slowly.
``LITEPOSE_DECODER=reference`` forces the reference.
"""
import logging
import os
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from .. import native
from ..common.people import People
from .config import DecoderConfig

__all__ = ["DecoderConfig", "decode", "decoder_status", "warn_if_slow"]

Decode = Callable[..., People]
_status: List[Tuple[str, Optional[str], Decode]] = []
_warned: List[bool] = []


def _choose() -> Tuple[str, Optional[str], Decode]:
    """(name, warning or None, decode function), decided once per process."""
    if not _status:
        from .reference import decode_reference

        if os.environ.get("LITEPOSE_DECODER", "") == "reference":
            _status.append(("reference (numpy)", "LITEPOSE_DECODER=reference: using the slow numpy decoder",
                            decode_reference))
        else:
            try:
                native.load()
                from .compiled import decode as compiled_decode

                _status.append(("compiled ({})".format(os.path.basename(native.loaded_path() or "")), None,
                                compiled_decode))
            except native.NativeUnavailable as error:
                _status.append(("reference (numpy)", "{}; decoding with the numpy reference, which is much "
                                "slower".format(error), decode_reference))
    return _status[0]


def decoder_status() -> Tuple[str, Optional[str]]:
    """(name of the decoder in use, warning or None), decided once per process."""
    name, warning, _ = _choose()
    return name, warning


def warn_if_slow(logger: Optional[Any] = None) -> Optional[str]:
    """Log the decoder warning, if any, once per process (``logger``: anything with a
    ``warning(str)`` method, e.g. an rclpy node's; default the ``litepose_ros`` logger)."""
    warning = decoder_status()[1]
    if warning and not _warned:
        (logger or logging.getLogger("litepose_ros")).warning(warning)
        _warned.append(True)
    return warning


def decode(outputs: Sequence[np.ndarray], config: DecoderConfig,
           flipped_outputs: Optional[Sequence[np.ndarray]] = None) -> People:
    """Decode one image's network outputs into people, in network-input pixel coordinates.

    ``outputs`` = (stage1 [1, 2J, H/4, W/4], stage2 [1, J, H/2, W/2]); ``flipped_outputs``
    the same for the horizontally flipped input (flip test), or None.
    """
    return _choose()[2](outputs, config, flipped_outputs)
