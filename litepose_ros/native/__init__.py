"""The compiled runtime core (the C sources here, README.md), found and loaded with ctypes.

A plain C ABI, no Python headers: one library serves every Python from 3.6 on. It is built
by ``colcon build`` (CMakeLists.txt), ``pip install`` (setup.py) or ``scripts/setup_env.sh``
(``build.py``) next to this file; ``LITEPOSE_NATIVE_LIB`` names another one (e.g. a
cross-compiled aarch64 build). Callers fall back to the pure-Python code when it is missing.
"""
import ctypes
import glob
import os
import threading
from typing import List, Optional

from . import abi

ABI_VERSION = abi.ABI_VERSION
ENV_LIBRARY = "LITEPOSE_NATIVE_LIB"
LIBRARY_PREFIX = "_litepose_native"


class NativeUnavailable(RuntimeError):
    """The compiled core cannot be used here; the message says why and how to build it."""


_lock = threading.Lock()
_loaded: List[ctypes.CDLL] = []
_failure: List[str] = []


def candidate_paths() -> List[str]:
    """Where the library may be: the environment override, else next to this file: build.py's
    output first (setup_env.sh rebuilds it when the source changes), then a build by pip or
    colcon (pip's name carries the Python extension suffix)."""
    override = os.environ.get(ENV_LIBRARY, "")
    if override:
        return [override]
    here = os.path.dirname(os.path.abspath(__file__))
    exact = os.path.join(here, LIBRARY_PREFIX + ".so")
    others = sorted(set(glob.glob(os.path.join(here, LIBRARY_PREFIX + "*.so"))) - {exact})
    return ([exact] if os.path.exists(exact) else []) + others


def _open(path: str) -> ctypes.CDLL:
    library = ctypes.CDLL(path)
    abi.check(library, path)  # refuses a library whose lp_config the ctypes struct would misdescribe
    return abi.declare(library)


def load() -> ctypes.CDLL:
    """The loaded library; NativeUnavailable (with every reason) when there is none."""
    with _lock:
        if _loaded:
            return _loaded[0]
        if _failure:
            raise NativeUnavailable(_failure[0])
        reasons = []
        for path in candidate_paths():
            try:
                _loaded.append(_open(path))
                return _loaded[0]
            except (OSError, AttributeError) as error:
                reasons.append(str(error))
        if not reasons:
            reasons.append("no {}*.so next to {} (build it: python {} , or colcon build / pip install)".format(
                LIBRARY_PREFIX, os.path.dirname(os.path.abspath(__file__)),
                os.path.join("litepose_ros", "native", "build.py")))
        _failure.append("compiled core unavailable: " + "; ".join(reasons))
        raise NativeUnavailable(_failure[0])


def loaded_path() -> Optional[str]:
    """The file the library was loaded from, or None."""
    return _loaded[0]._name if _loaded else None
