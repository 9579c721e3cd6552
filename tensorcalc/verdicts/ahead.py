"""The proofs of each claim's first case, computed ahead in a second process.

The symbolic proof and the proof for all sizes need only sympy, not the oracles' evidence
nor jax. A worker that has not imported jax forks a prover once the file's models are
built: the prover works through the claims in order while the worker imports jax and runs
the oracles, so both cores work. It reports each result as one JSON line.

The worker takes a result that is there, waits for one the prover is computing, and
computes in place any other (the prover is behind, gave up or died): the verdicts are the
same either way. The prover dies with the worker (``PR_SET_PDEATHSIG``) and is killed when
the file is done.
"""
from __future__ import annotations

import json
import os
import select
import signal
import sys
import time

from ..core import shapes as S
from .check import PROOF_SECONDS, all_sizes_outcome, cases, free_ranges, symbolic_proof
from .evidence import exact_cost
from .lifetime import die_with_parent, shared_heap
from .results import EXACT_BUDGET

PARTS = ("proof", "all_sizes")  # in the order the worker asks for them
WAIT_SECONDS = 2 * PROOF_SECONDS + 5.0  # the longest wait for a claim the prover is on: then it is computed in place


def start_prover(prepared, models: list, skip: int) -> "Prover | None":
    """Fork a prover for the claims from the ``skip``-th on; None where it would not help
    or could not be forked safely (jax's threads live here, one core, no fork)."""
    usable = sys.platform.startswith("linux") and hasattr(os, "fork") and "jax" not in sys.modules
    if not usable or len(os.sched_getaffinity(0)) < 2:
        return None
    read, write = os.pipe()
    parent = os.getpid()
    try:
        with shared_heap():
            pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        return None
    if pid == 0:
        os.close(read)
        _prover_main(prepared.claims[skip:], models, write, parent)  # never returns
    os.close(write)
    return Prover(pid, read)


def _prover_main(claims: list, models: list, write: int, parent: int) -> None:
    """The prover process: one ``start`` line per claim, then one line per part; then exit."""
    code = 1
    try:
        die_with_parent(parent)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker's parent decides
        with os.fdopen(write, "w", encoding="utf-8") as out:
            for claim in claims:
                if claim.kind in ("helper", "proportional"):  # neither proof is ever asked for
                    continue
                _send(out, {"start": claim.index})
                for part, value in first_case_parts(models, claim):
                    _send(out, {"claim": claim.index, "part": part, **value})
        code = 0
    except BaseException:  # noqa: BLE001 - whatever happens, the worker computes in place
        pass
    finally:
        os._exit(code)


def _send(out, message: dict) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def first_case_parts(models: list, claim):
    """(part, {"value": result}) for each of ``PARTS`` at the claim's first case; an empty
    dict where the result is not known here (an unexpected exception: the worker repeats
    the computation and so reports the same error)."""
    try:
        model, scope, _where = next(cases(models, claim))
    except Exception:  # noqa: BLE001 - no case (an empty loop) or none readable: nothing to send
        return
    yield "proof", _known(lambda: _symbolic_proof(model, claim, scope))
    yield "all_sizes", _known(lambda: list(all_sizes_outcome(model, claim, scope)))


def _known(compute) -> dict:
    try:
        return {"value": compute()}
    except Exception:  # noqa: BLE001
        return {}


def _symbolic_proof(model, claim, scope) -> bool | None:
    """``symbolic_proof`` of the sides at this case, as ``check_instance`` would run it (None
    where it never would: shapes differ, or the exact oracle is over budget)."""
    lhs, rhs = model.resolve(claim.lhs, scope), model.resolve(claim.rhs, scope)
    if not S.same(model.shape(lhs), model.shape(rhs)):
        return None
    ranges = free_ranges(model, lhs, rhs)
    if exact_cost(model, lhs, rhs, ranges) > EXACT_BUDGET:
        return None
    return symbolic_proof(model, lhs, rhs, ranges)


class Prover:
    """The worker's side: the results read so far, by claim index and part."""

    def __init__(self, pid: int, fd: int):
        self.pid, self.fd = pid, fd
        self.results: dict[int, dict] = {}
        self.current: int | None = None  # the claim the prover is on
        self.pending = b""
        self.open = True
        self.poll = select.poll()
        self.poll.register(fd, select.POLLIN)

    def take(self, index: int, part: str) -> tuple | None:
        """``(result,)`` of ``part`` of claim ``index``, waiting while the prover is on that
        claim; None when the caller must compute it."""
        while self.open and self._read(0.0):
            pass
        deadline = time.monotonic() + WAIT_SECONDS
        while self.open and self.current == index and part not in self.results.get(index, {}):
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                break
            self._read(left)
        got = self.results.get(index, {}).get(part)
        return (got["value"],) if got and "value" in got else None

    def _read(self, timeout: float) -> bool:
        """Read what arrived within ``timeout`` seconds; False when nothing did."""
        if not self.poll.poll(max(0, int(timeout * 1000))):
            return False
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:  # the prover has finished or died
            self.close()
            return False
        lines = (self.pending + chunk).split(b"\n")
        self.pending = lines.pop()
        for line in lines:
            self._note(line)
        return True

    def _note(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return self.close()
        if "start" in message:
            self.current = message["start"]
        else:
            self.results.setdefault(message["claim"], {})[message["part"]] = message

    def close(self) -> None:
        """Stop the prover (if it still runs) and forget the pipe; results read stay usable."""
        if not self.open:
            return
        self.open = False
        self.current = None
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)
