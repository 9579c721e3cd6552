"""The one printer of the text syntax: ``plain`` (few parentheses) and ``grouped`` (grouping spelt out)."""
import pytest

from tensorcalc.core.expr import Expr, node, var
from tensorcalc.core.notation import grouped, plain
from tensorcalc.errors import Pos
from tensorcalc.frontends.parse import parse

TEXTS = ["1/2 norm(r)^2", "W^T d ⊙ s", "a - (b + c)", "-x y", "d (W x) / d x", "sigma'(z) ⊙ W[l]^T delta[l]",
         "A diag(g) / s", "(x r^T) W2", "X.^2 - 2 Y", "[a; b] + [c | d]"]


@pytest.mark.parametrize("text", TEXTS)
def test_both_forms_of_a_raw_tree_read_back_to_the_same_grouping(text):
    raw, _loop = parse(text, "def_line", Pos())
    for printed in (plain(raw), grouped(raw)):
        again, _loop = parse(printed, "def_line", Pos())
        assert grouped(again) == grouped(raw)


def test_grouped_tells_the_two_groupings_of_a_product_apart():
    a, b, c = var("a"), var("b"), var("c")
    left, right = node("matmul", node("matmul", a, b), c), node("matmul", a, node("matmul", b, c))
    assert plain(left) == plain(right) == "a b c"
    assert (grouped(left), grouped(right)) == ("(a b) c", "a (b c)")


def test_a_tree_prints_as_plain_text_and_a_summed_index_keeps_its_name():
    e = Expr("isum", (node("entry", var("A"), attr=("ij", "k")),), "ij")
    assert str(e) == plain(e) == "sum_ij(A[ij, k])"
