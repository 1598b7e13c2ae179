"""Graceful stop for long runs (bag analysis, training): finish the unit of work, then stop.

Ctrl-C (SIGINT), a supervisor's SIGTERM and a closing terminal or dropped ssh session (SIGHUP)
all mean "stop": each leaves the same valid outputs, and the exit code says which it was
(128 + the signal's number, as a shell reports a process killed by it).
"""
import signal
import sys
from typing import Any, Dict, Optional

# The signals that ask a run to stop; SIGHUP does not exist on Windows.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def exit_code(signum: int) -> int:
    return 128 + int(signum)


class GracefulInterrupt(object):
    """Context manager: the first stop signal sets ``stopped`` (and ``signal``) and prints
    ``message``; a second one raises KeyboardInterrupt as usual. Outside the main thread no
    handler can be installed and Ctrl-C behaves as usual (callers catch KeyboardInterrupt)."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.stopped = False
        self.signal: Optional[int] = None
        self._previous: Dict[int, Any] = {}

    def __enter__(self) -> "GracefulInterrupt":
        for sig in STOP_SIGNALS:
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                break
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stopped:
            raise KeyboardInterrupt
        self.stopped = True
        self.signal = signum
        print("\n" + self.message, file=sys.stderr, flush=True)

    @property
    def exit_code(self) -> int:
        """What the process should exit with after stopping on the signal (SIGINT: 130)."""
        return exit_code(self.signal if self.signal is not None else signal.SIGINT)

    def __exit__(self, *exc_info: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, signal.SIG_DFL if previous is None else previous)  # None: set outside Python
        self._previous = {}


class signals_ignored(object):
    """Stop signals are ignored inside (closing outputs must not be cut short by a second one)."""

    def __enter__(self) -> None:
        self._previous: Dict[int, Any] = {}
        for sig in STOP_SIGNALS:
            try:
                self._previous[sig] = signal.signal(sig, signal.SIG_IGN)
            except ValueError:
                break

    def __exit__(self, *exc_info: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, signal.SIG_DFL if previous is None else previous)
