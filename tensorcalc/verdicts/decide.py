"""Evidence -> verdict: one table, no computation. A claim holds only when both oracles say
equal; a disagreement between them is never a silent pick but an inconclusive verdict."""
from __future__ import annotations

from .evidence import Evidence

TRUTH_TOLERANCE = 1e-7  # chain-rule program vs jax: above this, the rules themselves are wrong
ALL_SIZES_CONTRADICTS = "internal error: the proof for all sizes finds the sides equal where the oracles found them different"
PROOF_CONTRADICTS = "internal error: the symbolic proof finds the sides different where the exact points found them equal"


def decide(e: Evidence, rtol: float) -> tuple[str, str]:
    """(verdict, reason): "holds" or "fails" (reason "values differ", explained by the caller) or
    "error" with the reason. The first row that applies decides."""
    exact_says = "equal" if e.exact_equal else "different"
    if not e.numeric:
        said = f"; the exact oracle says the sides are {exact_says}" if e.exact else ""
        return "error", "inconclusive: every numeric network overflowed (inf/nan) in float64" + said
    if not e.truth_error <= TRUTH_TOLERANCE:
        return "error", f"internal error: the chain rule and jax disagree on a derivative (relative difference {e.truth_error:.1e})"
    if e.exact_equal and e.numeric_equal:
        return "holds", ""
    if (not e.exact_equal or not e.exact) and not e.numeric_equal:
        return "fails", "values differ"
    if e.near_kink:
        return "error", (f"inconclusive: numeric disagreement next to the kink of a piecewise function (numeric max rel err "
                         f"{e.numeric_error:.1e}); the exact oracle, which uses the exact sign, says the sides are {exact_says}")
    return "error", (f"internal error: the oracles disagree (exact says {exact_says}, "
                     f"numeric max rel err {e.numeric_error:.1e} vs rtol {rtol:g})")
