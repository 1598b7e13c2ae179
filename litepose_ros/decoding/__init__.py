"""Associative-embedding decoder: network outputs to people.

``decode`` is the compiled core (``compiled.decode``) where it is built, else the numpy
reference (``reference.decode_reference``), which computes the same people much more slowly.
``LITEPOSE_DECODER=reference`` forces the reference.
"""
import logging
import os
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from .. import native
from ..people import People
from .config import DecoderConfig

__all__ = ["DecoderConfig", "decode", "decoder_status", "warn_if_slow"]

_status = []  # type: list


def decoder_status() -> Tuple[str, Optional[str]]:
    """(name of the decoder in use, warning or None), decided once per process."""
    if not _status:
        if os.environ.get("LITEPOSE_DECODER", "") == "reference":
            _status.append(("reference (numpy)", "LITEPOSE_DECODER=reference: using the slow numpy decoder"))
        else:
            try:
                native.load()
                _status.append(("compiled ({})".format(os.path.basename(native.loaded_path() or "")), None))
            except native.NativeUnavailable as error:
                _status.append(("reference (numpy)", "{}; decoding with the numpy reference, which is much "
                                "slower".format(error)))
    return _status[0]


def warn_if_slow(logger: Optional[Any] = None) -> Optional[str]:
    """Log the decoder warning, if any, once per process (``logger``: anything with a
    ``warning(str)`` method, e.g. an rclpy node's; default the ``litepose_ros`` logger)."""
    warning = decoder_status()[1]
    if warning and not getattr(warn_if_slow, "done", False):
        (logger or logging.getLogger("litepose_ros")).warning(warning)
        warn_if_slow.done = True  # type: ignore[attr-defined]
    return warning


def decode(outputs: Sequence[np.ndarray], config: DecoderConfig,
           flipped_outputs: Optional[Sequence[np.ndarray]] = None) -> People:
    """Decode one image's network outputs into people, in network-input pixel coordinates.

    ``outputs`` = (stage1 [1, 2J, H/4, W/4], stage2 [1, J, H/2, W/2]); ``flipped_outputs``
    the same for the horizontally flipped input (flip test), or None.
    """
    if decoder_status()[1] is None:
        from .compiled import decode as compiled_decode

        return compiled_decode(outputs, config, flipped_outputs)
    from .reference import decode_reference

    return decode_reference(outputs, config, flipped_outputs)
