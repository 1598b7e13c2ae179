"""How pose_node reacts to SIGINT / SIGTERM / SIGHUP. Imports nothing slow, so the start-up handlers
can be installed before rclpy, OpenCV and the inference runtimes are imported."""
import os
import signal
import sys
from typing import Any, Optional  # noqa: F401  (Optional: type comment)

# SIGHUP: the terminal closed or the ssh session dropped; a stop request like SIGTERM.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def _exit_quietly(signum: int, frame: Any) -> None:
    """A stop signal before the node can shut down cleanly: nothing to clean up yet, so leave
    at once, without a KeyboardInterrupt traceback; 0 as for any requested stop."""
    sys.stderr.flush()
    os._exit(0)


def exit_quietly_on_stop_signals() -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, _exit_quietly)


def ignore_stop_signals() -> None:
    """After the clean-up: a late stop signal (a second group SIGINT, a supervisor's SIGTERM) is
    ignored. Python's finalisation puts SIG_DFL back for signals with Python handlers, and a
    signal landing then would kill the exiting process (exit code -2); SIG_IGN it leaves alone."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


class StopRequest(object):
    """SIGINT/SIGTERM handler for the running node: the first signal asks the spin loop to end,
    later ones are ignored (`ros2 launch` without a terminal delivers the group SIGINT twice,
    and the second must not interrupt the clean-up). rclpy's own handlers are not installed:
    they would invalidate the context while the worker may still be publishing."""

    def __init__(self) -> None:
        self.signal = None  # type: Optional[int]

    def install(self) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is None:
            self.signal = signum

    @property
    def requested(self) -> bool:
        return self.signal is not None


EXIT_WITH_PARENT_ENV = "LITEPOSE_EXIT_WITH_PARENT"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def exit_with_parent() -> None:
    """Under ``ros2 launch`` (which sets LITEPOSE_EXIT_WITH_PARENT=1): a SIGTERM when the launch
    process dies, so the node stops cleanly instead of running on as an orphan. ``ros2 launch``
    given SIGTERM (systemd's stop signal) or SIGKILL ends without stopping its processes."""
    if os.environ.get(EXIT_WITH_PARENT_ENV) != "1" or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
        return
    if os.getppid() == 1:  # the launch died before prctl: no signal would come
        os.kill(os.getpid(), signal.SIGTERM)
