"""Graceful Ctrl-C for long runs (bag analysis, training): finish the unit of work, then stop."""
import signal
import sys
from typing import Any


class GracefulInterrupt(object):
    """Context manager: the first SIGINT sets ``stopped`` and prints ``message``; a second one
    raises KeyboardInterrupt as usual. Outside the main thread no handler can be installed and
    Ctrl-C behaves as usual (callers catch KeyboardInterrupt)."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.stopped = False
        self._previous: Any = None

    def __enter__(self) -> "GracefulInterrupt":
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread
            self._previous = None
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stopped:
            raise KeyboardInterrupt
        self.stopped = True
        print("\n" + self.message, file=sys.stderr, flush=True)

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
