"""A derivative that is 0 in exact arithmetic comes out of float64 as rounding noise (1e-17):
the numeric oracle counts it as 0 at the network's scale, so the true claim holds (it used to
crash: "The truth value of an array ... is ambiguous") and a wrong one still fails."""
from __future__ import annotations

import pytest

from tensorcalc.verdicts.check import check_file

PROGRAM = """tensorcalc: 1
layout: denominator
dims: {m: 2}
tensors:
  v: vector(m)
forward:
  h1: softmax(v)
  L: sum(h1)
claims:
  - CLAIM
"""


@pytest.mark.parametrize(
    "claim, expected",
    [
        ("d L / d v = softmax(v) ⊙ (ones(m) - ones(m, m) (ones(m) ⊙ softmax(v)))", "holds"),
        ("d L / d v = zeros(m)", "holds"),
        ("d L / d v = softmax(v) ⊙ (ones(m) - softmax(v))", "fails"),
    ],
)
def test_a_zero_derivative_of_a_constant_loss(tmp_path, claim, expected):
    path = tmp_path / "z.yaml"
    path.write_text(PROGRAM.replace("CLAIM", claim), encoding="utf-8")
    result = check_file(str(path))
    assert result.error is None, result.error
    (c,) = result.claims
    assert c.verdict == expected, [i.reason for i in c.instances]
