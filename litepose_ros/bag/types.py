"""Our message types for ``rosbags``, registered from the package's own ``msg/`` files at
run time, so bags written here always carry exactly what the node publishes."""
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional

from . import BagError

PACKAGE = "litepose_ros"
POSE_ARRAY = "litepose_ros/msg/PoseArray"
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)
# Where to look first for PoseArray.msg and friends (e.g. a robot's install tree).
MSG_DIR_ENV = "LITEPOSE_MSG_DIR"


def candidate_msg_dirs() -> List[Path]:
    """Source checkout first (what is being developed), then installed share/ directories."""
    dirs = []
    if os.environ.get(MSG_DIR_ENV):
        dirs.append(Path(os.environ[MSG_DIR_ENV]))
    dirs.append(Path(__file__).resolve().parents[2] / "msg")
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    prefixes.append(sys.prefix)
    dirs.extend(Path(prefix) / "share" / PACKAGE / "msg" for prefix in prefixes)
    return dirs


def find_msg_dir() -> Path:
    searched = candidate_msg_dirs()
    for path in searched:
        if (path / "PoseArray.msg").is_file():
            return path
    raise BagError(
        "cannot find litepose_ros message definitions (PoseArray.msg); searched: {} (set {})".format(
            ", ".join(str(p) for p in searched), MSG_DIR_ENV
        )
    )


def message_types(msg_dir: Path) -> Dict[str, object]:
    """rosbags type definitions for every .msg file in msg_dir, named litepose_ros/msg/<Stem>."""
    from rosbags.typesys import get_types_from_msg

    types: Dict[str, object] = {}
    for path in sorted(msg_dir.glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(encoding="utf-8"), "{}/msg/{}".format(PACKAGE, path.stem)))
    return types


@lru_cache(maxsize=4)
def typestore(msg_dir: Optional[str] = None):  # -> rosbags Typestore (imported lazily)
    """Standard ROS 2 types (std_msgs, sensor_msgs: identical Humble..Kilted) plus ours."""
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    store.register(message_types(Path(msg_dir) if msg_dir else find_msg_dir()))
    return store


def typestore_for(connection):  # -> rosbags Typestore
    """Our typestore, unless the bag embeds a different definition of the connection's type
    (e.g. recorded from an older node): then that definition, so old bags still read."""
    ours = typestore()
    if connection.msgtype not in ours.types or not connection.digest:
        return ours
    if connection.digest == ours.hash_rihs01(connection.msgtype) or not connection.msgdef.data:
        return ours
    return _store_from_definition(connection.msgtype, connection.msgdef.data, connection.msgdef.format.name)


@lru_cache(maxsize=8)
def _store_from_definition(msgtype: str, text: str, fmt: str):
    from rosbags.typesys import Stores, get_types_from_idl, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    try:
        store.register(get_types_from_msg(text, msgtype) if fmt == "MSG" else get_types_from_idl(text))
    except Exception as error:  # rosbags raises several parser error types
        raise BagError("cannot parse the bag's definition of {}: {}".format(msgtype, error)) from None
    return store
