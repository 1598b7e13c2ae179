"""The runtime decoder: the compiled core (``litepose_ros/native/``) called through ctypes.

Same people as ``reference.decode_reference`` (its oracle and fallback), a few hundred times
faster. Each thread gets its own native workspace (buffers reused from frame to frame).
"""
import ctypes
import threading
from typing import Dict, Optional

import numpy as np

from .. import native
from ..common.people import People
from ..native import abi
from .config import DecoderConfig
from .outputs import Outputs, check_pair

_INT32_P = ctypes.POINTER(ctypes.c_int32)


def _config_struct(config: DecoderConfig) -> abi.LpConfig:
    """The lp_config for a validated ``config``, owning its own copies of the index arrays: they
    live exactly as long as the struct, whoever still holds it (a decode under way in another
    thread after the cache let go of it)."""
    order = np.ascontiguousarray(config.joint_order, np.int32)
    flip = np.ascontiguousarray(config.flip_index, np.int32)
    struct = abi.LpConfig(config.num_joints, config.max_num_people, config.nms_kernel,
                          int(config.project_to_input), int(config.adjust), int(config.refine),
                          int(config.use_detection_val), int(config.ignore_too_much),
                          float(config.detection_threshold), float(config.tag_threshold),
                          order.ctypes.data_as(_INT32_P), flip.ctypes.data_as(_INT32_P))
    struct.index_arrays = (order, flip)  # what joint_order and flip_index point into
    return struct


def _library() -> ctypes.CDLL:
    return native.load()  # checked against native/abi.py and typed there


class _Workspace(object):
    """One native decoder state (its buffers), freed with this object."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        self.handle = lib.lp_decoder_create()
        if not self.handle:
            raise MemoryError("the native decoder could not allocate its state")

    def __del__(self) -> None:
        if getattr(self, "handle", None):
            self._lib.lp_decoder_destroy(self.handle)
            self.handle = None


_local = threading.local()
_configs: Dict[DecoderConfig, abi.LpConfig] = {}
_configs_lock = threading.Lock()
_CONFIG_CACHE_SIZE = 64  # distinct configs kept (thresholds changed at run time many times)


def _native_config(config: DecoderConfig) -> abi.LpConfig:
    """The ctypes struct for ``config``, validated once and cached. Evicting it is safe: the
    struct owns its index arrays, so a caller still holding it keeps them alive."""
    with _configs_lock:
        struct = _configs.get(config)
        if struct is None:
            config.validated()
            if len(_configs) >= _CONFIG_CACHE_SIZE:
                _configs.clear()
            struct = _configs[config] = _config_struct(config)
        return struct


def set_threads(threads: int) -> int:
    """Threads the calling thread's decoder may use for its per-joint steps (default: the CPUs,
    at most 4, or LITEPOSE_DECODER_THREADS); the people found do not depend on it. Returns it."""
    return _library().lp_decoder_set_threads(_workspace().handle, int(threads))


def _workspace() -> _Workspace:
    workspace = getattr(_local, "workspace", None)
    if workspace is None:
        workspace = _local.workspace = _Workspace(_library())
    return workspace


def _pointer(array: Optional[np.ndarray]) -> Optional[int]:
    return None if array is None else array.ctypes.data


def decode(outputs: Outputs, config: DecoderConfig, flipped_outputs: Optional[Outputs] = None) -> People:
    """Decode one image's network outputs into people, in network-input pixel coordinates.

    ``outputs`` = (stage1 [1, 2J, H/4, W/4], stage2 [1, J, H/2, W/2]); ``flipped_outputs``
    the same for the horizontally flipped input (flip test), or None. Raises
    ``native.NativeUnavailable`` where the compiled core is not built.
    """
    lib = _library()
    (stage1, stage2), flipped = check_pair(outputs, flipped_outputs, config.num_joints)
    workspace = _workspace()
    struct = _native_config(config)
    capacity = config.num_joints * config.max_num_people
    keypoints = np.empty((capacity, config.num_joints, 3), np.float32)
    scores = np.empty(capacity, np.float32)
    count = lib.lp_decode(workspace.handle, ctypes.byref(struct), _pointer(stage1), _pointer(stage2),
                          _pointer(None if flipped is None else flipped[0]),
                          _pointer(None if flipped is None else flipped[1]),
                          stage1.shape[1], stage1.shape[2], _pointer(keypoints), _pointer(scores), capacity)
    if count < 0:
        error, message = abi.ERRORS.get(count, (RuntimeError, "the native decoder failed with code {}".format(count)))
        raise error(message)
    return People(keypoints[:count].copy(), scores[:count].copy())
