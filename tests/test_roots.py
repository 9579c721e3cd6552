"""Irrational constants and fractional powers: true claims hold, wrong ones fail (never
"the oracles disagree"); exact roots of roots agree with each other."""
from __future__ import annotations

from fractions import Fraction

import pytest

from tensorcalc.core.functions import Transcendentals
from tensorcalc.verdicts.check import check_file


def verdict(tmp_path, dims: str, tensor: str, forward: str, claim: str) -> str:
    path = tmp_path / "r.yaml"
    path.write_text(f"tensorcalc: 1\ndims: {{{dims}}}\ntensors:\n  {tensor}\nforward:\n  {forward}\nclaims:\n  - {claim}\n", encoding="utf-8")
    result = check_file(str(path))
    assert result.error is None, result.error
    (c,) = result.claims
    return c.verdict


@pytest.mark.parametrize(
    "forward, claim, expected",
    [
        ("f: sum(x) / n^(1/2)", "d f / d x = ones(n)^T / n^(1/2)", "holds"),
        ("f: sum(x) / n^(1/2)", "d f / d x = ones(n)^T / n", "fails"),
        ("f: norm(x)^(-1/2)", "d f / d x = -1/2 norm(x)^(-5/2) x^T", "holds"),
        ("f: norm(x)^(-1/2)", "d f / d x = -1/2 norm(x)^(-3/2) x^T", "fails"),
        ("f: norm(x)^(1/3)", "d f / d x = 1/3 norm(x)^(-5/3) x^T", "holds"),
    ],
)
def test_roots_decide(tmp_path, forward, claim, expected):
    assert verdict(tmp_path, "n: 3", "x: vector(n)", forward, claim) == expected


def test_roots_of_roots_and_reciprocals_agree():
    memo = Transcendentals(0)
    x = Fraction(7, 3)
    half = memo.root(x, Fraction(1, 2))
    assert memo.root(half, Fraction(-3, 2)) == memo.root(x, Fraction(-3, 4))
    assert memo.root(x, Fraction(-1, 2)) * half == 1
    assert memo.root(1 / x, Fraction(1, 2)) * half == 1
    assert memo.root(memo.root(x, Fraction(1, 3)), Fraction(3, 2)) == half
    assert memo.root(Fraction(9, 4), Fraction(1, 2)) == Fraction(3, 2)  # exact where rational
