"""Claims -> verdicts: every claim, at every size set and layer index, through both oracles.

A claim holds only when the exact oracle finds both sides equal at every point and
the numeric oracle agrees within ``rtol``; when the oracles disagree the verdict is
``error`` (an internal error, reported loudly), never a silent pick.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import shapes as S
from .diagnose import diagnose
from .errors import Pos, ShapeError, TensorcalcError
from .expr import Expr
from .indices import bound_indices, index_ranges
from .model import Claim, Model, Prepared
from .oracles import exact_points, numeric_points, relative_error
from .sizes import size_sets
from .spec import load_spec

TRUTH_TOLERANCE = 1e-7  # chain-rule program vs jax: above this, the rules themselves are wrong


@dataclass
class Instance:
    where: dict
    verdict: str  # holds | fails | error | timeout
    reason: str = ""
    exact_points: int = 0
    numeric_trials: int = 0
    max_rel_error: float = 0.0


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
        return f"exact: {n_sets} case{'s' * (n_sets != 1)}, {pts} points; numeric: {trials} networks, max rel err {err:.1e}"


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


def check_file(path: str, time_limit: float | None = None, text: str | None = None, on_claim=None) -> FileResult:
    start = time.perf_counter()
    result = FileResult(path)
    try:
        spec = load_spec(path, text)
        result.title, result.layout = spec.title, spec.layout
        prepared = Prepared(spec)
        limit = time_limit or spec.check.timeout
        models = [Model(prepared, sizes) for sizes in size_sets(spec.dims, spec.check.seed)]
        for claim in prepared.claims:
            claim_result = check_claim(prepared, models, claim, limit)
            result.claims.append(claim_result)
            if on_claim:
                on_claim(claim_result)
    except TensorcalcError as err:
        result.error = err.at(Pos(path, 1, 1))
    except RecursionError:
        result.error = TensorcalcError("input nested too deeply", Pos(path, 1, 1))
    result.seconds = time.perf_counter() - start
    return result


def check_claim(prepared: Prepared, models: list[Model], claim: Claim, limit: float) -> ClaimResult:
    out = ClaimResult(claim.index, claim.text, claim.pos, claim.expect, claim.kind, claim.name, claim.note_line)
    if claim.kind == "helper":
        return out
    start = time.perf_counter()
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
            if time.perf_counter() - start > limit:
                out.instances.append(Instance(where, "timeout", f"gave up after {limit:g} s"))
                out.seconds = time.perf_counter() - start
                return out
            out.instances.append(check_instance(prepared, model, claim, scope, where))
    out.seconds = time.perf_counter() - start
    return out


def check_instance(prepared: Prepared, model: Model, claim: Claim, scope: dict, where: dict) -> Instance:
    settings = prepared.spec.check
    try:
        lhs = model.resolve(claim.lhs, scope)
        rhs = model.resolve(claim.rhs, scope)
    except ShapeError as err:
        return Instance(where, "fails", f"ill-formed: {err.message}")
    try:
        left_shape, right_shape = model.shape(lhs), model.shape(rhs)
    except ShapeError as err:
        return Instance(where, "fails", f"ill-formed: {err.message}")
    if not S.same(left_shape, right_shape):
        return Instance(where, "fails", diagnose(model, claim, lhs, rhs, scope, shapes=(left_shape, right_shape)))
    ranges = {**index_ranges(model, lhs), **index_ranges(model, rhs)}
    for bound in bound_indices(lhs) | bound_indices(rhs):
        ranges.pop(bound, None)
    seed = settings.seed
    exact = exact_points(model, lhs, rhs, ranges, settings.exact_points, seed)
    numeric = numeric_points(model, lhs, rhs, ranges, settings.trials, seed)
    proportional = claim.kind == "proportional"
    exact_holds = all(_exact_equal(l, r, proportional) for p in exact for l, r in zip(p.lhs, p.rhs))
    errors = [_numeric_error(l, r, proportional) for p in numeric for l, r in zip(p.lhs, p.rhs)]
    err = max(errors, default=0.0)
    numeric_holds = bool(err <= settings.rtol)
    truth_error = max(p.truth_error for p in numeric)
    inst = Instance(where, "holds", "", len(exact), len(numeric), err)
    if not truth_error <= TRUTH_TOLERANCE:
        inst.verdict = "error"
        inst.reason = f"internal error: the chain rule and jax disagree on a derivative (relative difference {truth_error:.1e})"
    elif exact_holds and numeric_holds:
        pass
    elif not exact_holds and not numeric_holds:
        inst.verdict = "fails"
        inst.reason = diagnose(model, claim, lhs, rhs, scope, exact=exact, numeric=numeric, numeric_error=err)
    else:
        kink = any(getattr(p, "near_kink", False) for p in numeric)
        inst.verdict = "error"
        inst.reason = (
            f"internal error: the oracles disagree (exact says {'equal' if exact_holds else 'different'}, "
            f"numeric max rel err {err:.1e} vs rtol {settings.rtol:g})" + (" near a kink of a piecewise function" if kink else "")
        )
    return inst


def _exact_equal(left, right, proportional: bool) -> bool:
    left, right = np.asarray(left, dtype=object), np.asarray(right, dtype=object)
    if left.size != right.size:
        return False
    left, right = left.reshape(-1), right.reshape(-1)
    if not proportional:
        return all(a == b for a, b in zip(left, right))
    pairs = [(a, b) for a, b in zip(left, right) if a != 0 or b != 0]
    if not pairs or any(a == 0 or b == 0 for a, b in pairs):
        return not pairs
    ratio = pairs[0][0] / pairs[0][1]
    return ratio > 0 and all(a == ratio * b for a, b in pairs)


def _numeric_error(left, right, proportional: bool) -> float:
    left, right = np.asarray(left, dtype=float), np.asarray(right, dtype=float)
    if left.size != right.size:
        return float("inf")
    left, right = left.reshape(-1), right.reshape(-1)
    if proportional:
        denom = float(right @ right)
        scale = float(left @ right) / denom if denom else 0.0
        if scale <= 0:
            return float("inf") if np.any(left) or np.any(right) else 0.0
        right = scale * right
    err = relative_error(left, right)
    return err if err == err else float("inf")


def check_paths(paths: list[str], time_limit: float | None = None, on_claim=None, on_file=None) -> list[FileResult]:
    results = []
    for path in paths:
        result = check_file(path, time_limit, on_claim=on_claim)
        results.append(result)
        if on_file:
            on_file(result)
    return results


__all__ = ["check_file", "check_paths", "FileResult", "ClaimResult", "Instance", "Expr"]
