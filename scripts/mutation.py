"""Mutation testing of the verifier: every small edit of a true claim must be rejected.

For every derivation file, every claim must get its expected verdict (no false
rejections). Every claim expected to hold is then mutated with the operators of
``tensorcalc.explain.mutations`` (transpose a factor, swap two factors, drop or double a
scalar, flip a sign, f' <-> f, shift a layer index l±1, drop a diag or ⊙ term).
A mutant is discarded as *equivalent* when, at every size set and layer index, it
resolves to the same canonical form as the original (``mutations.normal_form``:
Aᵀᵀ = A, symmetric I(n) / diag(v) / scalars equal their transpose, commuting
operands of + ⊙ *, scalar factors moved to the front), or when the edited
sub-expression has exactly the value of the one it replaces in every instance (a
local identity, checked at random rational points: a symmetric derivative such as
d s / d z = diag(σ'(z)) transposed, two commuting factors swapped), or the edited side of the
claim keeps its exact value (an edit inside a trace or determinant that does not change it:
trace(A B) = trace(B A), det(Xᵀ) = det(X), a symmetric input transposed). A mutant that does not
resolve or type-check is *killed by the type checker*; the others go through both
oracles (with ``--trials`` numeric networks) and must fail.

At most ``--max-per-claim`` mutants are checked per claim, drawn deterministically
(seeded by file and claim) when a claim has more; mutants run with the file's own
settings (``--trials`` lowers the number of numeric networks). Exit 1 below a 100% kill rate or
on a false rejection.

    python scripts/mutation.py derivations/ [--max-per-claim 12] [--trials 1]
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import io
import multiprocessing
import os
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tensorcalc.core.notation import plain  # noqa: E402
from tensorcalc.core.model import Model, Prepared  # noqa: E402
from tensorcalc.core.sizes import size_sets  # noqa: E402
from tensorcalc.errors import TensorcalcError  # noqa: E402
from tensorcalc.explain.mutations import claim_edits, context_of, normal_form  # noqa: E402
from tensorcalc.frontends import load_spec  # noqa: E402
from tensorcalc.verdicts.check import check_claim  # noqa: E402

MAX_PER_CLAIM = 40  # today every claim of derivations/ has fewer: all mutants run (about 1 min)
TRIALS = 0  # 0: the file's own check.trials
MUTANT_SECONDS = 60.0


@dataclass
class Tally:
    originals: int = 0
    false_verdicts: list = field(default_factory=list)
    generated: int = 0
    sampled_out: int = 0
    equivalent: int = 0
    locally_equivalent: int = 0
    killed_type: int = 0
    killed_oracles: int = 0
    survivors: list = field(default_factory=list)

    def add(self, other: "Tally") -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def tested(self) -> int:
        return self.killed_type + self.killed_oracles + len(self.survivors)

    @property
    def kill_rate(self) -> float:
        return 1.0 if not self.tested else (self.killed_type + self.killed_oracles) / self.tested


def instances(model: Model, claim):
    """Scopes of one claim at one model (one per value of its ``for`` index)."""
    if not claim.loop:
        yield dict(model.scope)
        return
    lo, hi = model.eval_int(claim.loop.lo, model.scope), model.eval_int(claim.loop.hi, model.scope)
    for value in range(lo, hi + 1):
        yield {**model.scope, claim.loop.index: value}


def locally_equal(models: list[Model], claim, edit) -> bool:
    """Does the edited sub-expression have the value of the one it replaces, in every
    instance (same shape, equal exactly at two random points)? Then the mutant is the
    same claim: e.g. a symmetric matrix transposed, or two commuting factors swapped."""
    return same_value(models, claim, edit.old, edit.new)


def same_side(models: list[Model], claim, mutant, side: str) -> bool:
    """Does the edited side of the claim keep its value (an edit inside a trace or a determinant
    that does not change it: trace(A B) = trace(B A), det(Xᵀ) = det(X))? Then the mutant states
    the same claim."""
    return same_value(models, claim, getattr(claim, side), getattr(mutant, side))


def same_value(models: list[Model], claim, old_raw, new_raw) -> bool:
    """Equal shapes and exactly equal values at two random rational points, in every instance."""
    from tensorcalc.core import shapes as S
    from tensorcalc.core.indices import bound_indices, index_ranges
    from tensorcalc.oracles.points import exact_points

    for model in models:
        for scope in instances(model, claim):
            try:
                old, new = model.resolve(old_raw, scope), model.resolve(new_raw, scope)
                if not S.same(model.shape(old), model.shape(new)):
                    return False
                ranges = {**index_ranges(model, old), **index_ranges(model, new)}
                for bound in bound_indices(old) | bound_indices(new):
                    ranges.pop(bound, None)
                points = exact_points(model, old, new, ranges, 2, model.spec.check.seed + 1)
            except Exception:  # noqa: BLE001 - cannot compare here: the mutant goes through the oracles instead
                return False
            for p in points:
                for a, b in zip(p.lhs, p.rhs):
                    a, b = a.reshape(-1), b.reshape(-1)
                    if a.size != b.size or any(x != y for x, y in zip(a, b)):
                        return False
    return True


def classify(models: list[Model], original, mutant) -> str:
    """'type' (does not resolve / type-check somewhere), 'equivalent', or 'run'."""
    same_everywhere = True
    for model in models:
        for scope in instances(model, original):
            try:
                m_lhs, m_rhs = model.resolve(mutant.lhs, scope), model.resolve(mutant.rhs, scope)
                left, right = model.shape(m_lhs), model.shape(m_rhs)
            except TensorcalcError:
                return "type"
            from tensorcalc.core import shapes as S

            if not S.same(left, right):
                return "type"
            o_lhs, o_rhs = model.resolve(original.lhs, scope), model.resolve(original.rhs, scope)
            if (normal_form(model, m_lhs), normal_form(model, m_rhs)) != (normal_form(model, o_lhs), normal_form(model, o_rhs)):
                same_everywhere = False
    return "equivalent" if same_everywhere else "run"


def run_file(path: str, tally: Tally, max_per_claim: int, trials: int, out) -> None:
    spec = load_spec(path)
    prepared = Prepared(spec)
    models = [Model(prepared, sizes) for sizes in size_sets(spec.dims, spec.check.seed)]
    fast = copy.copy(prepared)
    fast.spec = dataclasses.replace(spec, check=dataclasses.replace(spec.check, trials=min(trials or spec.check.trials, spec.check.trials)))
    ctx = context_of(prepared)
    for claim in prepared.claims:
        if claim.kind == "helper":
            continue
        tally.originals += 1
        result = check_claim(prepared, models, claim, spec.check.timeout, explain=False)
        if result.verdict != claim.expect:
            tally.false_verdicts.append(f"{path}:{claim.pos.line}: [{claim.index}] {claim.text}: {result.verdict}, expected {claim.expect}")
            continue
        if claim.expect != "holds":
            continue
        edits = claim_edits(claim.lhs, claim.rhs, ctx)
        tally.generated += len(edits)
        if len(edits) > max_per_claim:
            rng = random.Random(f"{path}:{claim.index}")
            edits = sorted(rng.sample(edits, max_per_claim), key=edits.index)
            tally.sampled_out += len(claim_edits(claim.lhs, claim.rhs, ctx)) - max_per_claim
        for edit in edits:
            lhs, rhs = (edit.expr, claim.rhs) if edit.side == "lhs" else (claim.lhs, edit.expr)
            text = f"{plain(lhs)} = {plain(rhs)}"
            mutant = dataclasses.replace(claim, lhs=lhs, rhs=rhs, text=text, expect="fails")
            kind = classify(models, claim, mutant)
            if kind == "equivalent":
                tally.equivalent += 1
                continue
            if kind == "type":
                tally.killed_type += 1
                continue
            if (edit.old is not None and locally_equal(models, claim, edit)) or same_side(models, claim, mutant, edit.side):
                tally.locally_equivalent += 1
                continue
            try:
                verdict = check_claim(fast, models, mutant, MUTANT_SECONDS, explain=False).verdict
            except TensorcalcError:
                verdict = "fails"
            if verdict == "fails":
                tally.killed_oracles += 1
            else:
                tally.survivors.append(f"{path}:{claim.pos.line}: [{claim.index}] {edit.kind}: {edit.description} -> {verdict}")
                print(f"  survivor: {tally.survivors[-1]}", file=out, flush=True)
        print(f"  [{claim.index}] {claim.text}: {len(edits)} mutants", file=out, flush=True)


def file_job(job: tuple[str, int, int]) -> tuple[Tally, str]:
    """One file in a worker process: its tally and what it printed."""
    path, max_per_claim, trials = job
    tally, out = Tally(), io.StringIO()
    run_file(path, tally, max_per_claim, trials, out)
    return tally, out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--max-per-claim", type=int, default=MAX_PER_CLAIM)
    parser.add_argument("--trials", type=int, default=TRIALS)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    parser.add_argument("--jobs", type=int, default=cores, help="files checked at once")
    args = parser.parse_args(argv)
    files = []
    for p in args.paths:
        path = Path(p)
        files += sorted(str(f) for f in path.rglob("*.y*ml")) if path.is_dir() else [p]
    tally = Tally()
    start = time.perf_counter()
    jobs = [(path, args.max_per_claim, args.trials) for path in files]
    # each file in a forked worker (jax not yet loaded here), printed in order as the results come
    with ProcessPoolExecutor(max(1, min(args.jobs, len(files))), mp_context=multiprocessing.get_context("fork")) as pool:
        for path, (part, printed) in zip(files, pool.map(file_job, jobs)):
            print(path, flush=True)
            print(printed, end="", flush=True)
            tally.add(part)
    seconds = time.perf_counter() - start
    print(
        f"mutation testing: {len(files)} files, {tally.originals} original claims ({len(tally.false_verdicts)} with a wrong verdict); "
        f"{tally.generated} mutants generated, {tally.sampled_out} left out by sampling (at most {args.max_per_claim} per claim), "
        f"{tally.equivalent} equivalent by normal form, {tally.locally_equivalent} by a local identity "
        f"(the edited sub-expression or side keeps its value); {tally.tested} tested: {tally.killed_type} killed by the type checker, "
        f"{tally.killed_oracles} killed by the oracles, {len(tally.survivors)} survived — kill rate {100 * tally.kill_rate:.1f}% ({seconds:.0f} s)"
    )
    for line in tally.false_verdicts:
        print(f"  wrong verdict on an original: {line}")
    for line in tally.survivors:
        print(f"  survivor: {line}")
    return 0 if tally.kill_rate == 1.0 and not tally.false_verdicts else 1


if __name__ == "__main__":
    sys.exit(main())
