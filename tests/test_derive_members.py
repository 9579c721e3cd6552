"""``derive --wrt w[L-1]``: one member of a layer family as its own formula, indices written from L;
``--wrt w[l]`` and members named by a plain number keep the family's formula and recursion."""
from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorcalc.core.expr import Expr, node, substitute, var
from tensorcalc.core.notation import plain
from tensorcalc.core.sizes import size_sets
from tensorcalc.errors import TensorcalcError
from tensorcalc.explain.formulas import Line, NotDerivable
from tensorcalc.explain.members import _confirm_everywhere, derive_member
from tensorcalc.core.model import Model, Prepared
from tensorcalc.frontends import load_spec
from tensorcalc.outputs.views import derive_file
from tensorcalc.verdicts.check import check_file

ROOT = Path(__file__).resolve().parent.parent
CHAIN = ROOT / "tests" / "readable" / "seed003_scalar_chain.yaml"


def claim_text(d) -> str:
    lhs = plain(d.result.lhs)
    return f"{lhs[1:-1]} = {plain(d.result.rhs)}"


def _derived(wrt: list[str]) -> tuple[dict, dict]:
    derived = derive_file(str(CHAIN), wrt)
    return {d.wrt: d for d in derived.derivations}, dict(derived.refused)


@pytest.fixture(scope="module")
def chain():
    return _derived(["w[L]", "w[L-1]"])


@pytest.fixture(scope="module")
def family():
    return _derived(["w[l]", "w[1]", "w[2]"])


def test_the_last_member_is_one_formula(chain):
    d = chain[0]["w[L]"]
    assert not d.general and not d.steps and d.result.loop is None
    assert claim_text(d) == "d C / d w[L] = 2 (a[L] - y) a[L-1] mu'(z[L])"


def test_the_member_below_unrolls_the_recursion_once(chain):
    d = chain[0]["w[L-1]"]
    assert not d.general and not d.steps
    assert claim_text(d) == "d C / d w[L-1] = 2 (a[L] - y) a[L-2] mu'(z[L-1]) mu'(z[L]) w[L]"


def test_the_family_index_keeps_the_family(family):
    d = family[0]["w[l]"]
    assert d.general and d.result.loop == ("1", "L")
    assert claim_text(d) == "d C / d w[l] = (d C / d z[l]) a[l-1]"
    assert [line.role for line in d.steps] == ["base", "recursion"]


@pytest.mark.parametrize("index", ["1", "2"])
def test_a_numbered_member_keeps_the_recursion(family, index):
    """w[1] (the bottom) or w[2]: how far the chain reaches depends on L, so no single unrolled formula exists."""
    d = family[0][f"w[{index}]"]
    assert claim_text(d) == f"d C / d w[{index}] = (d C / d z[{index}]) a[{int(index) - 1}]"
    assert [line.role for line in d.steps] == ["base", "recursion"]


@pytest.mark.parametrize("wrt", ["w[L-7]", "w[L+1]", "w[9]"])
def test_a_member_below_every_layer_is_a_bad_argument(wrt):
    with pytest.raises(TensorcalcError, match=re.escape(f"--wrt {wrt!r}: no layer of 'w' has that index")):
        derive_file(str(CHAIN), ["w[L]", wrt])


def test_without_a_confirmed_member_formula_the_family_is_shown(monkeypatch):
    import tensorcalc.explain.members as members

    def refuted(line, models, prepared):
        raise NotDerivable("not confirmed")

    monkeypatch.setattr(members, "_confirm_everywhere", refuted)
    d = derive_file(str(CHAIN), ["w[L]"]).derivations[0]
    assert d.general and claim_text(d) == "d C / d w[l] = (d C / d z[l]) a[l-1]"


def test_a_member_formula_that_is_wrong_is_not_confirmed():
    """The confirmation can say no: d C / d w[L] with a[L-2] for its factor a[L-1]."""
    prepared = Prepared(load_spec(str(CHAIN)))
    models = [Model(prepared, sizes) for sizes in size_sets(prepared.spec.dims, prepared.spec.check.seed)]
    right = derive_member(prepared, "w[L]", "mixed")
    wrong = Line(right.result.lhs, substitute(right.result.rhs, {"a[L-1]": var("a[L-2]")}), right.result.shape)
    assert wrong.rhs != right.result.rhs
    _confirm_everywhere(right.result, models, prepared)
    with pytest.raises(NotDerivable):
        _confirm_everywhere(wrong, models, prepared)


def test_a_scaled_hadamard_product_inside_a_matrix_product_keeps_its_parentheses():
    u, v, x = var("u"), var("v"), var("x")
    scaled = node("mul", Expr("num", (), Fraction(2)), node("hadamard", u, v))
    assert plain(node("matmul", scaled, node("T", x))) == "(2 u ⊙ v) x^T"


def _chain_file(tmp_path: Path, depth: int) -> Path:
    data = yaml.safe_load(CHAIN.read_text(encoding="utf-8"))
    data["dims"] = {"L": [depth]}
    data["claims"] = []
    path = tmp_path / f"chain{depth}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("depth", [2, 3, pytest.param(5, marks=pytest.mark.slow)])
@pytest.mark.parametrize("wrt", ["w[L]", "b[L-1]", "w[L-2]"])
def test_the_printed_member_formula_holds_as_a_claim(tmp_path, depth, wrt):
    """At each depth the printed formula, read back as a claim of the file, holds; it names layers
    from L only (no layer number stands for L - k)."""
    path = _chain_file(tmp_path, depth)
    if depth == 2 and wrt == "w[L-2]":
        with pytest.raises(TensorcalcError, match="no layer of 'w'"):
            derive_file(str(path), [wrt])
        return
    derived = derive_file(str(path), [wrt])
    text = claim_text(derived.derivations[0])
    assert re.search(r"\[\d", text) is None, text
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["claims"] = [text]
    result = check_file(str(path), text=yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert [c.verdict for c in result.claims] == ["holds"]


BACKPROP = ROOT / "tests" / "readable" / "seed004_backprop_dp.yaml"


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["mixed", "numerator", "denominator"])
@pytest.mark.parametrize("wrt", ["W[L-1]", "a[L-1]"])
def test_a_vector_member_formula_holds_in_every_layout(tmp_path, layout, wrt):
    """Layers of n[l] neurons (widths drawn per layer): the member's formula, printed in a layout and
    read back as a claim of a file in that layout, holds at every size set."""
    data = yaml.safe_load(BACKPROP.read_text(encoding="utf-8"))
    data["layout"] = layout
    path = tmp_path / "backprop.yaml"
    derived = derive_file(str(BACKPROP), [wrt], layout)
    assert not derived.refused and not derived.derivations[0].general
    text = claim_text(derived.derivations[0])
    assert re.search(r"\[\d", text) is None, text
    data["claims"] = [text]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = check_file(str(path))
    assert result.error is None, result.error
    assert [c.verdict for c in result.claims] == ["holds"], text


def _generated_chain(tmp_path: Path, activation: str, loss: str, depths: list[int], vectors: bool) -> Path:
    """A layer family of scalars or of vectors (widths n[l]) with the given activation, loss and depths."""
    shape = "vector(n[l])" if vectors else "scalar"
    weight = "matrix(n[l], n[l-1])" if vectors else "scalar"
    data = {
        "tensorcalc": 1, "title": "generated", "source": "generated by the test", "layout": "mixed",
        "dims": {"L": depths, **({"n[l]": "1..3"} if vectors else {})},
        "functions": {"g": activation},
        "tensors": {"a[0]": shape.replace("[l]", "[0]"), "y": shape.replace("[l]", "[L]"),
                    "W[l]": f"{weight}   for l in 1..L", "b[l]": f"{shape}   for l in 1..L"},
        "forward": {"z[l]": "W[l] a[l-1] + b[l]    for l in 1..L", "a[l]": "g(z[l])    for l in 1..L", "C": loss},
        "claims": [],
    }
    path = tmp_path / "generated.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.slow
@settings(max_examples=10, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(activation=st.sampled_from(["sigmoid", "tanh", "relu", "softplus"]),
       loss=st.sampled_from(["sum((a[L] - y).^2)", "sum(exp(a[L])) - sum(y ⊙ a[L])", "norm(a[L] - y)^2"]),
       depths=st.lists(st.integers(2, 4), min_size=1, max_size=2, unique=True),
       vectors=st.booleans(), member=st.sampled_from(["W[L]", "b[L-1]", "a[L-1]", "W[L-1]"]))
def test_generated_member_formulas_hold(tmp_path, activation, loss, depths, vectors, member):
    """Generated families: the printed member formula is one formula, and holds when the exact and
    the jax oracle check it as a claim at every depth."""
    path = _generated_chain(tmp_path, activation, loss, sorted(depths), vectors)
    derived = derive_file(str(path), [member])
    assert not derived.refused, derived.refused
    d = derived.derivations[0]
    assert not d.general and not d.steps
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["claims"] = [claim_text(d)]
    result = check_file(str(path), text=yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert result.error is None, result.error
    assert [c.verdict for c in result.claims] == ["holds"], claim_text(d)
