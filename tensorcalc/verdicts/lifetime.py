"""Child processes: forked cheaply, and dying with their parent."""
from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this process when the parent dies, and close the race of a
    parent that died before the request."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(1)


@contextlib.contextmanager
def shared_heap():
    """Around a fork: the child's garbage collector skips every object it inherits, so it
    neither spends time on them nor copies their memory pages by touching them (the pattern
    of the ``gc.freeze`` documentation). The parent's collector is as before afterwards; a
    process that froze objects itself (a worker, which inherited a frozen heap, or a host
    program) is left as it is."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
