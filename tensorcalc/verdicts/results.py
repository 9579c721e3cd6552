"""What checking produces: per case (``Instance``), per claim (``ClaimResult``), per file
(``FileResult``); the ``how`` line summarises the evidence behind a claim's verdict."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Pos, TensorcalcError

EXACT_BUDGET = 2_000_000  # estimated scalar operations of the exact oracle per instance
SHOWN_ENTRIES = 36  # a side's values are carried whole up to this many entries (6×6)


@dataclass
class SideValues:
    """Both sides of a failing claim at the smallest sizes where it fails, in float64 at one
    random network: ``names`` says which is which ("claimed", "true" or "right side", "left
    side"); ``sides`` holds both as rows of numbers (a scalar: one row of one) when each has
    at most ``SHOWN_ENTRIES`` entries, else None; ``entry`` is the first entry that differs
    (1-based) and ``differing`` the two values there; ``digits`` tells them apart."""

    sizes: dict
    names: tuple[str, str]
    shape: tuple[int, ...]
    entry: tuple[int, ...]
    differing: tuple[float, float]
    digits: int
    sides: tuple[list, list] | None = None


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
    values: SideValues | None = None  # a failing case: both sides at the smallest failing sizes
    all_sizes: bool = False  # proved with the dimensions as symbols (indexform.py)
    outside: str = ""  # why the proof for all sizes was not attempted
    roots_set_aside: bool = False  # the exact oracle's stand-in roots disagreed with the floats: numeric verdict


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
    def values(self) -> SideValues | None:
        """Both sides' values behind ``reason``: those of the first failing case."""
        if self.verdict != "fails":
            return None
        return next((i.values for i in self.instances if i.verdict == "fails"), None)

    @property
    def proof(self) -> str | None:
        """How far the evidence for a holding claim reaches: "all sizes" (the dimensions as
        symbols), "sampled sizes" (exact values at the checked sizes), "numeric only"; None otherwise."""
        if self.kind == "helper" or self.verdict != "holds":
            return None
        if any(i.all_sizes for i in self.instances):
            return "all sizes"
        if any(i.exact_points or i.proved for i in self.instances):
            return "sampled sizes"
        return "numeric only"

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
        if self.proof == "all sizes":
            names = ", ".join(self.instances[0].where)
            how = f"proved for all {names or 'values'}; " + how
        elif proved:
            first = next(i for i in self.instances if i.proved)
            how = f"proved with symbolic entries at {_where(first.where)}; " + how
        outside = self.instances[0].outside
        if self.verdict == "holds" and outside:
            how += f"; not proved for all sizes: {outside}"
        skipped = [i.exact_skipped for i in self.instances if i.exact_skipped]
        if skipped:
            cases = f"{len(skipped)} case{'s' * (len(skipped) != 1)}"
            how += f"; exact oracle skipped in {cases} (about {max(skipped):.1e} operations, budget {EXACT_BUDGET:.0e}): numeric verdict"
        aside = sum(i.roots_set_aside for i in self.instances)
        if aside:
            how += (f"; exact oracle set aside in {aside} case{'s' * (aside != 1)} (a root of a non-square rational "
                    "has no exact value there): numeric verdict")
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
