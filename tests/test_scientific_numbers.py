"""Numbers in scientific notation (``1e-5``, ``2.5E3``): exact rationals, a bounded exponent, printed back exactly."""
from __future__ import annotations

import subprocess
import sys
import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorcalc import cli
from tensorcalc.core.expr import num
from tensorcalc.core.model import Prepared
from tensorcalc.core.notation import plain
from tensorcalc.errors import Pos, TensorcalcError
from tensorcalc.frontends import load_spec
from tensorcalc.frontends.parse import parse
from tensorcalc.verdicts.check import check_file

P = Pos("f.yaml", 3, 5)


def read(text: str):
    return parse(text, "def_line", P)[0]


@pytest.mark.parametrize("text, value", [
    ("1e-5", Fraction(1, 100000)),
    ("2.5E3", Fraction(2500)),
    ("1e+2", Fraction(100)),
    ("1.25e-1", Fraction(1, 8)),
    ("3E0", Fraction(3)),
    ("1e300", Fraction(10) ** 300),
])
def test_scientific_notation_is_an_exact_rational(text, value):
    e = read(text)
    assert e.op == "num" and e.attr == value and isinstance(e.attr, Fraction)


@pytest.mark.parametrize("text, expected", [
    ("2e", "2 e"),            # a number glued to the name e: 2·e, as before
    ("2 e", "2 e"),
    ("2e x", "(2 e) x"),
    ("2 e-3", "2 e - 3"),     # with a space the exponent reading is gone
    ("x + 1e-5", "x + 1e-5"),
])
def test_a_name_e_after_a_number_keeps_its_reading(text, expected):
    assert plain(read(text)) == expected.replace("(2 e) x", "2 e x")


@pytest.mark.parametrize("text", ["1e999999999", "1e-301", "2.5E+99999999999999999999"])
def test_a_huge_exponent_is_refused(text):
    start = time.perf_counter()
    with pytest.raises(TensorcalcError) as err:
        read(f"x / {text}")
    assert time.perf_counter() - start < 1
    assert "exponent" in err.value.message and err.value.pos.col == 5 + 4


def test_a_huge_exponent_is_one_line_exit_2(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text("tensorcalc: 1\ndims: {n: 2}\ntensors:\n  x: vector(n)\nforward:\n  loss: sum(x) * 1e999999999\n"
                    "claims:\n  - d loss / d x = ones(n)^T\n")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tensorcalc", "check", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert time.perf_counter() - start < 20
    assert done.returncode == 2
    assert f"{path}:6:" in done.stdout and "exponent" in done.stdout and "Traceback" not in done.stdout + done.stderr


def test_a_number_divided_by_a_scientific_literal_is_no_glued_divisor():
    """``x / 1e5`` divides by the number; ``/2e`` glued to a name is still refused as ambiguous."""
    assert plain(read("x / 1e5")) == "x/100000"
    assert plain(read("x / 2e-3")) == "x/(1/500)"
    with pytest.raises(TensorcalcError, match="ambiguous"):
        read("x / 2e")


@pytest.mark.parametrize("value, text", [
    (Fraction(1, 100000), "1e-5"),
    (Fraction(-3, 10**7), "-3e-7"),
    (Fraction(1, 100), "1/100"),      # short fractions stay fractions
    (Fraction(12347, 10**9), "12347/1000000000"),
])
def test_small_powers_of_ten_print_in_scientific_notation_and_read_back(value, text):
    printed = plain(num(value))
    assert printed == text
    assert value_of(read(printed)) == value


def value_of(e) -> Fraction:
    """The exact value of a parsed number, negation or quotient of numbers."""
    if e.op == "num":
        return e.attr
    if e.op == "neg":
        return -value_of(e.args[0])
    assert e.op == "div"
    return value_of(e.args[0]) / value_of(e.args[1])


BATCH_NORM = """tensorcalc: 1
dims: {n: 3}
tensors:
  x: vector(n)
  v: vector(n) positive
forward:
  y: x / sqrt(v + 1e-5)
  loss: sum(y)
claims:
  - d loss / d x = (ones(n) / sqrt(v + 1e-5))^T
  - claim: d loss / d x = (ones(n) / sqrt(v + 1e-4))^T
    expect: fails
"""


def test_a_batch_norm_style_claim_checks_end_to_end(tmp_path, capsys):
    """The epsilon is exact: the claim with 1e-5 holds, the one with 1e-4 fails, by both oracles."""
    path = tmp_path / "bn.yaml"
    path.write_text(BATCH_NORM)
    result = check_file(str(path))
    assert result.error is None
    assert [c.verdict for c in result.claims] == ["holds", "fails"]
    holds = result.claims[0].instances
    assert all(i.exact_points for i in holds) and all(i.numeric_trials for i in holds)
    assert cli.main(["check", str(path)]) == 0


@pytest.mark.parametrize("formula, declared, col", [
    ("x + 2e-3", "e: vector(n)", 10),
    ("x + 2e+3", "e: vector(n)", 10),
    ("x + 2e5 e5", "e5: vector(n)", 10),
    ("x + 1.5E-2", "E: vector(n)", 10),
])
def test_scientific_literal_next_to_a_declared_name_e_is_refused(tmp_path, formula, declared, col):
    """With a tensor named e, ``2e-3`` might mean 2·e − 3: refused with both spellings, not guessed."""
    path = tmp_path / "f.yaml"
    path.write_text(f"tensorcalc: 1\ndims: {{n: 2}}\ntensors:\n  x: vector(n)\n  {declared}\nforward:\n"
                    f"  y: {formula}\n  loss: sum(y)\nclaims:\n  - d loss / d x = ones(n)^T\n")
    with pytest.raises(TensorcalcError) as err:
        Prepared(load_spec(str(path)))
    assert "is ambiguous in a file that declares" in err.value.message and "rename" in err.value.message
    assert (err.value.pos.line, err.value.pos.col) == (7, col)


def test_scientific_literal_is_a_number_when_no_name_e_is_declared(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text("tensorcalc: 1\ndims: {n: 2}\ntensors:\n  x: vector(n)\n  e2: vector(n)\nforward:\n"
                    "  y: x + 2e-3 e2\n  loss: sum(y)\nclaims:\n  - d loss / d x = ones(n)^T\n")
    assert check_file(str(path)).claims[0].verdict == "holds"


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 999), st.sampled_from("eE"), st.sampled_from(["", "+", "-"]),
       st.integers(0, 300))
def test_any_scientific_literal_reads_as_python_reads_it_exactly(whole, decimals, letter, sign, exponent):
    text = f"{whole}.{decimals}{letter}{sign}{exponent}"
    assert read(text).attr == Fraction(text)


@settings(max_examples=200, deadline=None)
@given(st.integers(-10**6, 10**6), st.integers(0, 40))
def test_any_decimal_fraction_prints_and_reads_back_exactly(numerator, exponent):
    value = Fraction(numerator, 10**exponent)
    assert value_of(read(plain(num(value)))) == value


def test_a_function_formula_reads_scientific_notation_exactly(tmp_path):
    import sympy

    path = tmp_path / "f.yaml"
    path.write_text("tensorcalc: 1\ndims: {n: 2}\nfunctions: {lrelu: 't -> Max(t, 1e-2 t)'}\ntensors:\n  x: vector(n)\n"
                    "forward:\n  loss: sum(lrelu(x))\nclaims:\n  - d loss / d x = lrelu'(x)^T\n")
    formula = Prepared(load_spec(str(path))).functions.formulas["lrelu"]
    t = sorted(formula.free_symbols, key=str)[0]
    assert sympy.simplify(formula - sympy.Max(t, sympy.Rational(1, 100) * t)) == 0
