"""The seed derivation files, and the format extensions they need: dimensions as numbers,
bounded products and sums over layers, derivatives of entries, helpers with entries."""
import json
import textwrap
from pathlib import Path

import pytest

from tensorcalc.verdicts.check import check_file

ROOT = Path(__file__).resolve().parents[1]

CHAIN = """
tensorcalc: 1
layout: mixed
dims:
  L: [2, 3]
  n[l]: 2..3
functions: {{mu: sigmoid}}
tensors:
  a[0]: vector(n[0])
  y: vector(n[L])
  W[l]: matrix(n[l], n[l-1])   for l in 1..L
  w[l]: scalar                 for l in 1..L
forward:
  z[l]: W[l] a[l-1]            for l in 1..L
  a[l]: mu(z[l])               for l in 1..L
  s[l]: w[l] + 1               for l in 1..L
  C: norm(a[L] - y)^2 + sum(s[L] ⊙ a[L])
claims:
{claims}
"""


def verdicts(tmp_path, claims, template=CHAIN):
    body = "\n".join(f"  - {json.dumps(c, ensure_ascii=False)}" for c in claims)
    f = tmp_path / "t.yaml"
    f.write_text(textwrap.dedent(template).format(claims=body), encoding="utf-8")
    result = check_file(str(f))
    assert result.error is None, result.error
    return [(c.verdict, c.reason) for c in result.claims]


def test_product_over_layers_unrolls_in_order(tmp_path):
    got = verdicts(tmp_path, [
        "prod(s[i] for i in 1..L) = prod(s[L-i+1] for i in 1..L)",
        "prod(s[i] for i in 1..0) = 1",
        "sum(s[i] for i in 1..L) = sum(s[L-i+1] for i in 1..L)",
        "sum(s[i] for i in 2..1) = 0",
        "prod(W[L-i+1] for i in 1..L-1) = prod(W[L-i+1] for i in 1..L-1)",
    ])
    assert [v for v, _ in got] == ["holds"] * 5


def test_wrong_product_bounds_fail(tmp_path):
    got = verdicts(tmp_path, ["prod(s[i] for i in 1..L) = prod(s[i] for i in 2..L)", "sum(s[i] for i in 1..L) = L s[1]"])
    assert [v for v, _ in got] == ["fails", "fails"]


def test_dimension_names_are_numbers(tmp_path):
    got = verdicts(tmp_path, ["sum(ones(n[L])) = n[L] - 0 + 0 * L + sum(ones(n[L])) - n[L]", "L + 1 = sum(ones(L + 1))", "2 L = L"])
    assert [v for v, _ in got] == ["holds", "holds", "fails"]


def test_derivative_of_an_entry(tmp_path):
    got = verdicts(tmp_path, [
        "d a[l][i] / d a[l-1][j] = mu'(z[l][i]) W[l][i,j]   for l in 1..L",
        "d a[l][i] / d a[l-1][j] = mu'(z[l][j]) W[l][i,j]   for l in 1..L",
        "d s[l] / d w[l] = 1   for l in 1..L",
    ])
    assert [v for v, _ in got] == ["holds", "fails", "holds"]


def test_derivative_of_an_entry_needs_an_entry_below(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text(textwrap.dedent(CHAIN).format(claims='  - "d a[L][i] / d W[L] = W[L]"'), encoding="utf-8")
    result = check_file(str(f))
    assert result.error is not None and "an entry differentiates by an entry" in result.error.message


def test_helper_entries_and_kronecker(tmp_path):
    got = verdicts(tmp_path, [
        "delta[l] := d C / d z[l]",
        "J[l] := d z[l] / d W[l]",
        "Id[l] := I(n[l])",
        "J[l][k,i,j] = Id[l][k,j] a[l-1][i]   for l in 1..L",
        "J[l][k,i,j] = Id[l][k,i] a[l-1][j]   for l in 1..L",
        "delta[l-1][i] = mu'(z[l-1][i]) sum_k(delta[l][k] W[l][k,i])   for l in 2..L",
        "delta[l-1][i] = mu'(z[l][i]) sum_k(delta[l][k] W[l][k,i])   for l in 2..L",
    ])
    assert [v for v, _ in got] == ["holds", "holds", "holds", "holds", "fails", "holds", "fails"]


SEEDS = sorted((ROOT / "derivations").glob("seed*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("path", SEEDS, ids=[p.name for p in SEEDS])
def test_seed_file_verdicts_match_expectations(path):
    result = check_file(str(path))
    assert result.error is None, result.error
    wrong = [(c.index, c.text, c.verdict, c.reason) for c in result.claims if not c.as_expected]
    assert not wrong


def test_every_seed_is_covered_with_sources():
    seeds = sorted(p.name for p in (Path("/work/shared/seeds") if Path("/work/shared/seeds").exists() else ROOT).glob("0*.txt"))
    names = [p.read_text(encoding="utf-8") for p in SEEDS]
    for seed in seeds:
        assert any(f"source: {seed}" in text for text in names), seed
    for text in names:
        assert "\nsource: " in text


def test_proportional_claims_need_a_positive_scale(tmp_path):
    got = verdicts(tmp_path, [
        "d C / d W[l] ≈ 3 (d C / d W[l])   for l in 1..L",
        "d C / d W[l] ≈ -(d C / d W[l])    for l in 1..L",
        "d C / d W[l] ≈ W[l]               for l in 1..L",
    ])
    assert [v for v, _ in got] == ["holds", "fails", "fails"]


def test_last_layer_member_by_size_name(tmp_path):
    template = CHAIN.replace("  a[l]: mu(z[l])               for l in 1..L", "  a[l]: mu(z[l])               for l in 1..L-1\n  a[L]: tanh(z[L])")
    got = verdicts(tmp_path, ["d a[L] / d z[L] = diag(tanh'(z[L]))", "d a[L-1] / d z[L-1] = diag(mu'(z[L-1]))", "d a[L] / d z[L] = diag(mu'(z[L]))"], template)
    assert [v for v, _ in got] == ["holds", "holds", "fails"]
