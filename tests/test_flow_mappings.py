"""YAML flow mappings hold formulas as written: commas inside parentheses and index brackets stay in the value."""
from __future__ import annotations

import pytest

from tensorcalc.errors import TensorcalcError
from tensorcalc.frontends import load_spec
from tests.helpers import model_from

BLOCK = """tensorcalc: 1
dims:
  d: 3
  h: 4
tensors:
  x: vector(d)
  W1: matrix(h, d)
forward:
  z: W1 x
  loss: norm(z)^2
claims:
  - d loss / d W1 = 2 x z^T
"""

FLOW = """tensorcalc: 1
dims: {d: 3, h: 4}
tensors: {x: vector(d), W1: matrix(h, d)}
forward: {z: W1 x, loss: norm(z)^2}
claims: [d loss / d W1 = 2 x z^T]
"""


def test_flow_mapping_reads_like_block_style():
    block, flow = load_spec("b.yaml", BLOCK), load_spec("f.yaml", FLOW)
    assert {k: v.text for k, v in flow.tensors.items()} == {k: v.text for k, v in block.tensors.items()}
    assert flow.tensors["W1"].text == "matrix(h, d)"
    assert {k: v.text for k, v in flow.forward.items()} == {"z": "W1 x", "loss": "norm(z)^2"}


def test_positions_stay_exact():
    spec = load_spec("f.yaml", FLOW)
    assert (spec.tensors["W1"].pos.line, spec.tensors["W1"].pos.col) == (3, 29)
    with pytest.raises(TensorcalcError) as err:
        model_from(FLOW.replace("W1 x,", "W1 qq,"), "f.yaml")
    assert (err.value.pos.line, err.value.pos.col) == (4, 17)


def test_layer_family_keys_and_entries_in_flow_style():
    text = """tensorcalc: 1
layout: mixed
dims: {L: [1, 2], n[l]: 1..3}
tensors: {x: vector(n[0]), W[l]: matrix(n[l], n[l-1])  for l in 1..L}
forward: {a[0]: x, a[l]: W[l] a[l-1]  for l in 1..L, C: sum(a[L])}
claims: ['d C / d W[L][i,j] = a[L-1][j]']
"""
    spec = load_spec("f.yaml", text)
    assert set(spec.dims) == {"L", "n[l]"} and spec.dims["L"].sizes == (1, 2)
    assert spec.tensors["W[l]"].text == "matrix(n[l], n[l-1])  for l in 1..L"
    assert spec.forward["a[l]"].text == "W[l] a[l-1]  for l in 1..L"


def test_quotes_comments_and_plain_lists_are_untouched():
    text = FLOW.replace("claims: [d loss / d W1 = 2 x z^T]", "claims: ['d loss / d W1 = 2 x z^T', \"d z / d x = W1\"]  # f(a, b]")
    spec = load_spec("f.yaml", text)
    assert [c.text.text for c in spec.claims] == ["d loss / d W1 = 2 x z^T", "d z / d x = W1"]
    assert load_spec("f.yaml", FLOW.replace("d: 3,", "d: [2, 3],")).dims["d"].sizes == (2, 3)


def test_a_file_full_of_private_use_characters_is_still_read():
    from tensorcalc.frontends.flowscan import stand_ins

    crowded = "".join(chr(c) for c in range(0xE000, 0xF900))
    assert stand_ins(crowded) == {}
    assert len(stand_ins("x")) == 5
