"""Why a claim fails, in the user's terms; caps (exact budget, time limit)."""
from __future__ import annotations

import pytest

from tensorcalc.verdicts import check as C
from tensorcalc.verdicts import evidence
from tensorcalc.verdicts.check import check_file
from tests.helpers import SHALLOW_MODEL

BASE = """tensorcalc: 1
layout: {layout}
dims: {{d: 3, h: 4, n: 2}}
functions: {{sigma: {sigma}}}
""" + SHALLOW_MODEL + """claims:
{claims}
check: {{trials: 2}}
"""


def run(tmp_path, claims, layout="numerator", sigma="sigmoid"):
    path = tmp_path / "d.yaml"
    path.write_text(BASE.format(layout=layout, sigma=sigma, claims="\n".join(f"  - {c}" for c in claims)), encoding="utf-8")
    result = check_file(str(path))
    assert result.error is None, result.error
    return result.claims


@pytest.mark.parametrize(
    "claim, expected",
    [
        # shapes, claimed first
        ("d loss / d W1 = (x r^T W2 diag(sigma'(z)))^T", ["shapes differ: claimed h×d, true d×h", "the transpose of the truth", "holds in denominator layout"]),
        # constant factors
        ("d loss / d W1 = 2 x r^T W2 diag(sigma'(z))", ["claimed = 2 × true", "correct: d loss / d W1 = x r^T W2 diag(sigma'(z))"]),
        ("d loss / d W1 = 1/2 x r^T W2 diag(sigma'(z))", ["claimed = 1/2 × true"]),
        ("d loss / d r = -r^T", ["claimed = -1 × true"]),
        # f instead of f'
        ("d loss / d W1 = x r^T W2 diag(sigma(z))", ["sigma(z) replaced by sigma'(z)", "correct: d loss / d W1 = x r^T W2 diag(sigma'(z))"]),
        # a missing factor: the one-step derivative d s / d z
        ("d loss / d b1 = r^T W2", ["a factor is missing", "(d s / d z)"]),
        # swapped factors do not type-check; the repair says which order holds
        ("d loss / d W1 = x r^T diag(sigma'(z)) W2", ["ill-formed", "two factors swapped", "x r^T W2 diag(sigma'(z))"]),
        # ⊗ operands swapped
        ("d z / d W1 = x ⊗ I(h)", ["shapes differ", "I(h) ⊗ x"]),
        # a wrong factor in a chain of derivative terms
        ("d loss / d W1 = (d loss / d r)(d r / d s)(d z / d s)(d z / d W1)", ["factor 3 of the product, (d z / d s), is wrong", "(d s / d z)"]),
        # a transposed factor inside a product
        ("d loss / d x = r^T W2 diag(sigma'(z)) W1^T^T", []),
    ],
)
def test_reasons(tmp_path, claim, expected):
    (result,) = run(tmp_path, [claim])
    if not expected:
        assert result.verdict == "holds", result.reason
        return
    assert result.verdict == "fails"
    for words in expected:
        assert words in result.reason, (words, result.reason)


def test_smallest_sizes_and_float_values(tmp_path):
    (result,) = run(tmp_path, ["d loss / d W1 = x r^T W2 diag(sigma(z))"])
    reason = result.reason
    assert "fails already at d=1, h=1, n=1" in reason
    assert "e.g. at x=" in reason
    # readable float values, not huge exact rationals
    assert "e+0" not in reason.split("numeric max rel err")[0]


def test_right_only_for_scalars(tmp_path):
    """x^T W1^T is the right formula when every size is 1 (it equals W1 x there) and wrong otherwise."""
    text = BASE.replace("  loss: 1/2 norm(r)^2\n", "  loss: 1/2 norm(r)^2\n  q: W1 x\n").replace("dims: {d: 3, h: 4, n: 2}", "dims: {d: 3, h: 3, n: 2}")
    path = tmp_path / "q.yaml"
    path.write_text(text.format(layout="numerator", sigma="sigmoid", claims="  - d q / d x = W1^T"), encoding="utf-8")
    (result,) = check_file(str(path)).claims
    assert result.verdict == "fails"
    assert "transpose of the truth" in result.reason or "holds only when every size is 1" in result.reason


def test_layout_hint(tmp_path):
    (result,) = run(tmp_path, ["d loss / d W2 = r s^T"])
    assert "holds in denominator layout; the file says numerator" in result.reason


def test_true_claims_unchanged(tmp_path):
    results = run(tmp_path, ["d loss / d W1 = x r^T W2 diag(sigma'(z))", "d loss / d b1 = r^T W2 diag(sigma'(z))"])
    assert [r.verdict for r in results] == ["holds", "holds"]


def test_exact_budget_falls_back_to_numeric(tmp_path, monkeypatch):
    monkeypatch.setattr(evidence, "EXACT_BUDGET", 10)
    ok, wrong = run(tmp_path, ["d loss / d W1 = x r^T W2 diag(sigma'(z))", "d loss / d W1 = 2 x r^T W2 diag(sigma'(z))"])
    assert ok.verdict == "holds" and "exact oracle skipped" in ok.how
    assert wrong.verdict == "fails"


def test_time_limit_gives_up(tmp_path):
    path = tmp_path / "slow.yaml"
    path.write_text(BASE.format(layout="numerator", sigma="sigmoid", claims="  - d loss / d W1 = x r^T W2 diag(sigma'(z))"), encoding="utf-8")
    (result,) = check_file(str(path), time_limit=0.001).claims
    assert result.verdict == "timeout"
    assert "gave up after 0.001 s" in result.reason


def test_wall_clock_interrupts_a_loop():
    import time

    start = time.perf_counter()
    with pytest.raises(C.OutOfTime):
        with C.wall_clock(0.2):
            while True:
                pass
    assert time.perf_counter() - start < 2


def test_mutations_render_and_reparse():
    from tensorcalc.core.notation import grouped
    from tensorcalc.errors import Pos
    from tensorcalc.explain.mutations import Context, claim_edits
    from tensorcalc.frontends.parse import parse_claim

    claim = parse_claim("delta[l-1] = mu'(z[l-1]) ⊙ W[l]^T delta[l] for l in 2..L", Pos())
    edits = claim_edits(claim.lhs, claim.rhs, Context(frozenset({"mu"}), frozenset({"W", "z", "delta"})))
    kinds = {e.kind for e in edits}
    assert {"transpose", "f' -> f", "shift a layer index", "drop a ⊙ term", "flip a sign", "double a scalar"} <= kinds
    for e in edits:
        again = parse_claim(f"{grouped(claim.lhs)} = {grouped(e.expr)}", Pos()) if e.side == "rhs" else None
        if again is not None:
            assert grouped(again.rhs) == grouped(e.expr)


ROOTS = """tensorcalc: 1
layout: mixed
dims: {n: 3, dk: 2}
tensors: {Q: matrix(n, dk), K: matrix(n, dk), x: vector(n)}
forward:
  S: Q K^T / sqrt(dk)
  f: sum(sin(S))
  mu: mean(x)
claims:
  - claim: d f / d Q = cos(S) K
    expect: fails
  - claim: d f / d Q = 3/sqrt(dk) cos(S) K
    expect: fails
  - claim: d mu / d x = 1/n ones(n)^T
    expect: fails
"""


def test_factors_with_square_roots_of_sizes_and_sizes_as_written(tmp_path):
    """A factor sqrt(dk) (attention's scale dropped) is named symbolically, not left
    unexplained; a repair through ones(n) prints the size, not ones(None)."""
    path = tmp_path / "r.yaml"
    path.write_text(ROOTS, encoding="utf-8")
    claims = check_file(str(path)).claims
    reasons = ["; ".join(i.reason for i in c.instances) for c in claims]
    assert [c.verdict for c in claims] == ["fails"] * 3
    assert "claimed = sqrt(dk) × true" in reasons[0]
    assert "claimed = 3 × true" in reasons[1]
    assert "holds with ones(n)^T transposed" in reasons[2] and "None" not in reasons[2]
