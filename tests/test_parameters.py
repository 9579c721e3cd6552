"""``parameters:`` names the tensors a gradient is taken of; ``derive`` defaults to them."""
from __future__ import annotations

import pytest

from tensorcalc.core.model import Prepared
from tensorcalc.errors import TensorcalcError
from tensorcalc.explain.formulas import parameters
from tensorcalc.frontends import load_spec
from tests.test_messages import SHALLOW


def prepared(text: str) -> Prepared:
    return Prepared(load_spec("p.yaml", text))


def test_default_is_every_tensor():
    assert parameters(prepared(SHALLOW)) == ["x", "W1", "b1", "W2", "b2"]


def test_named_parameters_are_the_default():
    text = SHALLOW.replace("forward:", "parameters: [W1, b2]\nforward:")
    assert parameters(prepared(text)) == ["W1", "b2"]


def test_family_parameters_in_flow_style(root):
    assert parameters(Prepared(load_spec(str(root / "derivations/mlp.yaml")))) == ["W[l]", "b[l]"]


def test_unknown_parameter_is_refused_with_a_suggestion():
    with pytest.raises(TensorcalcError) as err:
        prepared(SHALLOW.replace("forward:", "parameters: [W1, B2]\nforward:"))
    assert "parameters: 'B2' is not declared under 'tensors'; did you mean 'b2'?" in str(err.value)
    assert err.value.pos.line == 11


def test_derive_prints_the_parameters_only(root, capsys):
    from tensorcalc import cli

    assert cli.main(["derive", str(root / "derivations/shallow.yaml")]) == 0
    firsts = [line.split("=")[0].strip() for line in capsys.readouterr().out.splitlines() if line.startswith("d ")]
    assert firsts == ["d loss / d W1", "d loss / d b1", "d loss / d W2", "d loss / d b2"]
