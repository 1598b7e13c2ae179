"""Small file helpers shared by runtime and tooling code (Python 3.6 compatible): hashing,
listing and reading images, a progress bar. Below every user (verify, bag, training, commands)."""
import errno
import hashlib
import os
import sys
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def file_problem(path: str, what: str) -> Optional[str]:
    """Why ``path`` cannot be opened as a ``what`` (e.g. "model file"), in words; None if it can.
    A directory, a symlink loop or a FIFO is named as such, not reported as missing."""
    if os.path.isdir(path):
        return "{} {} is a directory, not a file".format(what, path)
    if not os.path.exists(path):
        if os.path.islink(path):
            try:
                os.stat(path)
            except OSError as error:
                if error.errno == errno.ELOOP:
                    return "{} {} is a symbolic link loop".format(what, path)
            return "{} {} is a broken symbolic link (to {})".format(what, path, os.readlink(path))
        return "{} not found: {}".format(what, path)
    if not os.path.isfile(path):
        return "{} {} is not a regular file (a FIFO, socket or device)".format(what, path)
    if not os.access(path, os.R_OK):
        return "{} is not readable: {}".format(what, path)
    return None


def file_sha256(path: str) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (models and engines can be large)."""
    digest = hashlib.sha256()
    with open(str(path), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_images(paths: Sequence[str]) -> List[str]:
    """Image files named directly, plus those found (non-recursively) in named directories."""
    found: List[str] = []
    for path in paths:
        if os.path.isdir(path):
            found.extend(
                os.path.join(path, name) for name in sorted(os.listdir(path))
                if name.lower().endswith(IMAGE_SUFFIXES)
            )
        else:
            found.append(path)
    return found


def read_image(path: str) -> Optional[np.ndarray]:
    """BGR image, or None if it cannot be read. EXIF rotation is ignored, as the datasets' labels are."""
    image = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    return image if image is not None and image.size else None


def read_images(paths: Sequence[str]) -> Iterator[Tuple[str, np.ndarray]]:
    """Yield readable images; report unreadable ones on stderr and go on."""
    for path in paths:
        image = read_image(path)
        if image is None:
            print("warning: skipping unreadable image {}".format(path), file=sys.stderr)
            continue
        yield path, image


def progress(iterable: Iterable, total: Optional[int], description: str, enabled: bool = True, unit: str = "img"):
    """tqdm progress bar when available and wanted, else the plain iterable."""
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=description, unit=unit, file=sys.stderr)
