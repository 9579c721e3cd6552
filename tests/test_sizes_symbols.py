"""Sizes are symbols: a dimension used as a value (1/N, n[L]) stays a name through resolve,
simplify, derive and every printer; it becomes a number only where an oracle evaluates."""
from __future__ import annotations

import pytest

from tensorcalc.cli import main
from tensorcalc.core.model import Model, Prepared
from tensorcalc.core.notation import plain
from tensorcalc.core.simplify import simplify
from tensorcalc.core.sizes import size_sets
from tensorcalc.explain.formulas import derive
from tensorcalc.frontends import load_spec
from tensorcalc.outputs.latex import Printer

BATCH = """tensorcalc: 1
title: batch
layout: {layout}
dims: {{d: 3, h: 4, k: 2, N: {N}}}
tensors:
  X: matrix(d, N)
  Y: matrix(k, N)
  W1: matrix(h, d)
  W2: matrix(k, h)
forward:
  Z1: W1 X
  A1: {f}(Z1)
  Yhat: W2 A1
  L: {coefficient} norm(Yhat - Y)^2
loss: L
claims: []
"""


def prepared_batch(sizes: str, layout: str = "denominator", f: str = "sigmoid", coefficient: str = "1/(2 N)") -> Prepared:
    return Prepared(load_spec("batch.yaml", BATCH.format(N=sizes, layout=layout, f=f, coefficient=coefficient)))


@pytest.mark.parametrize("sizes", ["5", "[3, 5]", "[1, 2, 7]"])
def test_batch_gradient_carries_1_over_n_at_one_or_several_size_sets(sizes):
    out = derive(prepared_batch(sizes), "W2")
    assert plain(out.result.rhs) == "1/N (Yhat - Y) A1^T"
    assert plain(derive(prepared_batch(sizes), "Y").result.rhs) == "1/N (Y - Yhat)"


def test_size_is_a_node_until_evaluated():
    prepared = prepared_batch("5")
    model = Model(prepared, size_sets(prepared.spec.dims, 0)[0])
    loss = model.defs["L"]
    assert "size" in {n.op for n in _walk(loss)}
    assert "5" not in plain(loss) and "N" in plain(loss)


def _walk(e):
    yield e
    for a in e.args:
        yield from _walk(a)


def test_trace_of_identity_is_its_size_by_name():
    spec = load_spec("t.yaml", "tensorcalc: 1\ntitle: t\ndims: {n: 4}\ntensors: {x: vector(n)}\nforward: {s: trace(I(n)) x}\nclaims: [s = n x]\n")
    model = Model(Prepared(spec), {"n": 4})
    assert plain(simplify(model.defs["s"], model.shape)) == "n x"


def test_softmax_summary_prints_its_factor_by_name(root, capsys):
    assert main(["derive", str(root / "derivations/seed003_softmax_summary.yaml"), "--wrt", "W[l]"]) == 0
    out = capsys.readouterr().out
    assert "d C / d Z[L] = 1/N (A[L] - Y)" in out and "1/3" not in out  # softmax with one-hot Y: A[L] - Y


def test_family_width_used_as_a_value_is_printed_by_name(root, capsys):
    """seed003_batch_squared: delta[L] = 2/N (...) at N = 2, where 2/N used to print as 1."""
    assert main(["derive", str(root / "derivations/seed003_batch_squared.yaml"), "--wrt", "W[l]"]) == 0
    assert "delta[L]     = 2/N (A[L] - Y) ⊙ mu'(Z[L])" in capsys.readouterr().out


def test_latex_prints_the_size_by_name():
    out = derive(prepared_batch("[3, 5]"), "W2")
    assert Printer()(out.result.rhs).startswith(r"\frac{1}{N} \, ")


def test_several_size_sets_latex_shows_every_gradient(root, capsys):
    assert main(["latex", str(root / "derivations/batch_regression.yaml")]) == 0
    out = capsys.readouterr().out
    assert "Not shown" not in out and r"\frac{1}{N}" in out


def test_the_number_in_place_of_the_name_fails_and_the_correction_names_the_size(root, capsys):
    assert main(["check", str(root / "derivations/batch_regression.yaml")]) == 0
    out = capsys.readouterr().out
    assert "correct: d L / d W2 = 1/N (Yhat - Y) A1^T" in out


def test_layer_width_used_as_a_value_is_printed_relative_to_l(root, tmp_path, capsys):
    text = (root / "derivations/mlp.yaml").read_text(encoding="utf-8")
    lines = [ln for ln in text.split("claims:")[0].splitlines() if not ln.startswith("  C:")]
    path = tmp_path / "width.yaml"
    path.write_text("\n".join(lines + ["  C: 1/n[L] norm(a[L] - y)^2", "claims: []", ""]), encoding="utf-8")
    assert main(["derive", str(path), "--wrt", "W[l]"]) == 0
    assert "d C / d z[L] = 2/n[L] (a[L] - y) ⊙ mu'(z[L])" in capsys.readouterr().out
