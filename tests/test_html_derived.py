"""The HTML report's collapsed section of derived formulas: the gradients ``derive`` prints,
with each factor's shape underbraced and the chain-rule steps, within the claim time limit;
a gradient not derived says why in words and the report goes on."""
from __future__ import annotations

import re
import time

from tensorcalc.outputs import claim_latex
from tensorcalc.outputs.html import derived_section
from tensorcalc.outputs.views import derive_file

ONE_LAYER = """tensorcalc: 1
layout: numerator
dims: {d: 3, n: 2}
tensors:
  x: vector(d)
  W: matrix(n, d)
  y: vector(n)
parameters: [W, x]
forward:
  r: tanh(W x) - y
  loss: 1/2 norm(r)^2
claims:
  - d loss / d r = r^T
"""


def _file(tmp_path, text=ONE_LAYER):
    path = tmp_path / "one.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_gradients_with_shapes_and_steps(tmp_path):
    path = _file(tmp_path)
    formulas, seconds = claim_latex.derived_formulas(path)
    assert [f.wrt for f in formulas] == ["W", "x"] and all(f.result and not f.reason for f in formulas)
    assert seconds > 0
    derived = derive_file(path)
    for formula, d in zip(formulas, derived.derivations):
        braced, plain = formula.result
        assert r"\underbrace{" in braced and "underbrace" not in plain
        assert braced.startswith(r"\begin{aligned}\frac{\partial \mathrm{loss}}{\partial " + ("W" if d.wrt == "W" else "x"))
        assert formula.steps.startswith(r"\begin{align*}") and formula.steps.count(r" \\") == len(d.displayed(True)) - 1
    shapes = re.findall(r"\}_\{([^{}]*)\}", formulas[0].result[0])
    assert shapes and all(re.fullmatch(r"[dn1] \\times [dn1]", s) for s in shapes)  # size names, never numbers
    assert "d \\times 1" in shapes  # x, in the result for W


def test_steps_through_a_derivative_the_file_named(tmp_path):
    """``g := d loss / d z``: the steps show the term by the file's name, with its shape."""
    text = (ONE_LAYER.replace("parameters: [W, x]", "parameters: [W]").replace("  r: tanh(W x) - y", "  z: W x\n  r: tanh(z) - y")
            .replace("  - d loss / d r = r^T", "  - claim: g := d loss / d z\n  - d loss / d r = r^T"))
    [formula] = claim_latex.derived_formulas(_file(tmp_path, text))[0]
    assert formula.reason == "" and r"\underbrace{" in formula.result[0]
    assert formula.steps and r"\underbrace{" in formula.steps and "\ng &= " in formula.steps


def test_the_section_is_collapsed_and_escaped(tmp_path):
    html = derived_section(_file(tmp_path))
    assert html.startswith('<details class="derived"><summary>Derived formulas: 2 of 2 gradients (')
    assert "<details class=\"derived\" open" not in html
    assert html.count('<div class="gradient">') == 2 and html.count("Chain-rule steps:") == 2
    assert "&amp;= \\underbrace{" in html and "&= " not in html


def test_out_of_time_is_said_in_words(tmp_path):
    formulas, _seconds = claim_latex.derived_formulas(_file(tmp_path), limit=1e-6)
    assert [f.wrt for f in formulas] == ["W", "x"]
    assert all(not f.result and f.reason.startswith("gave up after 1e-06 s") for f in formulas)


def test_a_derivation_running_on_is_stopped_at_the_limit(tmp_path, monkeypatch):
    def endless(path, wrt):
        while True:
            time.sleep(0.01)

    monkeypatch.setattr(claim_latex, "derive_file", endless)
    start = time.perf_counter()
    formulas, seconds = claim_latex.derived_formulas(_file(tmp_path), limit=0.3)
    assert time.perf_counter() - start < 3 and 0.3 <= seconds < 3
    assert [f.reason[:19] for f in formulas] == ["gave up after 0.3 s"] * 2


def test_a_failure_while_deriving_does_not_break_the_report(tmp_path, monkeypatch):
    def broken(path, wrt):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(claim_latex, "derive_file", broken)
    html = derived_section(_file(tmp_path))
    assert "Derived formulas: 0 of 2 gradients" in html
    assert html.count("not derived: internal error: ZeroDivisionError: division by zero") == 2


def test_a_gradient_derive_refuses_gives_its_reason(tmp_path):
    text = ONE_LAYER.replace("  loss: 1/2 norm(r)^2\n", "").replace("d loss / d r = r^T", "d r / d y = -I(n)")
    html = derived_section(_file(tmp_path, text))
    assert "Derived formulas: 0 of 2 gradients" in html
    assert html.count("not derived: the file defines no scalar loss: name one with --of") == 2


def test_an_unreadable_file_gets_no_section(tmp_path):
    assert derived_section(_file(tmp_path, "tensorcalc: 1\nforward: [\n")) == ""
