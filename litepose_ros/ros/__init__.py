"""The ROS 2 layer: message conversions, image input and the pose node.

Importing this package makes the generated ``litepose_ros.msg`` importable in the
development venv too. On a robot colcon installs the sources and the generated message code
into one ``litepose_ros`` directory and nothing needs doing. In the venv built by
``scripts/build_ros.sh`` the sources stay in the checkout and the generated code lives in
``<venv>/lib/litepose_ros_msgs/litepose_ros``, which is appended to the package's search path
here (override the location with ``LITEPOSE_ROS_MSGS_DIR``).
"""
import importlib.util
import os
import sys

import litepose_ros

GENERATED_DIR_ENV = "LITEPOSE_ROS_MSGS_DIR"


def _generated_dirs():
    explicit = os.environ.get(GENERATED_DIR_ENV)
    if explicit:
        yield explicit
    yield os.path.join(sys.prefix, "lib", "litepose_ros_msgs", "litepose_ros")


def attach_generated_messages() -> bool:
    """Make ``litepose_ros.msg`` importable; True if it is (already or now)."""
    if importlib.util.find_spec("litepose_ros.msg") is not None:
        return True
    for path in _generated_dirs():
        if os.path.isdir(os.path.join(path, "msg")) and path not in litepose_ros.__path__:
            litepose_ros.__path__.append(path)
            return True
    return False


attach_generated_messages()
