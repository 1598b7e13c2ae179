"""Shared fixtures: where the shared sample data lives, and skipping cleanly without it."""
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("LITEPOSE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test saying what is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip("shared sample data not found at {} (set LITEPOSE_SHARED_DATA)".format(path))
    return path


@pytest.fixture
def coco_dir() -> Path:
    return shared_path("coco")


@pytest.fixture
def crowdpose_dir() -> Path:
    return shared_path("crowdpose")


@pytest.fixture
def video_dir() -> Path:
    return shared_path("video", "face-demographics-walking_frames")
