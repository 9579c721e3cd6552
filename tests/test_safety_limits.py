"""Hostile input is refused before anything is allocated: counts and sizes over their caps,
names that redefine a built-in, identifiers that look like others or hide invisible characters.

Every refusal is exit 2 with one line ``file:line:col: message`` naming the limit or the character.
"""
from __future__ import annotations

import pytest

from tensorcalc.core import limits
from tensorcalc.core.names import builtin_names
from tensorcalc.core.sizes import size_sets
from tensorcalc.errors import TensorcalcError
from tensorcalc.frontends import load_spec
from tests.test_fuzz import assert_invalid, run_cli

BASE = """tensorcalc: 1
dims: {d: 3, n: 2, L: 4}
functions: {sigma: sigmoid}
tensors:
  x: vector(d)
  b2: vector(n)
forward:
  r: b2 + 0 sum(x)
  loss: 1/2 norm(r)^2
claims:
  - d loss / d b2 = r^T
check: {trials: 1, exact_points: 1}
"""
CLAIM = "d loss / d b2 = r^T"


def with_claim(claim: str) -> str:
    return BASE.replace(CLAIM, claim)


# --- 1. counts and sizes ------------------------------------------------------------------------

TOO_BIG = {
    # name: (file text, line, fragments of the message)
    "claim loop": (with_claim(CLAIM + "  for l in 1..1000000000"), 11, ["at most 128 values", "1000000000"]),
    "claim loop over sizes": (with_claim(CLAIM + "  for l in 1..L*L*L*L"), 11, ["at most 128 values", "has 256"]),
    "sum over a range": (with_claim("d loss / d b2 = sum(r^T for i in 1..100000000)"), 11, ["at most 128 values", "100000000"]),
    "prod over sizes": (with_claim("d loss / d b2 = r^T prod(1 for i in 1..L*L*L*L)"), 11, ["at most 128 values", "256"]),
    "sum in the forward pass": (BASE.replace("b2 + 0 sum(x)", "sum(b2 for i in 1..L*d*L*L)"), 8, ["at most 128 values"]),
    "nested sums": (with_claim("d loss / d b2 = sum(sum(sum(r^T for k in 1..100) for j in 1..100) for i in 1..100)"), 11,
                    ["grows beyond 200000 terms"]),
    "family loop": (BASE.replace("  b2: vector(n)\n", "  b2: vector(n)\n  W[l]: matrix(d, d)  for l in 1..L*L*L*L\n"), 7,
                    ["at most 128 values", "256"]),
    "family widths": (BASE.replace("dims: {d: 3, n: 2, L: 4}", "dims:\n  d: 3\n  n: 2\n  L: 4\n  m[l]: [" + ", ".join(["2"] * 500) + "]"),
                      6, ["at most 128 widths", "500"]),
    "size lists": (BASE.replace("dims: {d: 3, n: 2, L: 4}", "dims: {d: [1, 2, 3, 4, 5], n: [1, 2, 3, 4], L: 4}"), 2,
                   ["20 combinations", "at most 16"]),
    "long size list": (BASE.replace("d: 3,", "d: [" + ", ".join(["3"] * 200000) + "],"), 2, ["200000 combinations"]),
    "identity too large": (BASE.replace("b2 + 0 sum(x)", "b2 + 0 sum(I(d*d*d*d*d*d*d*d*d*d))"), 8, ["entries", "at most 16777216"]),
    "tensor too large": (BASE.replace("x: vector(d)", "x: matrix(d*d*d*d*d*d*d*d*d*d, d*d*d*d*d*d*d*d)"), 5, ["entries", "at most 16777216"]),
    "derivative too large": (BASE.replace("dims: {d: 3", "dims: {d: 64").replace("  r: b2", "  T3: x ⊗ (x x^T)\n  r: b2")
                             .replace(CLAIM, "d T3 / d T3 = d T3 / d T3"), 12, ["64×64×64×64×64×64", "at most 16777216"]),
    "index values": (BASE.replace("dims: {d: 3", "dims: {d: 64").replace(CLAIM, "x[i] x[j] x[k] x[m] = x[m] x[k] x[j] x[i]"), 11,
                     ["at most 262144 combinations", "16777216"]),
    "helpers doubling": (with_claim("h0 := r\n" + "".join(f"  - h{k} := h{k - 1} + h{k - 1}\n" for k in range(1, 31))
                                    + f"  - {CLAIM.replace('r^T', 'h30^T')}"), 42, ["grows beyond 200000 terms"]),  # at the claim
}


@pytest.mark.parametrize("name", sorted(TOO_BIG))
def test_counts_and_sizes_over_their_caps_are_refused_early(tmp_path, capsys, name):
    text, line, fragments = TOO_BIG[name]
    code, out = run_cli(tmp_path, text, capsys)  # run_cli also fails a case slower than 20 s
    message = assert_invalid(code, out, line)
    for fragment in fragments:
        assert fragment in message, message


def test_loop_at_the_cap_is_fine_and_one_more_is_not():
    assert len(limits.loop_values("l", 0, limits.MAX_LOOP_VALUES - 1, None)) == limits.MAX_LOOP_VALUES
    assert len(limits.loop_values("l", 3, 1, None)) == 0  # an empty loop stays empty
    with pytest.raises(TensorcalcError, match="at most 128 values; 'l in 0..128' has 129"):
        limits.loop_values("l", 0, limits.MAX_LOOP_VALUES, None)


def test_small_loops_and_sums_still_hold(tmp_path, capsys):
    text = with_claim("d loss / d b2 = 1/3 sum(r^T for i in 1..3)  for l in 1..L")
    code, out = run_cli(tmp_path, text, capsys)
    assert code == 0, out


def test_every_listed_size_combination_is_checked(tmp_path):
    """16 combinations of listed sizes plus a drawn one: each listed combination is among the
    size sets (the draws with distinct sizes used to push the last eight out)."""
    path = tmp_path / "sizes.yaml"
    path.write_text(BASE.replace("dims: {d: 3, n: 2, L: 4}", "dims: {d: [1, 2, 3, 4], n: [1, 2, 3, 4], L: 2..5}"), encoding="utf-8")
    spec = load_spec(str(path))
    sets = size_sets(spec.dims, spec.check.seed)
    assert len(sets) <= limits.MAX_SIZE_CASES
    assert {(s["d"], s["n"]) for s in sets} == {(d, n) for d in range(1, 5) for n in range(1, 5)}


# --- 2. built-in names --------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(builtin_names()))
def test_no_tensor_may_take_a_built_in_name(tmp_path, capsys, name):
    code, out = run_cli(tmp_path, BASE.replace("  b2: vector(n)\n", f"  b2: vector(n)\n  {name}: vector(d)\n"), capsys)
    message = assert_invalid(code, out, 7)
    assert f"'{name}' is a built-in name" in message, message


REDEFINED = {
    "function norm": (BASE.replace("{sigma: sigmoid}", "{sigma: sigmoid, norm: t -> t^2}"), 3, "norm"),
    "function exp": (BASE.replace("{sigma: sigmoid}", "{exp: relu}"), 3, "exp"),
    "function softmax": (BASE.replace("{sigma: sigmoid}", "{softmax: sigmoid}"), 3, "softmax"),
    "definition diag": (BASE.replace("  r: b2", "  diag: x\n  r: b2"), 8, "diag"),
    "definition ones": (BASE.replace("  r: b2", "  ones: x\n  r: b2"), 8, "ones"),
    "helper trace": (with_claim("trace := d loss / d b2"), 11, "trace"),
    "keyword for": (BASE.replace("  r: b2", "  for: x\n  r: b2"), 8, "for"),
}


@pytest.mark.parametrize("case", sorted(REDEFINED))
def test_built_in_names_cannot_be_redefined(tmp_path, capsys, case):
    text, line, name = REDEFINED[case]
    code, out = run_cli(tmp_path, text, capsys)
    message = assert_invalid(code, out, line)
    assert f"'{name}' is a built-in name and cannot be redefined" in message, message


def test_built_in_names_come_from_the_tables_the_language_uses():
    from tensorcalc.core.functions import BUILTINS, SYMPY_FUNCTIONS
    from tensorcalc.core.names import CONSTRUCTORS, REDUCTIONS, STRUCTURAL

    names = builtin_names()
    assert set(BUILTINS) | set(SYMPY_FUNCTIONS) | STRUCTURAL | CONSTRUCTORS | set(REDUCTIONS) <= names
    assert {"for", "in", "norm", "I", "prod"} <= names
    assert not {"d", "x", "sigma", "lambda"} & names  # ordinary names in the shipped files


# --- 3. confusable identifiers and invisible characters ---------------------------------------

CONFUSABLE = {
    # name: (file text, line, column, fragments)
    "cyrillic beside latin": (BASE.replace("  b2: vector(n)\n", "  b2: vector(n)\n  \u0445: vector(d)\n"), 7, 3,
                              ["'х' looks like 'x'", "U+0445 CYRILLIC SMALL LETTER HA"]),
    "cyrillic used in a claim": (with_claim("d loss / d b2 = r^T + 0 sum(\u0445)"), 11, 33, ["U+0445 CYRILLIC SMALL LETTER HA"]),
    "mixed in one name": (BASE.replace("  b2: vector(n)\n", "  b2: vector(n)\n  x\u0445: vector(d)\n"), 7, 4,
                          ["mixes Latin and Cyrillic", "U+0445 CYRILLIC SMALL LETTER HA"]),
    "latin and greek in one name": (BASE.replace("  b2: vector(n)\n", "  b2: vector(n)\n  x\u03c3: vector(d)\n"), 7, 4,
                                    ["mixes Latin and Greek", "U+03C3 GREEK SMALL LETTER SIGMA"]),
    "greek capital omicron": (BASE.replace("  b2: vector(n)\n", "  b2: vector(n)\n  O: vector(d)\n  \u039f: vector(d)\n"), 8, 3,
                              ["U+039F GREEK CAPITAL LETTER OMICRON"]),
    "mathematical italic x": (BASE.replace("  b2: vector(n)\n", "  b2: vector(n)\n  \U0001d465: vector(d)\n"), 7, 3,
                              ["looks like 'x'", "U+1D465 MATHEMATICAL ITALIC SMALL X"]),
    "zero width space in a claim": (with_claim("d loss / d b2 = r\u200b^T"), 11, 22, ["U+200B ZERO WIDTH SPACE"]),
    "zero width joiner in a name": (BASE.replace("  b2: vector(n)\n", "  b2: vector(n)\n  x\u200d: vector(d)\n"), 7, 4,
                                    ["U+200D ZERO WIDTH JOINER"]),
    "soft hyphen in the forward pass": (BASE.replace("b2 + 0", "b\u00ad2 + 0"), 8, 7, ["U+00AD SOFT HYPHEN"]),
    "bidi override in a claim": (with_claim("d loss / d b2 = \u202er^T"), 11, 21, ["U+202E RIGHT-TO-LEFT OVERRIDE"]),
    "escaped bidi override": (with_claim('"d loss / d b2 = r^T \\u2066"'), 11, 6, ["U+2066 LEFT-TO-RIGHT ISOLATE"]),
    "variation selector in a name": (BASE.replace("  b2: vector(n)\n", "  b2: vector(n)\n  x\ufe0f: vector(d)\n"), 7, 4,
                                     ["U+FE0F VARIATION SELECTOR-16"]),
    "hangul filler as a name": (BASE.replace("  b2: vector(n)\n", "  b2: vector(n)\n  \u3164: vector(d)\n"), 7, 3,
                                ["U+3164 HANGUL FILLER"]),
    "byte order mark inside": (BASE.replace("r: b2", "r: \ufeffb2"), 8, 6, ["U+FEFF ZERO WIDTH NO-BREAK SPACE"]),
}


@pytest.mark.parametrize("name", sorted(CONFUSABLE))
def test_confusable_identifiers_and_invisible_characters_are_refused(tmp_path, capsys, name):
    text, line, col, fragments = CONFUSABLE[name]
    code, out = run_cli(tmp_path, text, capsys)
    message = assert_invalid(code, out, line)
    assert f":{line}:{col}:" in message, message
    for fragment in fragments:
        assert fragment in message, message


def test_greek_names_primes_and_indices_are_fine(tmp_path, capsys):
    text = """tensorcalc: 1
dims: {d: 3, L: 2}
functions: {μ: sigmoid}
tensors:
  x: vector(d)
  θ[l]: matrix(d, d)  for l in 1..L
forward:
  a[0]: x
  a[l]: μ(θ[l] a[l-1])  for l in 1..L
  λ: 1/2 norm(a[L])^2
claims:
  - δ[l] := d λ / d a[l]
  - δ[L] = a[L]^T
  - δ[l-1] = δ[l] diag(μ'(θ[l] a[l-1])) θ[l]  for l in 2..L
check: {trials: 1, exact_points: 1}
"""
    code, out = run_cli(tmp_path, text, capsys)
    assert code == 0, out


def test_invisible_character_in_a_note_formula_is_refused_at_its_place(tmp_path, capsys):
    note = ("# A note\n\n```tensorcalc\n" + BASE.replace("claims:\n  - d loss / d b2 = r^T\n", "") + "```\n\n"
            "<!-- check -->\n$$\n\\frac{\\partial loss}{\\partial b2} = r^\\top\u2060\n$$\n")
    path = tmp_path / "note.md"
    path.write_text(note, encoding="utf-8")
    from tensorcalc import cli

    code = cli.main(["check", str(path)])
    out = capsys.readouterr()
    lines = [ln for ln in (out.out + out.err).splitlines() if ln.startswith(f"{path}:")]
    assert code == 2
    line, col = next((i, ln.index("\u2060") + 1) for i, ln in enumerate(note.splitlines(), 1) if "\u2060" in ln)
    assert lines == [f"{path}:{line}:{col}: invisible character U+2060 WORD JOINER in formula text: delete it"], out
