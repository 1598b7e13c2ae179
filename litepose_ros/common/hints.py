"""What to tell a user to run: the `litepose` command and what a model file is.

colcon installs the command as `ros2 run litepose_ros litepose ...`; pip installs `litepose`.
Messages name the form that works where they are printed.
"""
import os
from typing import Optional

PACKAGE = "litepose_ros"


def on_ros_install() -> bool:
    """True where litepose_ros is installed as a ROS package (in the ament index of AMENT_PREFIX_PATH)."""
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        marker = os.path.join(prefix, "share", "ament_index", "resource_index", "packages", PACKAGE)
        if prefix and os.path.isfile(marker):
            return True
    return False


def litepose_command(arguments: str) -> str:
    """``ros2 run litepose_ros litepose ARGUMENTS`` on a ROS install, else ``litepose ARGUMENTS``."""
    return ("ros2 run {} litepose ".format(PACKAGE) if on_ros_install() else "litepose ") + arguments


def model_file_kind(path: str) -> Optional[str]:
    """'tflite' or 'onnx' when the file's first bytes say so, else None (e.g. a TensorRT plan).

    TFLite flatbuffers carry the identifier TFL3 at byte 4. ONNX is a protobuf ModelProto whose
    first field is ir_version (tag 0x08, a small version number).
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError:
        return None
    if head[4:8] == b"TFL3":
        return "tflite"
    if len(head) >= 2 and head[0] == 0x08 and 3 <= head[1] <= 20:
        return "onnx"
    return None
