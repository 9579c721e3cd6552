"""The readable pass: one test per rule (each result is also checked equal by the oracles),
the size measure, the function identities, and the formulas derive and diagnose print."""
from __future__ import annotations

import dataclasses
import re
from fractions import Fraction
from pathlib import Path

import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorcalc.cli import main
from tensorcalc.core.derive import gradient_program
from tensorcalc.core.expr import Expr, node, num, substitute, var
from tensorcalc.core.functions import T, FunctionTable
from tensorcalc.core.identities import derivative_identity
from tensorcalc.core.measure import formula_size
from tensorcalc.core.model import Model, Prepared
from tensorcalc.core.notation import plain
from tensorcalc.core.readable import Knowledge, inline, readable
from tensorcalc.core.sizes import size_sets
from tensorcalc.errors import Pos
from tensorcalc.explain.formulas import true_gradient, unconfirmed
from tensorcalc.frontends import load_spec
from tensorcalc.frontends.parse import parse_claim

LOGISTIC = """tensorcalc: 1
title: logistic regression
layout: denominator
dims: {d: 3}
functions: {sigma: sigmoid}
tensors: {x: vector(d), y: scalar, w: vector(d), b: scalar}
forward:
  z: sum(w ⊙ x) + b
  p: sigma(z)
  L: -(y log(p) + (1 - y) log(1 - p))
loss: L
claims:
  - d L / d w = (p - y) x
"""

SOFTMAX = """tensorcalc: 1
title: softmax with cross-entropy
layout: denominator
dims: {d: 3, k: 4}
tensors: {x: vector(d), y: onehot(k), W: matrix(k, d)}
forward:
  z: W x
  p: softmax(z)
  L: -sum(y ⊙ log(p))
loss: L
claims:
  - d L / d W = (p - y) x^T
"""

RIDGE = """tensorcalc: 1
title: ridge regression
layout: denominator
dims: {d: 3, k: 2}
tensors: {x: vector(d), y: vector(k), W: matrix(k, d), lam: scalar positive}
forward:
  L: 1/2 norm(W x - y)^2 + lam/2 norm(W)^2
loss: L
claims:
  - claim: d L / d W = (W x - y) x^T
    expect: fails
"""

KINDS = """tensorcalc: 1
title: kinds
layout: denominator
dims: {n: 3, k: 4}
functions: {sigma: sigmoid}
tensors: {S: matrix(n, n) symmetric, y: onehot(k), q: probability(k), A: matrix(n, n), u: vector(n), v: vector(n), c: scalar}
forward:
  s: sigma(u)
claims:
  - d c / d c = 1
"""


def write(tmp_path, text: str, name: str = "f.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def model_of(tmp_path, text: str) -> Model:
    prepared = Prepared(load_spec(write(tmp_path, text)))
    return Model(prepared, size_sets(prepared.spec.dims, prepared.spec.check.seed)[0])


def derived(capsys, path, wrt: str) -> str:
    assert main(["derive", str(path), "--wrt", wrt]) == 0
    return capsys.readouterr().out.splitlines()[0]


def tidy_and_confirm(model: Model, e: Expr) -> str:
    """The readable form of ``e``, after the oracles confirm it equals ``e``."""
    out = readable(e, Knowledge.of(model))
    assert unconfirmed(model, out, e) is None
    return plain(out)


# --- the two textbook examples and a missing regulariser -------------------------------------


def test_logistic_regression_derives_p_minus_y_times_x(tmp_path, capsys):
    path = write(tmp_path, LOGISTIC)
    assert derived(capsys, path, "w") == "d L / d w = (p - y) x"
    assert derived(capsys, path, "b") == "d L / d b = p - y"
    assert derived(capsys, path, "y") == "d L / d y = log(1 - p) - log(p)"


def test_softmax_cross_entropy_derives_p_minus_y_times_x_transposed(tmp_path, capsys):
    assert derived(capsys, write(tmp_path, SOFTMAX), "W") == "d L / d W = (p - y) x^T"


def test_missing_regulariser_is_answered_with_the_whole_gradient(tmp_path, capsys):
    assert main(["check", str(write(tmp_path, RIDGE))]) == 0
    assert "correct: d L / d W = (W x - y) x^T + lam W" in capsys.readouterr().out


HELPERS = """tensorcalc: 1
title: named helper gradients
layout: denominator
dims: {n: 3, m: 2}
functions: {f: tanh}
tensors: {x: vector(m), y: vector(n), W1: matrix(n, m), W2: matrix(n, n)}
forward:
  a1: W1 x
  h1: f(a1)
  a2: W2 h1
  L: 1/2 norm(a2 - y)^2
claims:
  - delta2 := d L / d a2
  - delta1 := d L / d a1
  - claim: d L / d W1 = y x^T
    expect: fails
"""


def test_correct_formula_names_the_files_helper_gradients(tmp_path, capsys):
    assert main(["check", str(write(tmp_path, HELPERS))]) == 0
    assert "correct: d L / d W1 = delta1 x^T" in capsys.readouterr().out


# --- one test per rule --------------------------------------------------------------------------


def test_function_identities_fold_into_the_files_names(tmp_path):
    model = model_of(tmp_path, KINDS)
    u = var("u")
    sigma_prime = Expr("apply", (u,), ("sigma", 1))
    # s ⊙ sigma'(u) / (1 - s): sigma' = s (1 - s) cancels the denominator
    e = node("div", node("hadamard", var("v"), sigma_prime), node("sub", num(1), var("s")))
    assert tidy_and_confirm(model, e) == "v ⊙ s"


def test_a_derivative_alone_stays_primed_when_that_is_smaller(tmp_path):
    model = model_of(tmp_path, KINDS)
    e = node("hadamard", var("v"), Expr("apply", (var("u"),), ("sigma", 1)))
    assert tidy_and_confirm(model, e) == "v ⊙ sigma'(u)"


def test_definitions_are_read_backwards(tmp_path):
    model = model_of(tmp_path, KINDS)
    e = node("add", Expr("apply", (var("u"),), ("sigma", 0)), var("v"))
    assert tidy_and_confirm(model, e) == "s + v"


def test_one_hot_and_probability_vectors_sum_to_one(tmp_path):
    model = model_of(tmp_path, KINDS)
    ones = Expr("ones", (), model.shape(node("matmul", var("y"), node("T", var("y")))))
    assert tidy_and_confirm(model, node("matmul", ones, var("y"))) == "ones(k)"
    assert tidy_and_confirm(model, node("sum", var("q"))) == "1"
    assert tidy_and_confirm(model, node("mul", var("c"), node("sum", node("neg", var("y"))))) == "-c"


LOG_SOFTMAX = SOFTMAX.replace("  p: softmax(z)\n  L: -sum(y ⊙ log(p))", "  p: softmax(z)\n  L: -y^T log_softmax(z)")


def test_the_log_softmax_form_of_cross_entropy_derives_p_minus_y(tmp_path, capsys):
    assert derived(capsys, write(tmp_path, LOG_SOFTMAX), "W") == "d L / d W = (p - y) x^T"


def test_exponentials_over_their_sum_read_as_softmax(tmp_path):
    model = model_of(tmp_path, KINDS.replace("  s: sigma(u)", "  s: sigma(u)\n  t: softmax(u)"))
    u, v = var("u"), var("v")
    exp_u, exp_v = Expr("apply", (u,), ("exp", 0)), Expr("apply", (v,), ("exp", 0))
    row = Expr("ones", (), model.shape(node("T", u)))
    assert tidy_and_confirm(model, node("div", exp_u, node("matmul", row, exp_u))) == "t"
    assert tidy_and_confirm(model, node("div", exp_v, node("sum", exp_v))) == "softmax(v)"
    # near misses: another vector's sum, a matrix's exponentials over the sum of all entries
    assert "softmax" not in tidy_and_confirm(model, node("div", exp_u, node("sum", exp_v)))
    exp_a = Expr("apply", (var("A"),), ("exp", 0))
    assert "softmax" not in tidy_and_confirm(model, node("div", exp_a, node("sum", exp_a)))


def test_symmetric_inputs_and_their_inverses_are_not_transposed(tmp_path):
    model = model_of(tmp_path, KINDS)
    assert tidy_and_confirm(model, node("matmul", node("T", var("S")), var("u"))) == "S u"
    assert tidy_and_confirm(model, node("matmul", node("T", node("inv", var("S"))), var("u"))) == "inv(S) u"
    assert tidy_and_confirm(model, node("matmul", node("T", var("A")), var("u"))) == "A^T u"


def test_an_inverse_of_an_inverse_even_by_name(tmp_path):
    model = model_of(tmp_path, KINDS.replace("  s: sigma(u)", "  s: sigma(u)\n  Ai: inv(A)"))
    assert tidy_and_confirm(model, node("matmul", node("inv", node("inv", var("A"))), var("u"))) == "A u"
    assert tidy_and_confirm(model, node("matmul", node("inv", var("Ai")), var("u"))) == "A u"


def test_like_terms_and_scalar_factors_are_collected_scalars_first(tmp_path):
    model = model_of(tmp_path, KINDS)
    u, v, c = var("u"), var("v"), var("c")
    twice = node("add", node("hadamard", u, v), node("hadamard", v, u))
    assert tidy_and_confirm(model, twice) == "2 u ⊙ v"
    assert tidy_and_confirm(model, node("mul", u, c)) == "c u"
    assert tidy_and_confirm(model, node("matmul", var("A"), node("mul", c, u))) == "c A u"


def test_a_minus_b_and_no_ones_factor(tmp_path):
    model = model_of(tmp_path, KINDS)
    u, v = var("u"), var("v")
    ones = Expr("ones", (), model.shape(u))
    assert tidy_and_confirm(model, node("add", u, node("neg", v))) == "u - v"
    assert tidy_and_confirm(model, node("hadamard", ones, u)) == "u"
    assert tidy_and_confirm(model, node("sum", var("c"))) == "c"
    assert tidy_and_confirm(model, node("T", var("c"))) == "c"


def test_a_row_times_diag_is_read_elementwise_when_that_cancels(tmp_path):
    model = model_of(tmp_path, KINDS)
    u, s = var("u"), var("s")
    row = node("matmul", node("T", node("div", u, s)), node("diag", s))
    assert tidy_and_confirm(model, row) == "u^T"


ROWS = KINDS.replace("c: scalar}", "c: scalar, d: scalar, r: matrix(1, n), t: matrix(1, n)}").replace(
    "  s: sigma(u)", "  s: sigma(u)\n  z: r u"
)


def test_a_row_times_diag_of_a_row_is_their_product(tmp_path):
    model = model_of(tmp_path, ROWS)
    row = node("matmul", var("t"), node("diag", node("div", var("r"), var("t"))))
    assert tidy_and_confirm(model, row) == "r"


def test_the_transpose_of_a_one_by_one_value_is_dropped(tmp_path):
    model = model_of(tmp_path, ROWS)
    assert model.shape(var("z")) == (1, 1)  # a 1×1 matrix, not a declared scalar
    assert tidy_and_confirm(model, node("T", node("sub", var("z"), var("d")))) == "z - d"


def test_a_shared_outer_factor_is_collected_on_either_side(tmp_path):
    model = model_of(tmp_path, ROWS)
    A, S, u, v = var("A"), var("S"), var("u"), var("v")
    right = node("add", node("matmul", A, u), node("matmul", node("T", A), u))
    assert tidy_and_confirm(model, right) == "(A + A^T) u"
    left = node("sub", node("matmul", node("T", u), A), node("matmul", node("T", u), S))
    assert tidy_and_confirm(model, left) == "u^T (A - S)"
    both = node("add", node("matmul", A, node("matmul", S, v)), node("matmul", A, node("matmul", A, v)))
    assert tidy_and_confirm(model, both) == "A (S + A) v"


def test_a_scalar_and_a_matrix_sharing_a_factor_are_not_added(tmp_path):
    model = model_of(tmp_path, ROWS)  # (A + c) u would add c to every entry of A
    mixed = node("add", node("matmul", var("A"), var("u")), node("matmul", var("c"), var("u")))
    assert "(A + c)" not in tidy_and_confirm(model, mixed)


def test_ones_and_diag_products_fold_by_the_vectors_orientation(tmp_path):
    model = model_of(tmp_path, ROWS)
    u, r = var("u"), var("r")
    ones_row, ones_column = (Expr("ones", (), model.shape(x)) for x in (r, u))
    assert tidy_and_confirm(model, node("matmul", ones_row, node("diag", u))) == "u^T"
    assert tidy_and_confirm(model, node("matmul", ones_row, node("diag", r))) == "r"
    assert tidy_and_confirm(model, node("matmul", node("diag", u), ones_column)) == "u"
    assert tidy_and_confirm(model, node("matmul", node("diag", r), ones_column)) == "r^T"
    both = node("matmul", node("diag", u), node("diag", node("T", r)))
    assert tidy_and_confirm(model, node("matmul", both, var("A"))) == "diag(u ⊙ r^T) A"


SYMMETRIC = """tensorcalc: 1
title: symmetric products, transposes and row sums
layout: denominator
dims: {n: 3, m: 2, q: 4}
tensors: {R: matrix(n, m), B: matrix(n, n), P: matrix(n, q), C: matrix(m, q), D: matrix(q, m), A: matrix(n, m),
  u: vector(n), v: vector(n), w: vector(m), Sg: spd(n)}
forward:
  G: R R^T
  Si: inv(Sg)
  Z: softmax_rows(B)
  r: sqrt(1/n u^T u)
claims:
  - d r / d u = u / (n r)
"""


def test_products_equal_to_their_transpose_are_symmetric(tmp_path):
    model = model_of(tmp_path, SYMMETRIC)
    k = Knowledge.of(model)
    B, R, A = var("B"), var("R"), var("A")
    assert k.symmetric(var("G")) and k.symmetric(node("matmul", B, node("T", B)))
    assert not k.symmetric(node("matmul", B, B)) and not k.symmetric(node("matmul", R, node("T", A)))
    si = node("inv", var("Sg"))
    sandwich = node("add", node("matmul", node("matmul", si, var("G")), si), si)
    assert tidy_and_confirm(model, node("T", sandwich)) == "Si G Si + Si"
    assert tidy_and_confirm(model, node("T", node("matmul", B, B))) == "(B^2)^T"


def test_the_square_of_a_transpose_is_the_transpose_of_the_square(tmp_path):
    model = model_of(tmp_path, SYMMETRIC)
    B, twice = var("B"), node("matmul", node("T", var("B")), node("T", var("B")))
    assert tidy_and_confirm(model, node("add", node("mul", num(2), node("T", node("matmul", B, B))), twice)) == "3 (B^2)^T"
    assert tidy_and_confirm(model, node("matmul", node("T", B), B)) == "B^T B"


def test_the_transpose_of_a_named_value_is_the_names_transpose(tmp_path):
    model = model_of(tmp_path, SYMMETRIC)  # Z: softmax_rows(B), a transpose of softmax(B^T)
    assert tidy_and_confirm(model, node("matmul", node("T", model.defs["Z"]), var("u"))) == "Z^T u"
    assert tidy_and_confirm(model, node("matmul", node("softmax", var("B")), var("u"))) == "softmax(B) u"


def test_a_transpose_of_a_sum_is_spread_when_transposes_go(tmp_path):
    model = model_of(tmp_path, SYMMETRIC)
    u, v = var("u"), var("v")
    outer = node("sub", node("matmul", u, node("T", v)), node("matmul", v, node("T", u)))
    assert tidy_and_confirm(model, node("T", outer)) == "v u^T - u v^T"
    assert tidy_and_confirm(model, node("T", node("sub", u, v))) == "(u - v)^T"


def test_row_sums_move_a_transposed_factor_onto_the_weights(tmp_path):
    model = model_of(tmp_path, SYMMETRIC)
    P, A, ones_m = var("P"), var("A"), Expr("ones", (), model.shape(var("w")))
    moved = node("matmul", node("hadamard", node("matmul", P, node("T", var("C"))), A), ones_m)
    assert tidy_and_confirm(model, moved) == "(P ⊙ A C) ones(q)"
    kept = node("matmul", node("hadamard", A, node("matmul", P, var("D"))), ones_m)
    assert tidy_and_confirm(model, kept) == "(A ⊙ P D) ones(m)"


def test_a_sum_of_ones_is_the_size_by_name(tmp_path):
    model = model_of(tmp_path, SYMMETRIC)
    u = var("u")
    assert tidy_and_confirm(model, node("div", u, node("sum", Expr("ones", (), model.shape(u))))) == "u/n"
    assert tidy_and_confirm(model, node("div", u, node("sum", var("v")))) == "u/sum(v)"


def test_a_negated_difference_is_flipped_and_a_sum_is_not(tmp_path):
    model = model_of(tmp_path, SYMMETRIC)
    u, v = var("u"), var("v")
    n, slope = Expr("size", (), model.shape(u)[0]), Expr("apply", (v,), ("relu", 1))
    negated = node("neg", node("matmul", node("div", num(2), n), node("sub", u, v)))
    assert tidy_and_confirm(model, node("hadamard", negated, slope)) == "2/n (v - u) ⊙ relu'(v)"
    assert "u + v" not in tidy_and_confirm(model, node("hadamard", node("neg", node("add", u, v)), slope))


def test_a_row_kept_elementwise_when_simplify_would_lengthen_it(tmp_path):
    model = model_of(tmp_path, SYMMETRIC)
    column = node("matmul", node("T", var("A")), node("hadamard", var("u"), Expr("apply", (var("v"),), ("relu", 1))))
    assert tidy_and_confirm(model, node("T", column)) == "(u ⊙ relu'(v))^T A"


def test_definitions_are_found_whatever_the_grouping_and_sqrt_reads_its_value(tmp_path):
    model = model_of(tmp_path, SYMMETRIC)  # r: sqrt(1/n u^T u), stored as (1/n u^T) u
    u, n = var("u"), Expr("size", (), model.shape(var("u"))[0])
    regrouped = node("matmul", node("div", num(1), n), node("matmul", node("T", u), u))
    assert tidy_and_confirm(model, node("hadamard", u, Expr("apply", (regrouped,), ("sqrt", 1)))) == "1/2 u/r"


def test_a_batch_cross_entropy_through_a_sigmoid_derives_the_textbook_gradient(capsys):
    path = "tests/readable/shallow_tanh_bce_batch.yaml"
    assert derived(capsys, path, "W2") == "d L / d W2 = 1/N (A2 - Y) A1^T"
    assert derived(capsys, "tests/readable/logistic_bce_numerator.yaml", "b") == "d L / d b = p - y"
    assert derived(capsys, "tests/readable/cookbook_linear_quadratic.yaml", "x") == "d f / d x = (B + B^T) x"



CENTRED = """tensorcalc: 1
title: a centred vector, one that is not, and the centred one scaled
layout: denominator
dims: {n: 4, k: 3, N: 5}
tensors: {x: vector(n), v: vector(n), a: scalar, Y: onehot(k, N), M: matrix(N, k), B: matrix(k, N)}
forward:
  mu: 1/n ones(n)^T x
  c: x - mu ones(n)
  nu: 1/n ones(n)^T v
  d: x - nu ones(n)
  s: sqrt(1/n c^T c)
  xhat: c / s
  P: softmax_rows(M)
  m: mean(v)
  e: v - m ones(n)
  R: M - mean(M, 2) ones(k)^T
claims:
  - d s / d x = c / (n s)
"""


def test_a_centred_vector_sums_to_zero_and_one_centred_by_another_mean_does_not(tmp_path):
    model = model_of(tmp_path, CENTRED)
    k = Knowledge.of(model)
    assert k.sums_to_zero(var("c")) and k.sums_to_zero(node("mul", var("a"), var("xhat")))
    assert not k.sums_to_zero(var("d")) and not k.sums_to_zero(var("x")) and not k.sums_to_zero(var("s"))
    assert k.sums_to_zero(var("e")) and k.sums_to_zero(var("R"))  # by mean(v), and by the mean of each row
    assert not k.sums_to_zero(var("M")) and not k.sums_to_zero(node("sub", var("M"), var("P")))
    scaled = node("sum", node("sub", node("mul", var("a"), var("c")), var("v")))
    assert tidy_and_confirm(model, scaled) == "-sum(v)"
    not_centred = node("sum", node("sub", node("mul", var("a"), var("d")), var("v")))
    assert "d" in tidy_and_confirm(model, not_centred)


def test_a_name_divided_by_a_scalar_is_read_back(tmp_path):
    model = model_of(tmp_path, CENTRED)  # xhat: c / s, so c = s xhat
    c, s, v = var("c"), var("s"), var("v")
    projected = node("div", node("mul", node("sum", node("hadamard", v, c)), c), node("pow", s, num(2)))
    assert tidy_and_confirm(model, projected) == "sum(v ⊙ xhat) xhat"
    assert tidy_and_confirm(model, node("add", c, v)) == "c + v"  # nothing gained: c stays


def test_one_hot_columns_and_softmax_rows_sum_to_one_in_any_orientation(tmp_path):
    model = model_of(tmp_path, CENTRED)
    Y, M, P, B = var("Y"), var("M"), var("P"), var("B")
    ones_kk, ones_kn = Expr("ones", (), model.shape(node("matmul", B, M))), Expr("ones", (), model.shape(node("T", M)))
    assert tidy_and_confirm(model, node("hadamard", M, node("matmul", node("T", Y), ones_kk))) == "M"
    assert tidy_and_confirm(model, node("matmul", P, ones_kk)) == "ones(N, k)"
    assert tidy_and_confirm(model, node("matmul", ones_kk, node("T", P))) == "ones(k, N)"
    assert tidy_and_confirm(model, node("sum", Y)) == "N"
    assert tidy_and_confirm(model, node("matmul", node("T", B), ones_kk)) == "B^T ones(k, k)"  # not one-hot
    assert tidy_and_confirm(model, node("matmul", M, ones_kk)) == "M ones(k, k)"  # P's argument, not P
    assert tidy_and_confirm(model, node("matmul", ones_kn, node("T", Y))) == "ones(k, N) Y^T"  # its rows sum to one


def test_a_derivative_identity_cancels_through_a_transpose(tmp_path):
    model = model_of(tmp_path, CENTRED)
    Y, P = var("Y"), var("P")
    slope = node("T", Expr("apply", (P,), ("log", 1)))
    assert tidy_and_confirm(model, node("hadamard", node("hadamard", Y, slope), node("T", P))) == "Y"


@st.composite
def centred_sums(draw, depth: int = 3):
    """sum(e) for a random e over vectors that are centred (c, xhat) or not (x, v, d), scalars
    (a, s, mu, and a scalar added to a vector), ⊙, scaling and division by a scalar."""

    def vector(level: int) -> Expr:
        if level == 0 or (level < depth and draw(st.integers(0, 2)) == 0):
            return var(draw(st.sampled_from(("c", "xhat", "e", "x", "v", "d"))))
        op = draw(st.sampled_from(("add", "sub", "hadamard", "mul", "div", "plus_scalar")))
        scalar = var(draw(st.sampled_from(("a", "s", "mu"))))
        if op == "mul":
            return node("mul", scalar, vector(level - 1))
        if op == "div":
            return node("div", vector(level - 1), scalar)
        if op == "plus_scalar":
            return node("add", vector(level - 1), scalar)
        return node(op, vector(level - 1), vector(level - 1))

    return node("sum", vector(depth))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(centred_sums())
def test_sums_read_linearly_equal_the_sum(tmp_path, total):
    model = model_of(tmp_path, CENTRED)
    out = readable(total, Knowledge.of(model))
    assert unconfirmed(model, out, total) is None, (plain(total), plain(out))


def test_batch_softmax_regression_with_examples_as_rows_derives_the_textbook_gradient(tmp_path, capsys):
    path = "derivations/textbook/softmax_regression.yaml"
    assert main(["derive", path, "--wrt", "Wr", "--of", "LR"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "d LR / d Wr = 1/N Xr^T (Pr - Yc^T)"
    model = model_of(tmp_path, Path(path).read_text(encoding="utf-8"))  # the correct: line of a failing claim
    assert plain(true_gradient(model, var("LR"), "b", "mixed")) == "1/N (Pr^T - Yc) ones(N)"


# --- notation: powers are unambiguous -----------------------------------------------------------


def test_fractional_exponents_are_parenthesised():
    half = node("pow", num(2), num(sympy.Rational(1, 2)))
    assert plain(node("div", var("K"), half)) == "K/2^(1/2)"
    assert plain(node("pow", var("X"), num(-1))) == "X^-1"
    assert plain(node("pow", var("x"), num(2))) == "x^2"


# --- the size measure ----------------------------------------------------------------------------


def side(text: str) -> Expr:
    return parse_claim(f"d L / d w = {text}", Pos("t", 1, 1)).rhs


def test_formula_size_counts_leaves_and_operators():
    assert formula_size(side("(p - y) x")) == 5
    assert formula_size(side("p ⊙ (1 - p)")) == 5
    assert formula_size(side("sigma'(z) x^T")) == 5
    assert formula_size(side("(d L / d z) x")) == 3  # a derivative term reads as one symbol
    assert formula_size(side("x")) == 1


# --- identities read off the function table --------------------------------------------------------


def test_identities_of_the_builtin_functions():
    table = FunctionTable()
    value = {n: sympy.Function(n)(T) for n in ("sigmoid", "tanh", "exp")}
    assert sympy.expand(derivative_identity(table, "sigmoid") - value["sigmoid"] * (1 - value["sigmoid"])) == 0
    assert sympy.expand(derivative_identity(table, "tanh") - (1 - value["tanh"] ** 2)) == 0
    assert derivative_identity(table, "exp") == value["exp"]
    assert derivative_identity(table, "log") == 1 / T
    assert derivative_identity(table, "softplus") == sympy.Function("sigmoid")(T)
    assert derivative_identity(table, "relu") is None
    assert derivative_identity(table, "sqrt") == 1 / (2 * sympy.Function("sqrt")(T))  # in its own value
    assert derivative_identity(FunctionTable({"cube": T**3}), "cube") == 3 * T**2  # a polynomial: in t


def test_identity_of_a_file_formula_comes_from_sympy():
    table = FunctionTable({"mu": 3 * sympy.tanh(T)})
    found = derivative_identity(table, "mu")
    mu = sympy.Function("mu")(T)
    assert found is not None and found.has(mu)
    assert sympy.simplify(found.subs(mu, 3 * sympy.tanh(T)) - sympy.diff(3 * sympy.tanh(T), T)) == 0


# --- generated programs: the readable gradient equals the chain rule's ------------------------------

FUNCTIONS = ("sigmoid", "tanh", "exp", "softplus", "identity")
LOSSES = ("1/2 norm(a - y)^2", "sum(y ⊙ log(a))", "sum(a ⊙ a) + c sum(a)", "-sum(y ⊙ log(softmax(z)))", "c norm(a)^2")


@st.composite
def programs(draw):
    f, g = draw(st.sampled_from(FUNCTIONS)), draw(st.sampled_from(FUNCTIONS))
    first = draw(st.sampled_from(("W x", "W x + b", "W (x ⊙ v)")))
    loss = draw(st.sampled_from(LOSSES))
    if "log(a)" in loss:
        g = "sigmoid"  # log needs a positive argument
    return f"""tensorcalc: 1
title: generated
layout: denominator
dims: {{d: 3, k: 2}}
functions: {{f: {f}, g: {g}}}
tensors: {{x: vector(d), v: vector(d), y: vector(k), W: matrix(k, d), b: vector(k), c: scalar}}
forward:
  h: {first}
  z: f(h)
  a: g(z)
  L: {loss}
loss: L
claims:
  - d c / d c = 1
"""


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(programs(), st.sampled_from(("W", "x", "b")))
def test_readable_gradient_equals_the_chain_rule(tmp_path, text, wrt):
    model = model_of(tmp_path, text)
    program = gradient_program(model, var("L"), wrt)
    raw = substitute(program.result, inline(program.steps, lambda e: e))
    out = readable(raw, Knowledge.of(model))
    assert unconfirmed(model, out, raw) is None, (text, wrt, plain(out))


# --- a readable form the oracles do not confirm is never printed -----------------------------------


def test_an_unconfirmed_readable_form_falls_back_to_the_plain_one(tmp_path, capsys, monkeypatch):
    import tensorcalc.explain.formulas as formulas

    monkeypatch.setattr(formulas, "readable", lambda e, knowledge: node("neg", e))  # a wrong "simplification"
    path = write(tmp_path, LOGISTIC)
    line = derived(capsys, path, "b")
    assert line.startswith("d L / d b = ") and "-(" not in line and "p - y" not in line  # the plain chain-rule form
    model = model_of(tmp_path, LOGISTIC)
    plainly = formulas.true_gradient(model, var("L"), "b")
    assert plainly.op != "neg"


BROADCAST = """tensorcalc: 1
title: a scalar added to a tensor
layout: denominator
dims: {n: 3, m: 2}
tensors: {x: vector(n), X: matrix(n, m), v: vector(m)}
forward:
  f: mean(x) + 1/n x^T x
  g: 1e-5 sum(X v) + sum(X)
  h: sum(x) x^T x
claims:
  - d f / d x = 1/n ones(n) + 2/n x
"""


def test_a_scalar_added_to_a_tensor_is_written_times_ones(tmp_path, capsys):
    path = write(tmp_path, BROADCAST)
    assert main(["derive", str(path), "--wrt", "x", "--of", "f"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "d f / d x = 1/n ones(n) + 2/n x"
    assert main(["derive", str(path), "--wrt", "X", "--of", "g"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "d g / d X = ones(n, m) + 1e-5 ones(n) v^T"
    assert main(["derive", str(path), "--wrt", "x", "--of", "h"]) == 0
    assert "ones(n)" in capsys.readouterr().out.splitlines()[0]  # x^T x ones(n) + 2 sum(x) x: a scalar times ones, no bare scalar


BY_VALUE = """tensorcalc: 1
title: definitions spelled differently from the formulas that use their values
layout: denominator
dims: {n: 4, m: 3}
tensors: {x: vector(n), v: vector(n), w: vector(m), eps: scalar positive, y: onehot(n), ep: scalar positive}
forward:
  r: sqrt(mean(x.^2) + eps)
  s: exp(v/2)
  h: sqrt(exp(w))
  t: mean(w)
  q: (1 - ep) y + ep/n ones(n)
  o: (1 - ep) y + ep ones(n)
claims:
  - d r / d x = x / (n r)
"""


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text))


def test_a_definition_is_read_back_when_its_value_is_spelled_differently(tmp_path):
    model = model_of(tmp_path, BY_VALUE)
    x, v, w, eps = var("x"), var("v"), var("w"), var("eps")
    n, m = (Expr("size", (), model.shape(a)[0]) for a in (x, w))

    def root(inner: Expr) -> Expr:
        return Expr("apply", (node("add", eps, inner),), ("sqrt", 0))

    mean_square = node("matmul", node("div", num(1), n), node("matmul", node("T", x), x))
    assert tidy_and_confirm(model, node("mul", root(mean_square), v)) == "r v"
    half = Expr("apply", (node("mul", num(Fraction(1, 2)), v),), ("exp", 0))
    assert tidy_and_confirm(model, node("hadamard", half, x)) == "s ⊙ x"
    assert tidy_and_confirm(model, node("mul", node("div", node("sum", w), m), x)) == "t x"
    # near misses: values that differ are not read as the names
    assert "r" not in _words(tidy_and_confirm(model, node("mul", root(node("matmul", node("T", x), x)), v)))
    assert "r" not in _words(tidy_and_confirm(model, node("mul", root(node("matmul", node("div", num(1), n), node("matmul", node("T", x), v))), v)))
    third = Expr("apply", (node("mul", num(Fraction(1, 3)), v),), ("exp", 0))
    assert "s" not in _words(tidy_and_confirm(model, node("hadamard", third, x)))
    assert "t" not in _words(tidy_and_confirm(model, node("mul", node("div", node("sum", w), n), x)))  # sum over m entries, / n
    half_w = Expr("apply", (node("mul", num(Fraction(1, 2)), w),), ("exp", 0))
    assert "h" not in _words(tidy_and_confirm(model, half_w))  # equal, but not by an identity the exact oracle confirms


def test_a_vector_defined_to_sum_to_one_is_stochastic(tmp_path):
    model = model_of(tmp_path, BY_VALUE)
    k = Knowledge.of(model)
    assert k.stochastic(var("q")) and k.stochastic(node("T", var("q")), rows=True)
    assert not k.stochastic(var("o")) and not k.stochastic(var("q"), rows=True)
    ones = Expr("ones", (), (model.shape(var("x"))[0],) * 2)
    assert tidy_and_confirm(model, node("hadamard", node("matmul", ones, var("q")), var("x"))) == "x"
    assert "ones" in tidy_and_confirm(model, node("hadamard", node("matmul", ones, var("o")), var("x")))


def test_second_derivatives_read_through_the_identities(tmp_path):
    model = model_of(tmp_path, KINDS)
    k = dataclasses.replace(Knowledge.of(model), identities=True)
    assert k.identity("log", 2) == -1 / T**2
    assert k.identity("relu", 2) is None  # no first identity: stays primed
    u, s, v = var("u"), var("s"), var("v")
    second = Expr("apply", (u,), ("sigma", 2))
    # sigma'' = s (1 - s) (1 - 2 s): divided by s (1 - s) it is 1 - 2 s
    e = node("div", node("hadamard", v, second), node("hadamard", s, node("sub", num(1), s)))
    assert tidy_and_confirm(model, e) == "v - 2 v ⊙ s"
    relu = node("hadamard", v, Expr("apply", (u,), ("relu", 2)))
    assert tidy_and_confirm(model, relu) == "v ⊙ relu''(u)"


def test_diagonal_matrices_are_added_as_one_diag(tmp_path):
    model = model_of(tmp_path, SYMMETRIC)
    u, v, A, B = var("u"), var("v"), var("A"), var("B")
    summed = node("matmul", node("sub", node("diag", u), node("diag", v)), A)
    assert tidy_and_confirm(model, summed) == "diag(u - v) A"
    assert tidy_and_confirm(model, node("add", node("diag", u), B)) == "diag(u) + B"  # B is not diagonal


@st.composite
def spellings(draw):
    """A random scalar or elementwise value over x, v (vectors of n) and eps, and a second one:
    the same value respelled (terms swapped, x ⊙ x as x.^2, mean as 1/n sum, sum(u ⊙ w) as uᵀ w)
    or, half the time, that value with one name read as the other."""
    leaves = [var("x"), var("v")]

    def vector(depth: int, respell: bool) -> tuple[Expr, Expr]:
        if depth == 0 or draw(st.booleans()):
            leaf = draw(st.sampled_from(leaves))
            return leaf, leaf
        a, a2 = vector(depth - 1, respell)
        b, b2 = vector(depth - 1, respell)
        op = draw(st.sampled_from(("add", "hadamard", "scale", "square", "exp")))
        if op == "add":
            return node("add", a, b), node("add", b2, a2)
        if op == "hadamard":
            return node("hadamard", a, b), node("hadamard", b2, a2)
        if op == "scale":
            return node("mul", var("eps"), a), node("mul", a2, var("eps"))
        if op == "square":
            return node("hadamard", a, a), node("pow", a2, num(2), attr=".^")
        return Expr("apply", (a,), ("exp", 0)), Expr("apply", (a2,), ("exp", 0))

    first, second = vector(3, True)
    n = Expr("size", (), sympy.Symbol("n", positive=True, integer=True))  # the size n of BY_VALUE
    if draw(st.booleans()):  # a scalar: a mean or an inner product of the vector
        other = draw(st.sampled_from(leaves))
        if draw(st.booleans()):
            first, second = Expr("mean", (first,)), node("mul", node("div", num(1), n), node("sum", second))
        else:
            first, second = node("sum", node("hadamard", first, other)), node("matmul", node("T", other), second)
    if draw(st.booleans()):  # one name for the other: usually a different value
        name, other = draw(st.sampled_from((("x", "v"), ("v", "x"))))
        changed = substitute(second, {name: var(other)})
        return first, changed, changed != second
    return first, second, False


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spellings())
def test_value_keys_are_equal_exactly_for_respellings_the_oracles_confirm(tmp_path, pair):
    from tensorcalc.core.elementwise import ValueKey

    model = model_of(tmp_path, BY_VALUE)
    first, second, changed = pair
    first, second = (Expr(e.op, e.args, e.attr) for e in (first, second))
    k = Knowledge.of(model)
    keys = ValueKey(k.shape, k.positive)
    same = keys.key(first) == keys.key(second)
    if not changed:
        assert same, (plain(first), plain(second))
    if same:
        assert unconfirmed(model, first, second) is None, (plain(first), plain(second))
