"""A wall-clock limit inside the process: ``wall_clock(seconds)`` interrupts the block with
``OutOfTime``. The alarm rings again every ``RING_AGAIN`` seconds until the block is left,
since Python drops an exception raised inside a garbage-collector or weakref callback;
``workers.py`` also ends a worker whose claim runs on regardless."""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

RING_AGAIN = 0.25  # seconds between alarms once the time limit is reached


class OutOfTime(BaseException):
    """Raised by the wall-clock timer inside any loop (a BaseException: nothing swallows it)."""


@contextmanager
def wall_clock(seconds: float):
    """Interrupt the block after ``seconds`` (main thread, POSIX); elsewhere a no-op.

    The alarm repeats until the block is left: an ``OutOfTime`` raised where Python
    ignores exceptions (a gc or weakref callback) is followed by another one."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or seconds <= 0:
        yield
        return
    armed = [True]

    def ring(_signum, _frame):
        if armed[0]:
            raise OutOfTime()

    previous_handler = signal.signal(signal.SIGALRM, ring)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _quiet_about_out_of_time(previous_hook)
    signal.setitimer(signal.ITIMER_REAL, seconds, RING_AGAIN)
    try:
        yield
    finally:
        _disarm(armed)
        signal.signal(signal.SIGALRM, previous_handler)
        sys.unraisablehook = previous_hook


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
