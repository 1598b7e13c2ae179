"""Small file helpers shared by runtime and tooling code (Python 3.6 compatible)."""
import hashlib


def file_sha256(path: str) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (models and engines can be large)."""
    digest = hashlib.sha256()
    with open(str(path), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
