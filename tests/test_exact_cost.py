"""Claims over nested exp/sigmoid of matrix products under a trace decide in seconds: the
symbolic proof (optional) is not attempted when cancelling would take minutes."""
from __future__ import annotations

import pytest
import sympy

from tensorcalc.oracles.symbolic import MAX_NODES, _larger_than
from tensorcalc.verdicts.check import check_file

GRADIENT = "h1^T h3^T + h2^T (C^T h1^T ⊙ h2 ⊙ exp'(h2 C)) + h1^T (((C^T h1^T ⊙ h2 ⊙ exp'(h2 C)) C^T + C^T h1^T ⊙ exp(h2 C)) ⊙ sigmoid'(h1 C h1^T)) h1"
PROGRAM = """tensorcalc: 1
layout: denominator
dims: {m: 4, n: 3, k: 5}
tensors:
  A: matrix(m, n)
  B: matrix(n, m)
  C: matrix(m, m)
forward:
  h1: exp(A B)
  h2: sigmoid(h1 C h1^T)
  h3: exp(h2 C) ⊙ h2
  L: trace(h3 h1 C)
claims:
  - d L / d C = RIGHT
  - expect: fails
    claim: d L / d C = WRONG
"""


@pytest.mark.slow
def test_nested_exp_of_matrices_decides_in_seconds(tmp_path):
    """Before: every such claim gave up after the time limit (120 s), in the symbolic proof."""
    path = tmp_path / "nested.yaml"
    path.write_text(PROGRAM.replace("RIGHT", GRADIENT).replace("WRONG", GRADIENT.replace("h1^T h3^T", "h3 h1", 1)), encoding="utf-8")
    result = check_file(str(path), time_limit=30)
    assert result.error is None, result.error
    assert [c.verdict for c in result.claims] == ["holds", "fails"], [i.reason for c in result.claims for i in c.instances]


def test_node_count_stops_at_the_limit():
    x = sympy.Symbol("x")
    assert not _larger_than(x + 1, MAX_NODES)
    assert _larger_than(sum(x**i for i in range(MAX_NODES)), MAX_NODES)
    assert not _larger_than(3, MAX_NODES)


def test_a_nested_time_limit_gives_the_outer_one_back():
    """The symbolic proof has its own limit inside the claim's: when it rings, the claim's
    limit still counts and rings later."""
    import time

    from tensorcalc.verdicts.check import OutOfTime, wall_clock

    inner_rang = outer_rang = False
    start = time.perf_counter()
    try:
        with wall_clock(1.0):
            try:
                with wall_clock(0.1):
                    while True:
                        pass
            except OutOfTime:
                inner_rang = True
            while time.perf_counter() - start < 5:
                pass
    except OutOfTime:
        outer_rang = True
    assert inner_rang and outer_rang
    assert time.perf_counter() - start < 3
