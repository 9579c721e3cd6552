"""Explanations that are true: a constant factor only when the ratio is the same at every
point and size set, written in the file's size names; "fails already at" only where the claim
was seen to fail; entry values with enough digits to differ."""
from __future__ import annotations

import re

import pytest

from tensorcalc.verdicts.check import check_file


def reason(tmp_path, dims: str, tensors: str, forward: str, claim: str) -> str:
    text = f"tensorcalc: 1\ndims: {{{dims}}}\ntensors:\n{tensors}\nforward:\n{forward}\nclaims:\n  - {claim}\n"
    path = tmp_path / "d.yaml"
    path.write_text(text, encoding="utf-8")
    result = check_file(str(path))
    assert result.error is None, result.error
    (c,) = result.claims
    assert c.verdict == "fails", (c.verdict, [i.reason for i in c.instances])
    return "; ".join(i.reason for i in c.instances)


def test_a_ratio_that_varies_between_points_is_not_a_constant_factor(tmp_path):
    # a 1×1 derivative: one point alone always shows "a" ratio (s here)
    text = reason(tmp_path, "n: 2", "  s: scalar", "  f: exp(s)", "d f / d s = s exp(s)")
    assert "constant factor" not in text
    assert "the sides differ" in text


def test_a_ratio_that_varies_with_the_size_is_not_a_number(tmp_path):
    text = reason(tmp_path, "N: 5", "  x: vector(N)", "  f: sum(x)", "d f / d x = ones(N)^T / N")
    assert "claimed = 1/N × true" in text
    assert "1/5" not in text


def test_a_size_factor_is_written_with_the_size_name(tmp_path):
    text = reason(tmp_path, "N: 3", "  x: vector(N)", "  f: sum(x) / N", "d f / d x = 2 ones(N)^T")
    assert "claimed = 2 N × true" in text


def test_a_plain_constant_factor_stays_a_number(tmp_path):
    text = reason(tmp_path, "N: 3", "  x: vector(N)", "  f: norm(x)^2", "d f / d x = 4 x^T")
    assert "claimed = 2 × true" in text


def test_a_missing_term_is_not_a_constant_factor(tmp_path):
    text = reason(tmp_path, "N: 3", "  x: vector(N)", "  f: norm(x)^2 + sum(x)", "d f / d x = 2 x^T")
    assert "constant factor" not in text


def test_values_are_printed_with_enough_digits_to_differ(tmp_path):
    text = reason(tmp_path, "N: 3", "  x: vector(N)", "  f: sum(exp(x))", "d f / d x = exp(x)^T + 1/1000000 ones(N)^T")
    found = re.search(r"claimed (\S+), true (\S+) \(random network", text)
    assert found, text
    assert found.group(1) != found.group(2)


@pytest.mark.parametrize(
    "forward, claim",
    [
        ("  f: norm(x)^2", "d f / d x = 2 sum(x) ones(N)^T"),  # right only at N = 1
        ("  f: sum(sigmoid(x))", "d f / d x = sigmoid(x)^T"),
    ],
)
def test_fails_already_at_names_sizes_where_the_claim_fails(tmp_path, forward, claim):
    text = reason(tmp_path, "N: 3", "  x: vector(N)", forward, claim)
    found = re.search(r"fails already at N=(\d+)", text)
    assert found, text
    again = reason(tmp_path, f"N: {found.group(1)}", "  x: vector(N)", forward, claim)  # fails there too
    assert again


def test_a_scalar_against_a_one_by_one_matrix_shows_its_values(tmp_path):
    """A 1×1 claimed side against a scalar truth whose ratio is not constant (it crashed:
    "too many indices for array")."""
    text = reason(tmp_path, "n: 2", "  s: scalar\n  u: vector(n)", "  z: s + sum(u)\n  f: exp(z)", "d f / d s = z ones(1, 1)")
    assert "the sides differ" in text
