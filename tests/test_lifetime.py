"""verdicts/lifetime.py: a fork inside ``shared_heap`` gives the child a frozen heap and
leaves the parent's garbage collector as it was."""
from __future__ import annotations

import gc
import os
import sys

import pytest

from tensorcalc.verdicts.lifetime import shared_heap

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or not sys.platform.startswith("linux"), reason="fork on Linux only")


def _child_freeze_count() -> int:
    """Fork inside ``shared_heap``; the child reports its frozen object count (capped at 255)."""
    with shared_heap():
        pid = os.fork()
        if pid == 0:
            os._exit(min(255, gc.get_freeze_count()))
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_child_inherits_a_frozen_heap_and_the_parent_is_unchanged():
    assert gc.get_freeze_count() == 0
    assert _child_freeze_count() > 0  # the objects of this test process, skipped by the child's collector
    assert gc.get_freeze_count() == 0


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
