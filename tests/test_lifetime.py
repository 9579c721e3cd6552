"""verdicts/lifetime.py: a fork inside ``shared_heap`` gives the child a frozen heap and
leaves the parent's garbage collector as it was."""
from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest

from tensorcalc.verdicts.lifetime import shared_heap

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or not sys.platform.startswith("linux"), reason="fork on Linux only")


# Forked in a fresh interpreter (this one may hold jax's threads, which a fork must not copy):
# prints the child's frozen object count, then the parent's before and after.
FORK = """
import gc, os
from tensorcalc.verdicts.lifetime import shared_heap
before = gc.get_freeze_count()
with shared_heap():
    pid = os.fork()
    if pid == 0:
        os._exit(min(255, gc.get_freeze_count()))
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status), before, gc.get_freeze_count())
"""


def test_child_inherits_a_frozen_heap_and_the_parent_is_unchanged():
    done = subprocess.run([sys.executable, "-c", FORK], capture_output=True, text=True, timeout=120)
    child, before, after = map(int, done.stdout.split())
    assert child > 0  # the objects of the parent, skipped by the child's collector
    assert before == after == 0


def test_a_heap_frozen_by_its_owner_stays_frozen():
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        with shared_heap():
            pass
        assert gc.get_freeze_count() == before  # neither thawed nor frozen further
    finally:
        gc.unfreeze()


def test_an_error_inside_still_thaws_the_parent():
    with pytest.raises(RuntimeError):
        with shared_heap():
            assert gc.get_freeze_count() > 0
            raise RuntimeError
    assert gc.get_freeze_count() == 0
