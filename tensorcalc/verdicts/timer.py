"""A wall-clock limit inside the process: ``wall_clock(seconds)`` interrupts the block with
``OutOfTime``. The alarm rings again every ``RING_AGAIN`` seconds until the block is left,
since Python drops an exception raised inside a garbage-collector or weakref callback;
``workers.py`` also ends a worker whose claim runs on regardless."""
from __future__ import annotations

import signal
import sys
import threading
import time

RING_AGAIN = 0.25  # seconds between alarms once the time limit is reached


class OutOfTime(BaseException):
    """Raised by the wall-clock timer inside any loop (a BaseException: nothing swallows it).

    ``limit`` is the ``wall_clock`` whose time is up, or None for an enclosing one: a nested
    limit that gives up quietly must let an enclosing limit's alarm through (``mine``)."""

    def __init__(self, limit: "wall_clock | None" = None):
        super().__init__()
        self.limit = limit

    def mine(self, limit: "wall_clock") -> bool:
        return self.limit is limit


class wall_clock:
    """Interrupt the block after ``seconds`` (main thread, POSIX); elsewhere a no-op.

    The alarm repeats until the block is left: an ``OutOfTime`` raised where Python
    ignores exceptions (a gc or weakref callback) is followed by another one. Inside an
    enclosing limit that ends first, the alarm raises ``OutOfTime(None)``, not this one's."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._restore = None

    def __enter__(self) -> "wall_clock":
        usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        if not usable or self.seconds <= 0:
            return self
        armed = [True]
        outer, started = signal.getitimer(signal.ITIMER_REAL), time.perf_counter()  # an enclosing limit, if any
        outer_end = started + outer[0] if outer[0] > 0 else float("inf")

        def ring(_signum, _frame):
            if armed[0]:
                raise OutOfTime(self if time.perf_counter() < outer_end else None)

        previous_handler = signal.signal(signal.SIGALRM, ring)
        previous_hook = sys.unraisablehook
        sys.unraisablehook = _quiet_about_out_of_time(previous_hook)
        self._restore = (armed, outer, started, previous_handler, previous_hook)
        signal.setitimer(signal.ITIMER_REAL, min(self.seconds, outer[0]) if outer[0] > 0 else self.seconds, RING_AGAIN)
        return self

    def __exit__(self, *_exc) -> bool:
        if self._restore is None:
            return False
        armed, outer, started, previous_handler, previous_hook = self._restore
        self._restore = None
        _disarm(armed)
        signal.signal(signal.SIGALRM, previous_handler)
        sys.unraisablehook = previous_hook
        if outer[0] > 0:  # the enclosing limit goes on counting (and rings at once if it has passed)
            signal.setitimer(signal.ITIMER_REAL, max(outer[0] - (time.perf_counter() - started), 1e-3), outer[1])
        return False


def _disarm(armed: list) -> None:
    """Stop the alarm; an alarm ringing while this runs is caught and the stop retried."""
    while armed[0]:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
            armed[0] = False
        except OutOfTime:
            continue


def _quiet_about_out_of_time(previous):
    """An unraisable-exception hook that drops a swallowed ``OutOfTime`` (the next alarm
    interrupts the claim) and passes everything else on."""

    def hook(unraisable):
        if not isinstance(unraisable.exc_value, OutOfTime):
            previous(unraisable)

    return hook
