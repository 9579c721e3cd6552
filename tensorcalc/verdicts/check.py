"""Claims -> verdicts: every claim, at every size set and layer index, through both oracles.

A claim holds only when the exact oracle finds both sides equal at every point and
the numeric oracle agrees within ``rtol``; when the oracles disagree the verdict is
``error`` (an internal error, reported loudly), never a silent pick.

Caps: the exact oracle runs only when its estimated work (``exact_cost``) is below
``EXACT_BUDGET`` scalar operations; above it the verdict rests on the numeric oracle
and the report says so. Each claim has a wall-clock limit (``check.timeout`` or
``--time-limit``): a timer interrupts the work wherever it is and the claim gets the
verdict ``timeout`` ("gave up after N s", exit code 3). The timer rings again every
``RING_AGAIN`` seconds until the claim stops, since Python drops an exception raised inside
a garbage-collector or weakref callback; ``workers.py`` also ends a worker whose claim
runs on regardless.

Nothing but a verdict leaves a claim: an unexpected exception becomes the verdict
``error`` naming the exception and the line of tensorcalc that raised it.
"""
from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
import traceback
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..core import shapes as S
from ..core.expr import Expr, walk
from ..core.indices import bound_indices, index_ranges
from ..core.model import Claim, Model, Prepared
from ..core.sizes import size_sets
from ..errors import Inconclusive, InternalError, Pos, ShapeError, TensorcalcError, arithmetic_reason
from ..explain.diagnose import diagnose, diagnose_ill_formed
from ..frontends import load_spec
from ..oracles.compare import exact_equal, numeric_error
from ..oracles.points import chain_rule_derivative, exact_points, exact_points_at, network_leaves, numeric_points
from ..oracles.symbolic import prove

TRUTH_TOLERANCE = 1e-7  # chain-rule program vs jax: above this, the rules themselves are wrong
PROOF_SECONDS = 10.0  # the symbolic proof is optional: cancelling nested tanh/exp can take minutes
EXACT_BUDGET = 2_000_000  # estimated scalar operations of the exact oracle per instance
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

    outer, started = signal.getitimer(signal.ITIMER_REAL), time.perf_counter()  # an enclosing limit, if any
    previous_handler = signal.signal(signal.SIGALRM, ring)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _quiet_about_out_of_time(previous_hook)
    signal.setitimer(signal.ITIMER_REAL, min(seconds, outer[0]) if outer[0] > 0 else seconds, RING_AGAIN)
    try:
        yield
    finally:
        _disarm(armed)
        signal.signal(signal.SIGALRM, previous_handler)
        sys.unraisablehook = previous_hook
        if outer[0] > 0:  # the enclosing limit goes on counting (and rings at once if it has passed)
            signal.setitimer(signal.ITIMER_REAL, max(outer[0] - (time.perf_counter() - started), 1e-3), outer[1])


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


@dataclass
class Instance:
    where: dict
    verdict: str  # holds | fails | error | timeout
    reason: str = ""
    exact_points: int = 0
    numeric_trials: int = 0
    max_rel_error: float = 0.0
    exact_skipped: int = 0  # estimated cost when the exact oracle was skipped (above EXACT_BUDGET)
    overflowed: int = 0  # numeric networks with non-finite values, left out
    proved: bool = False  # also proved with symbolic entries (symbolic.py)


@dataclass
class ClaimResult:
    index: int
    text: str
    pos: Pos
    expected: str
    kind: str
    name: str | None = None
    note_line: int | None = None
    instances: list[Instance] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        if self.kind == "helper":
            return "holds"
        verdicts = {i.verdict for i in self.instances}
        for v in ("error", "timeout", "fails"):
            if v in verdicts:
                return v
        return "holds" if verdicts else "error"

    @property
    def as_expected(self) -> bool:
        return self.verdict == self.expected

    @property
    def reason(self) -> str:
        for verdict in ("error", "timeout", "fails"):
            for inst in self.instances:
                if inst.verdict == verdict:
                    return f"{inst.reason} [{_where(inst.where)}]" if inst.where else inst.reason
        if self.kind == "helper":
            return "definition (checked where later claims use it)"
        return ""

    @property
    def how(self) -> str:
        if self.kind == "helper":
            return ""
        n_sets = len(self.instances)
        pts = sum(i.exact_points for i in self.instances)
        trials = sum(i.numeric_trials for i in self.instances)
        err = max((i.max_rel_error for i in self.instances), default=0.0)
        if not pts and not trials:
            decided = "no value computed" if self.verdict in ("error", "timeout") else "decided by the shape and type check"
            return f"{decided}: {n_sets} case{'s' * (n_sets != 1)}"
        how = f"exact: {n_sets} case{'s' * (n_sets != 1)}, {pts} points; numeric: {trials} networks, max rel err {err:.1e}"
        proved = sum(i.proved for i in self.instances)
        if proved:
            first = next(i for i in self.instances if i.proved)
            how = f"proved with symbolic entries at {_where(first.where)}; " + how
        skipped = [i.exact_skipped for i in self.instances if i.exact_skipped]
        if skipped:
            cases = f"{len(skipped)} case{'s' * (len(skipped) != 1)}"
            how += f"; exact oracle skipped in {cases} (about {max(skipped):.1e} operations, budget {EXACT_BUDGET:.0e}): numeric verdict"
        overflowed = sum(i.overflowed for i in self.instances)
        if overflowed:
            how += f"; {overflowed} network{'s' * (overflowed != 1)} overflowed (inf/nan) and were left out"
        return how


@dataclass
class FileResult:
    path: str
    title: str | None = None
    layout: str | None = None
    claims: list[ClaimResult] = field(default_factory=list)
    error: TensorcalcError | None = None
    seconds: float = 0.0


def _where(where: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in where.items())


def check_file(
    path: str, time_limit: float | None = None, text: str | None = None, on_claim=None, on_start=None, skip: int = 0
) -> FileResult:
    """Every claim of one file from the ``skip``-th on. ``on_start(position, claim, limit)``
    is called before a claim is checked (with the claim's result, still empty) and
    ``on_claim(result)`` after. A failure while reading the file is the file's ``error``."""
    start = time.perf_counter()
    result = FileResult(path)
    try:
        spec = load_spec(path, text)
        result.title, result.layout = spec.title, spec.layout
        prepared = Prepared(spec)
        limit = time_limit or spec.check.timeout
        models = [Model(prepared, sizes) for sizes in size_sets(spec.dims, spec.check.seed)]
        for position, claim in enumerate(prepared.claims[skip:], skip):
            if on_start:
                on_start(position, unchecked(claim), limit)
            claim_result = check_claim(prepared, models, claim, limit)
            result.claims.append(claim_result)
            if on_claim:
                on_claim(claim_result)
    except TensorcalcError as err:
        result.error = err.at(Pos(path, 1, 1))
    except RecursionError:
        result.error = TensorcalcError("input nested too deeply", Pos(path, 1, 1))
    except Exception as err:  # a bug, not the input: say where, check the other files
        result.error = InternalError(internal_error(err), Pos(path, 1, 1))
    result.seconds = time.perf_counter() - start
    return result


def unchecked(claim: Claim) -> ClaimResult:
    """The result of a claim before any instance is checked."""
    return ClaimResult(claim.index, claim.text, claim.pos, claim.expect, claim.kind, claim.name, claim.note_line)


def internal_error(err: BaseException) -> str:
    """``internal error: Type: message (at tensorcalc/file.py:line)``: the innermost frame of
    tensorcalc in the traceback, read from the traceback object, never printed."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tensorcalc/, not verdicts/
    frames = [f for f in traceback.extract_tb(err.__traceback__) if os.path.abspath(f.filename).startswith(package + os.sep)]
    where = f" (at tensorcalc/{os.path.relpath(frames[-1].filename, package)}:{frames[-1].lineno})" if frames else ""
    message = str(err).splitlines()[0][:200] if str(err) else ""
    return f"internal error: {type(err).__name__}{': ' + message if message else ''}{where}"


def check_claim(prepared: Prepared, models: list[Model], claim: Claim, limit: float, explain: bool = True) -> ClaimResult:
    """Every instance of one claim, within ``limit`` seconds of wall-clock time."""
    out = unchecked(claim)
    if claim.kind == "helper":
        return out
    start = time.perf_counter()
    current: dict = {}
    try:
        with wall_clock(limit):
            _check_instances(prepared, models, claim, limit, explain, out, start, current)
    except OutOfTime:
        out.instances.append(Instance(dict(current), "timeout", f"gave up after {limit:g} s"))
    except Inconclusive as err:
        out.instances.append(Instance(dict(current), "error", f"inconclusive: {err}"))
    except RecursionError:
        out.instances.append(Instance(dict(current), "error", "inconclusive: expression nested too deeply to evaluate"))
    except TensorcalcError:
        raise  # the input is wrong: the file's error
    except Exception as err:
        out.instances.append(Instance(dict(current), "error", internal_error(err)))
    out.seconds = time.perf_counter() - start
    return out


def _check_instances(prepared, models, claim, limit, explain, out, start, current) -> None:
    for model in models:
        loop_values = [None]
        if claim.loop:
            lo, hi = model.eval_int(claim.loop.lo, model.scope), model.eval_int(claim.loop.hi, model.scope)
            loop_values = list(range(lo, hi + 1))
        for value in loop_values:
            where = {k: v for k, v in model.sizes.items() if "[" not in k}
            scope = dict(model.scope)
            if value is not None:
                scope[claim.loop.index] = value
                where = {claim.loop.index: value, **where}
            current.clear()
            current.update(where)
            if time.perf_counter() - start > limit:
                raise OutOfTime()
            proved_once = any(i.proved for i in out.instances)  # one symbolic proof per claim is enough
            out.instances.append(check_instance(prepared, model, claim, scope, where, explain, symbolic=not proved_once))


def exact_cost(model: Model, lhs: Expr, rhs: Expr, ranges: dict) -> int:
    """Estimated scalar operations of one exact point: one forward-sized pass per
    chain-rule run (one run per entry of a non-scalar differentiated expression)."""
    entries, width = _extent(model)
    runs = 1
    for side in (lhs, rhs):
        for n in walk(side):
            if n.op == "deriv":
                of_shape = model.numeric_shape(model.shape(n.args[0]))
                runs += math.prod(of_shape) * max(of_shape, default=1)
    return runs * entries * width * max(1, math.prod(ranges.values()))


_EXTENTS: "weakref.WeakKeyDictionary[Model, tuple[int, int]]" = weakref.WeakKeyDictionary()


def _extent(model: Model) -> tuple[int, int]:
    """(entries of every tensor and definition, widest axis of any shape), computed once per model."""
    if model not in _EXTENTS:
        own = [model.numeric_shape(s) for s in model.shapes.values()]
        _EXTENTS[model] = (sum(math.prod(s) for s in own), max((max(s, default=1) for s in own), default=1))
    return _EXTENTS[model]


def check_instance(
    prepared: Prepared, model: Model, claim: Claim, scope: dict, where: dict, explain: bool = True, symbolic: bool = True
) -> Instance:
    settings = prepared.spec.check
    try:
        lhs = model.resolve(claim.lhs, scope)
        rhs = model.resolve(claim.rhs, scope)
        left_shape, right_shape = model.shape(lhs), model.shape(rhs)
    except ShapeError as err:
        return Instance(where, "fails", diagnose_ill_formed(model, claim, scope, err.message) if explain else f"ill-formed: {err.message}")
    if not S.same(left_shape, right_shape):
        reason = diagnose(model, claim, lhs, rhs, scope, shapes=(left_shape, right_shape)) if explain else "shapes differ"
        return Instance(where, "fails", reason)
    try:
        ranges = index_ranges(model, lhs, rhs)
    except ShapeError as err:  # one index over two different sizes
        return Instance(where, "fails", f"ill-formed: {err.message}")
    for bound in bound_indices(lhs) | bound_indices(rhs):
        ranges.pop(bound, None)
    seed = settings.seed
    cost = exact_cost(model, lhs, rhs, ranges)
    try:
        exact = exact_points(model, lhs, rhs, ranges, settings.exact_points, seed) if cost <= EXACT_BUDGET else []
    except ArithmeticError as err:
        if isinstance(err, OverflowError):
            raise  # exact values do not overflow: a bug, reported as an internal error
        return Instance(where, "error", f"inconclusive: the claim is undefined at a random exact point ({arithmetic_reason(err)})")
    all_numeric = numeric_points(model, lhs, rhs, ranges, settings.trials, seed)
    numeric = [p for p in all_numeric if _finite(p)]
    proportional = claim.kind == "proportional"
    exact_holds = all(exact_equal(l, r, proportional) for p in exact for l, r in zip(p.lhs, p.rhs))
    errors = [_numeric_error(p, l, r, proportional) for p in numeric for l, r in zip(p.lhs, p.rhs)]
    err = max(errors, default=0.0)
    numeric_holds = bool(err <= settings.rtol)
    truth_error = max((p.truth_error for p in numeric), default=0.0)
    inst = Instance(where, "holds", "", len(exact), len(numeric), err, cost if not exact else 0, len(all_numeric) - len(numeric))
    kink = any(getattr(p, "near_kink", False) for p in numeric)
    if exact and exact_holds and not numeric_holds and not kink:
        # piecewise functions (relu) can make every exact point degenerate (all units
        # off): confirm the numeric counterexamples exactly, at the same networks
        bad = [
            i for i, p in enumerate(all_numeric)
            if any(p is q for q in numeric) and max(_numeric_error(p, l, r, proportional) for l, r in zip(p.lhs, p.rhs)) > settings.rtol
        ]
        networks = network_leaves(model, settings.trials, seed)
        confirmed = exact_points_at(model, lhs, rhs, ranges, [networks[i] for i in bad[:2]], seed)
        if any(not exact_equal(l, r, proportional) for p in confirmed for l, r in zip(p.lhs, p.rhs)):
            exact_holds = False
            exact = exact + confirmed
    if exact and not exact_holds and numeric_holds and not kink and _numeric_differs_at(model, lhs, rhs, ranges, settings, proportional):
        numeric_holds = False  # every random network was degenerate (relu units off); the exact points are not
    if not numeric:
        inst.verdict = "error"
        inst.reason = (
            "inconclusive: every numeric network overflowed (inf/nan) in float64"
            + (f"; the exact oracle says the sides are {'equal' if exact_holds else 'different'}" if exact else "")
        )
    elif not truth_error <= TRUTH_TOLERANCE:
        inst.verdict = "error"
        inst.reason = f"internal error: the chain rule and jax disagree on a derivative (relative difference {truth_error:.1e})"
    elif exact_holds and numeric_holds:
        attempt = symbolic and exact and not proportional
        proof = _proof(model, lhs, rhs, ranges) if attempt else None
        if proof is False:  # the random points said equal: the two exact methods contradict each other
            inst.verdict = "error"
            inst.reason = "internal error: the symbolic proof finds the sides different where the exact points found them equal"
        inst.proved = bool(proof)
    elif (not exact_holds or not exact) and not numeric_holds:
        inst.verdict = "fails"
        inst.reason = diagnose(model, claim, lhs, rhs, scope, exact=exact, numeric=numeric, numeric_error=err) if explain else "values differ"
    elif kink:
        inst.verdict = "error"
        inst.reason = (
            f"inconclusive: numeric disagreement next to the kink of a piecewise function (numeric max rel err {err:.1e}); "
            f"the exact oracle, which uses the exact sign, says the sides are {'equal' if exact_holds else 'different'}"
        )
    else:
        inst.verdict = "error"
        inst.reason = (
            f"internal error: the oracles disagree (exact says {'equal' if exact_holds else 'different'}, "
            f"numeric max rel err {err:.1e} vs rtol {settings.rtol:g})"
        )
    return inst


def _proof(model, lhs, rhs, ranges) -> bool | None:
    """The symbolic proof, given up (None) after ``PROOF_SECONDS``: the other oracles decide."""
    try:
        with wall_clock(PROOF_SECONDS):
            return prove(model, lhs, rhs, ranges, lambda: chain_rule_derivative(model))
    except OutOfTime:
        return None


def _numeric_error(p, left, right, proportional: bool) -> float:
    """``numeric_error``, 0 where both sides are rounding noise at the network's scale."""
    return 0.0 if p.negligible(left, right) else numeric_error(left, right, proportional)


def _numeric_differs_at(model, lhs, rhs, ranges, settings, proportional) -> bool:
    """Do the sides differ in float64 (jax for derivative terms) at the exact oracle's points?"""
    from ..explain.diagnose import float_sides
    from ..oracles.points import point_leaves

    for leaves in point_leaves(model, settings.exact_points, settings.seed):
        sides = float_sides(model, lhs, rhs, {k: np.asarray(v, dtype=float) for k, v in leaves.items()})
        if sides and max((numeric_error(l, r, proportional) for l, r in zip(*sides)), default=0.0) > settings.rtol:
            return True
    return False


def _finite(p) -> bool:
    """Every value of a numeric network is finite (no overflow to inf, no nan)."""
    with np.errstate(all="ignore"):
        return all(np.all(np.isfinite(np.asarray(v, dtype=float))) for v in list(p.lhs) + list(p.rhs)) and p.truth_error == p.truth_error


__all__ = ["check_file", "check_claim", "FileResult", "ClaimResult", "Instance", "Expr"]
