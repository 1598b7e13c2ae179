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


def _leave_at_once(signum, frame) -> None:  # noqa: ANN001
    """A stop signal before the program's own handlers are in: nothing to clean up yet, so no
    KeyboardInterrupt traceback from the middle of an import. pose_node exits 0 (a requested
    stop), a command 128 + the signal as a shell reports it."""
    os._exit(0 if "--ros-args" in sys.argv else 128 + signum)


def _quiet_start_up() -> None:
    """Our programs (``python -m litepose_ros...``, the ``litepose`` and ``pose_node`` scripts)
    import this package first of all: the stop-signal handlers go in here, a few milliseconds
    after Python's own start-up, and the programs' main() replace them with their own.
    ``_signal`` is built in: importing it searches no path (``signal`` would, interruptibly)."""
    import _signal

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(_signal, name):
            _signal.signal(getattr(_signal, name), _leave_at_once)


if sys.argv[:1] == ["-m"] or os.path.basename(sys.argv[0] if sys.argv else "") in ("litepose", "pose_node"):
    _quiet_start_up()  # runpy sets argv[0] to "-m" while it imports the parents of the module to run

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
