"""The C ABI of the compiled core, declared once on the Python side: ``lp_config`` as a ctypes
struct, every exported function's prototype and the error codes. ``declare`` checks a loaded
library against it (ABI version, then ``lp_config``'s size and each field's offset and size as
the C compiler laid them out, from ``lp_config_layout``) and types its functions; a library that
disagrees is refused, so the caller falls back to the numpy reference instead of passing a struct
the C code would misread. The C side of the same facts: ``litepose_decoder.h``.
"""
import ctypes
from typing import List

ABI_VERSION = 2  # 2: lp_config_layout

_INT32_P = ctypes.POINTER(ctypes.c_int32)


class LpConfig(ctypes.Structure):
    """lp_config: the decoder settings, field for field DecoderConfig (decoding/config.py)."""

    _fields_ = [
        ("num_joints", ctypes.c_int32),
        ("max_num_people", ctypes.c_int32),
        ("nms_kernel", ctypes.c_int32),
        ("project_to_input", ctypes.c_int32),
        ("adjust", ctypes.c_int32),
        ("refine", ctypes.c_int32),
        ("use_detection_val", ctypes.c_int32),
        ("ignore_too_much", ctypes.c_int32),
        ("detection_threshold", ctypes.c_double),
        ("tag_threshold", ctypes.c_double),
        ("joint_order", _INT32_P),  # [num_joints]
        ("flip_index", _INT32_P),  # [num_joints]
    ]


# lp_decode's negative return codes (LP_ERR_* in the header)
ERRORS = {
    -1: (MemoryError, "the native decoder ran out of memory"),
    -2: (ValueError, "the native decoder rejected its arguments (a bug: the Python side checks them)"),
    -3: (RuntimeError, "the native decoder found more people than it has room for (a bug)"),
    -4: (ValueError, "network outputs hold NaN or infinite tags where people are grouped"),
}

_CONFIG_P = ctypes.POINTER(LpConfig)
# name: (result type, argument types); float arrays pass as addresses (c_void_p), much cheaper
# than data_as per call
PROTOTYPES = {
    "lp_abi_version": (ctypes.c_int, []),
    "lp_config_layout": (ctypes.c_int, [ctypes.POINTER(ctypes.c_int64), ctypes.c_int]),
    "lp_decoder_create": (ctypes.c_void_p, []),
    "lp_decoder_destroy": (None, [ctypes.c_void_p]),
    "lp_decoder_set_threads": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    "lp_max_people": (ctypes.c_int, [_CONFIG_P]),
    "lp_decode": (ctypes.c_int, [ctypes.c_void_p, _CONFIG_P] + [ctypes.c_void_p] * 4 +
                  [ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]),
}


def expected_layout(struct: type = LpConfig) -> List[int]:
    """What lp_config_layout must report for ``struct``: its size, then each field's offset and
    size in declaration order."""
    layout = [ctypes.sizeof(struct)]
    for name, field_type in struct._fields_:
        layout += [getattr(struct, name).offset, ctypes.sizeof(field_type)]
    return layout


def library_layout(library: ctypes.CDLL) -> List[int]:
    """lp_config's layout as the library was compiled (see expected_layout)."""
    function = library.lp_config_layout
    function.restype, function.argtypes = PROTOTYPES["lp_config_layout"]
    count = function(None, 0)
    values = (ctypes.c_int64 * max(count, 0))()
    function(values, count)
    return list(values)


def check(library: ctypes.CDLL, path: str, struct: type = LpConfig) -> None:
    """Raise OSError (saying what differs) unless ``library`` speaks this ABI."""
    version = library.lp_abi_version()
    if version != ABI_VERSION:
        raise OSError("{} has ABI version {}, this code needs {} (rebuild it)".format(path, version, ABI_VERSION))
    ours, theirs = expected_layout(struct), library_layout(library)
    if ours != theirs:
        raise OSError("{}: lp_config layout differs from the Python declaration (size, then offset and size of "
                      "each field: library {}, Python {}); rebuild it from this source".format(path, theirs, ours))


def declare(library: ctypes.CDLL) -> ctypes.CDLL:
    """Type every exported function of ``library`` (after ``check``); returns it."""
    for name, (result, arguments) in PROTOTYPES.items():
        function = getattr(library, name)
        function.restype, function.argtypes = result, arguments
    return library
