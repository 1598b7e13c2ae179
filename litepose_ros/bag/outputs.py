"""What `bag analyze` and `bag summary` write, kept readable whatever ends the run.

The output paths are checked before any work starts (a one-line error, nothing created);
while frames are written the free space of every output's disk is watched, so the run stops
while there is still room to close the bag (its index and metadata.yaml) and the table; the
summary JSON appears whole or not at all.
"""
import json
import math
import os
from typing import Any, Dict, Iterable, List, Optional

from . import BagError

# Stop writing when an output's disk has less than this free: room to close the bag (sqlite
# commit / MCAP summary, metadata.yaml), the CSV and the summary JSON. Also at least a few
# frames' worth of what was written per frame so far.
MIN_FREE_BYTES = 4 << 20
FRAMES_OF_HEADROOM = 4


class OutputError(BagError):
    """An output cannot be written (any more); the run stops with the outputs closed."""


def check_output_paths(args: Any) -> None:
    """BagError (one line) for output options that cannot work, before anything is created."""
    files = [(option, getattr(args, name, None)) for option, name in (("--csv", "csv"), ("--summary", "summary"))]
    files = [(option, path) for option, path in files if path]
    for option, path in files:
        _check_file_path(option, path)
    if len(files) == 2 and _same(files[0][1], files[1][1]):
        raise BagError("--csv and --summary name the same file {}: give each its own".format(files[0][1]))
    plots = getattr(args, "plots", None)
    if plots and os.path.exists(plots) and not os.path.isdir(plots):
        raise BagError("--plots {} is a file; give a directory (created if missing)".format(plots))
    output = getattr(args, "output", None)
    for option, path in files:
        if output and _same(output, path):
            raise BagError("{} and --output name the same path {}".format(option, path))
    threshold = getattr(args, "visibility_threshold", 0.1)
    if threshold is not None and not math.isfinite(threshold):
        raise BagError("--visibility-threshold must be a finite number, got {}".format(threshold))


def _check_file_path(option: str, path: str) -> None:
    if os.path.isdir(path):
        raise BagError("{} {} is a directory; give a file name".format(option, path))
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise BagError("{} {}: directory {} does not exist".format(option, path, parent))
    existed = os.path.exists(path)
    try:  # the only sure test (permissions, read-only disks, root): open it for appending
        with open(path, "a"):
            pass
    except OSError as error:
        raise BagError("{} {} is not writable: {}".format(option, path, error.strerror or error)) from None
    if not existed:
        os.remove(path)


def _same(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def free_bytes(path: str) -> Optional[int]:
    """Bytes free to us on the disk holding ``path`` (or its nearest existing parent)."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    try:
        stats = os.statvfs(probe)
    except (OSError, AttributeError):  # AttributeError: no statvfs (Windows)
        return None
    return stats.f_bavail * stats.f_frsize


class SpaceWatch(object):
    """Raises OutputError before a disk holding an output runs full."""

    def __init__(self, paths: Iterable[Optional[str]]) -> None:
        self.paths = [p for p in paths if p]
        self._first = {}  # type: Dict[str, int]  # free bytes at the start, per path
        self.frames = 0

    def check(self) -> None:
        """Call before writing a frame's outputs."""
        for path in self.paths:
            free = free_bytes(path)
            if free is None:
                continue
            first = self._first.setdefault(path, free)
            per_frame = (first - free) / float(self.frames) if self.frames else 0.0
            reserve = max(MIN_FREE_BYTES, int(FRAMES_OF_HEADROOM * per_frame))
            if free < reserve:
                raise OutputError("disk of {} nearly full ({:.1f} MiB left): stopped writing so the outputs stay "
                                  "readable".format(path, free / float(1 << 20)))
        self.frames += 1


def write_json(path: str, document: Dict[str, Any]) -> None:
    """The whole document or no file: written beside it, then renamed over it."""
    temporary = "{}.{}.tmp".format(path, os.getpid())
    try:
        with open(temporary, "w") as stream:
            json.dump(document, stream, indent=2)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except (OSError, ValueError) as error:
        _remove_quietly(temporary)
        raise OutputError("cannot write summary {}: {}".format(path, getattr(error, "strerror", None) or error)) \
            from None


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def output_paths(args: Any) -> List[str]:
    return [p for p in (getattr(args, "output", None), getattr(args, "csv", None), getattr(args, "summary", None)) if p]
