"""Claims -> verdicts: every claim, at every size set and layer index, through both oracles.

Per case: the shapes are checked, both oracles' evidence gathered (``evidence.py``), the
verdict read from one table (``decide.py``), a holding claim proved with symbolic entries
where small enough, a failing one explained (``explain/diagnose.py``). Each claim has a
wall-clock limit (``timer.py``; ``workers.py`` stops a worker whose claim runs on).

Nothing but a verdict leaves a claim: an unexpected exception becomes the verdict
``error`` naming the exception and the line of tensorcalc that raised it.
"""
from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

from ..core import shapes as S
from ..core.expr import Expr
from ..core.indices import bound_indices, index_ranges
from ..core.model import Claim, Model, Prepared
from ..core.sizes import size_sets
from ..errors import Inconclusive, InternalError, Pos, ShapeError, TensorcalcError, arithmetic_reason
from ..frontends import load_spec
from ..oracles.indexform import OutsideFragment, prove_all_sizes
from ..oracles.points import chain_rule_derivative
from ..oracles.symbolic import prove
from .decide import ALL_SIZES_CONTRADICTS, PROOF_CONTRADICTS, decide
from .evidence import gather
from .results import ClaimResult, FileResult, Instance
from .timer import OutOfTime, wall_clock

PACKAGE = Path(__file__).resolve().parent.parent  # tensorcalc/
PROOF_SECONDS = 10.0  # the symbolic proof is optional: cancelling nested tanh/exp can take minutes


def check_file(
    path: str, time_limit: float | None = None, text: str | None = None, on_claim=None, on_start=None, skip: int = 0,
    prover=None,
) -> FileResult:
    """Every claim of one file from the ``skip``-th on. ``on_start(position, claim, limit)``
    is called before a claim is checked (with the claim's result, still empty) and
    ``on_claim(result)`` after. A failure while reading the file is the file's ``error``.
    ``prover(prepared, models, skip)``, when given, may return proofs computed ahead
    (``ahead.py``): an object with ``take(claim_index, part)`` and ``close()``."""
    start = time.perf_counter()
    result = FileResult(path)
    ahead = None
    try:
        spec = load_spec(path, text)
        result.title, result.layout = spec.title, spec.layout
        prepared = Prepared(spec)
        limit = time_limit or spec.check.timeout
        models = [Model(prepared, sizes) for sizes in size_sets(spec.dims, spec.check.seed)]
        ahead = prover(prepared, models, skip) if prover else None
        for position, claim in enumerate(prepared.claims[skip:], skip):
            if on_start:
                on_start(position, unchecked(claim), limit)
            claim_result = check_claim(prepared, models, claim, limit, ahead=ahead)
            result.claims.append(claim_result)
            if on_claim:
                on_claim(claim_result)
    except TensorcalcError as err:
        result.error = err.at(Pos(path, 1, 1))
    except RecursionError:
        result.error = TensorcalcError("input nested too deeply", Pos(path, 1, 1))
    except Exception as err:  # a bug, not the input: say where, check the other files
        result.error = InternalError(internal_error(err), Pos(path, 1, 1))
    finally:
        if ahead is not None:
            ahead.close()
    result.seconds = time.perf_counter() - start
    return result


def unchecked(claim: Claim) -> ClaimResult:
    """The result of a claim before any instance is checked."""
    return ClaimResult(claim.index, claim.text, claim.pos, claim.expect, claim.kind, claim.name, claim.note_line)


def internal_error(err: BaseException) -> str:
    """``internal error: Type: message (at tensorcalc/file.py:line)``: the innermost frame of
    tensorcalc in the traceback, read from the traceback object, never printed."""
    package = str(PACKAGE)
    frames = [f for f in traceback.extract_tb(err.__traceback__) if os.path.abspath(f.filename).startswith(package + os.sep)]
    where = f" (at tensorcalc/{Path(os.path.relpath(frames[-1].filename, package)).as_posix()}:{frames[-1].lineno})" if frames else ""
    message = str(err).splitlines()[0][:200] if str(err) else ""
    return f"internal error: {type(err).__name__}{': ' + message if message else ''}{where}"


def check_claim(
    prepared: Prepared, models: list[Model], claim: Claim, limit: float, explain: bool = True, ahead=None
) -> ClaimResult:
    """Every instance of one claim, within ``limit`` seconds of wall-clock time; ``ahead``
    (see ``check_file``) may hold the proofs of its first case."""
    out = unchecked(claim)
    if claim.kind == "helper":
        return out
    start = time.perf_counter()
    current: dict = {}
    try:
        with wall_clock(limit):
            _check_instances(prepared, models, claim, limit, explain, out, start, current, ahead)
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


def cases(models: list[Model], claim: Claim):
    """(model, scope, where) of every case of a claim: each size set, each layer index of its loop."""
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
            yield model, scope, where


def _check_instances(prepared, models, claim, limit, explain, out, start, current, ahead) -> None:
    for model, scope, where in cases(models, claim):
        current.clear()
        current.update(where)
        if time.perf_counter() - start > limit:
            raise OutOfTime()
        first = not out.instances
        proved_once = any(i.proved for i in out.instances)  # one symbolic proof per claim is enough
        known = (lambda: ahead.take(claim.index, "proof")) if ahead and first else None
        inst = check_instance(prepared, model, claim, scope, where, explain, symbolic=not proved_once, proof_ahead=known)
        if first and inst.verdict in ("holds", "fails") and claim.kind != "proportional":
            known = ahead.take(claim.index, "all_sizes") if ahead else None
            _all_sizes(model, claim, scope, inst, known)
        out.instances.append(inst)


def check_instance(
    prepared: Prepared, model: Model, claim: Claim, scope: dict, where: dict, explain: bool = True, symbolic: bool = True,
    proof_ahead=None,
) -> Instance:
    """One case of a claim (one size set, one loop value): shapes, then both oracles' evidence,
    then the verdict (``decide``), the symbolic proof of a holding claim, the diagnosis of a failing one.
    ``proof_ahead()``, asked only when the proof is needed: ``(symbolic_proof(...),)`` computed
    ahead, or None (then it is computed here)."""
    try:
        lhs = model.resolve(claim.lhs, scope)
        rhs = model.resolve(claim.rhs, scope)
        left_shape, right_shape = model.shape(lhs), model.shape(rhs)
    except ShapeError as err:
        if not explain:
            return Instance(where, "fails", f"ill-formed: {err.message}")
        from ..explain.diagnose import diagnose_ill_formed  # imported only when a claim fails

        return Instance(where, "fails", diagnose_ill_formed(model, claim, scope, err.message))
    if not S.same(left_shape, right_shape):
        reason = _diagnose(model, claim, lhs, rhs, scope, shapes=(left_shape, right_shape)) if explain else "shapes differ"
        return Instance(where, "fails", reason)
    try:
        ranges = free_ranges(model, lhs, rhs)
    except ShapeError as err:  # one index over two different sizes
        return Instance(where, "fails", f"ill-formed: {err.message}")
    settings = prepared.spec.check
    proportional = claim.kind == "proportional"
    try:
        evidence = gather(model, lhs, rhs, ranges, settings, proportional)
    except ArithmeticError as err:
        if isinstance(err, OverflowError):
            raise  # exact values do not overflow: a bug, reported as an internal error
        return Instance(where, "error", f"inconclusive: the claim is undefined at a random exact point ({arithmetic_reason(err)})")
    verdict, reason = decide(evidence, settings.rtol)
    inst = Instance(where, verdict, reason, len(evidence.exact), len(evidence.numeric), evidence.numeric_error,
                    evidence.cost if not evidence.exact and not evidence.roots_set_aside else 0, evidence.overflowed,
                    roots_set_aside=evidence.roots_set_aside)
    if verdict == "holds" and symbolic and evidence.exact and not proportional:
        known = proof_ahead() if proof_ahead else None
        proof = known[0] if known else symbolic_proof(model, lhs, rhs, ranges)
        if proof is False:  # the random points said equal: the two exact methods contradict each other
            inst.verdict, inst.reason = "error", PROOF_CONTRADICTS
        inst.proved = bool(proof)
    elif verdict == "fails" and explain:
        found: list = []
        inst.reason = _diagnose(model, claim, lhs, rhs, scope, exact=evidence.exact, numeric=evidence.numeric,
                                numeric_error=evidence.numeric_error, found=found)
        inst.values = found[0] if found else None
    return inst


def free_ranges(model: Model, lhs: Expr, rhs: Expr) -> dict:
    """{free index: its range} of a claim's sides (a ``ShapeError`` when one index spans two sizes)."""
    ranges = index_ranges(model, lhs, rhs)
    for bound in bound_indices(lhs) | bound_indices(rhs):
        ranges.pop(bound, None)
    return ranges


def _all_sizes(model: Model, claim: Claim, scope: dict, inst: Instance, known: tuple | None = None) -> None:
    """The proof with the dimensions as symbols (``oracles/indexform.py``), at a claim's first
    case: ``inst.all_sizes`` when it holds, else ``inst.outside`` says why it was not attempted.
    Proved equal where the oracles found the sides different: an internal error.
    ``known``: ``(all_sizes_outcome(...),)`` when computed ahead."""
    proved, outside = known[0] if known else all_sizes_outcome(model, claim, scope)
    if outside is not None:
        inst.outside = outside
    if proved and inst.verdict == "fails":
        inst.verdict, inst.reason = "error", ALL_SIZES_CONTRADICTS
    inst.all_sizes = bool(proved) and inst.verdict == "holds"


def all_sizes_outcome(model: Model, claim: Claim, scope: dict) -> tuple[bool, str | None]:
    """(proved for all sizes, why not attempted or not proved — None when proved)."""
    if claim.loop:
        return False, "a claim over a layer index"
    limit = wall_clock(PROOF_SECONDS)
    try:
        with limit:
            proved = prove_all_sizes(model, model.resolve(claim.lhs, scope), model.resolve(claim.rhs, scope))
    except OutsideFragment as err:
        return False, str(err)
    except TensorcalcError:  # an ill-formed side or no derivative rule: the oracles have decided
        return False, "the sides are not both well-formed"
    except RecursionError:
        return False, "the index form took too long"
    except OutOfTime as err:
        if not err.mine(limit):
            raise  # the claim's own time is up
        return False, "the index form took too long"
    if not proved:
        return False, "the index forms of the sides differ (an identity of a function is not used)"
    return True, None


def _diagnose(*args, **kwargs) -> str:
    """``explain.diagnose.diagnose``, imported only when a claim fails."""
    from ..explain.diagnose import diagnose

    return diagnose(*args, **kwargs)


def symbolic_proof(model, lhs, rhs, ranges) -> bool | None:
    """The symbolic proof, given up (None) after ``PROOF_SECONDS``: the other oracles decide."""
    limit = wall_clock(PROOF_SECONDS)
    try:
        with limit:
            return prove(model, lhs, rhs, ranges, lambda: chain_rule_derivative(model))
    except OutOfTime as err:
        if not err.mine(limit):
            raise  # the claim's own time is up
        return None


__all__ = ["check_file", "check_claim", "FileResult", "ClaimResult", "Instance", "Expr"]
