"""litepose_ros: real-time multi-person 2D pose estimation (LitePose) for ROS 2 edge robots.

The package root and its core modules import no ROS; the rclpy layer lives in ``litepose_ros.ros``.

The generated message code (``litepose_ros.msg``) is found from here, so that
``from litepose_ros.msg import PoseArray`` works first thing in a script, as on a robot. On a
robot colcon installs the sources and the generated code into one ``litepose_ros`` directory
and nothing needs doing. In the development venv built by ``scripts/build_ros.sh`` the sources
stay in the checkout (editable install) and the generated code lives in
``<venv>/lib/litepose_ros_msgs/litepose_ros``, which is appended to this package's search path
(override the location with ``LITEPOSE_ROS_MSGS_DIR``). Only directories are looked at: no
ROS module is imported.
"""
import os
import sys

__version__ = "0.1.0"

GENERATED_DIR_ENV = "LITEPOSE_ROS_MSGS_DIR"


def _generated_dirs():
    explicit = os.environ.get(GENERATED_DIR_ENV)
    if explicit:
        yield explicit
    yield os.path.join(sys.prefix, "lib", "litepose_ros_msgs", "litepose_ros")


def attach_generated_messages() -> bool:
    """Make ``litepose_ros.msg`` importable; True if it is (already or now)."""
    if any(os.path.isdir(os.path.join(path, "msg")) for path in __path__):
        return True
    for path in _generated_dirs():
        if os.path.isdir(os.path.join(path, "msg")):
            __path__.append(path)
            return True
    return False


attach_generated_messages()
