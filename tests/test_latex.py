"""LaTeX output: names and operators in the notes' notation, and every file in derivations/
as a standalone document that a real TeX engine compiles (pdflatex, from Debian's texlive)."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tensorcalc.cli import main
from tensorcalc.errors import Pos
from tensorcalc.frontends.parse import parse
from tensorcalc.outputs.latex import Printer, name, text


@pytest.mark.parametrize("raw, tex", [
    ("W1", "W_{1}"),
    ("W[l+1]", "W^{(l+1)}"),
    ("y[i]", "y_{i}"),
    ("W[L][i,j]", "W_{i,j}^{(L)}"),
    ("sigma'", r"\sigma'"),
    ("loss", r"\mathrm{loss}"),
    ("x_hat", r"x_{\mathrm{hat}}"),
])
def test_names(raw, tex):
    assert name(raw, {"W"}) == tex


@pytest.mark.parametrize("src, tex", [
    ("x r^T W2 diag(sigma'(z))", r"x \, r^{\top} \, W_{2} \, \operatorname{diag}\left(\sigma'\left(z\right)\right)"),
    ("W[l]^T delta[l] ⊙ mu'(z[l])", r"{W^{(l)}}^{\top} \, \delta^{(l)} \odot \mu'\left(z^{(l)}\right)"),
    ("d C / d W[l]", r"\frac{\partial C}{\partial W^{(l)}}"),
    ("I(h) ⊗ x", r"I_{h} \otimes x"),
    ("1/2 norm(r)^2", r"\tfrac{1}{2} \, \left\lVert r \right\rVert^{2}"),
    ("(a - b)^T c", r"\left(a - b\right)^{\top} \, c"),
])
def test_expressions(src, tex):
    raw, _loop = parse(src, "def_line", Pos("t", 1, 1))
    assert Printer({"W", "delta", "z"})(raw) == tex


def test_free_text_is_escaped():
    assert text("50% of x_1 & δ — ok") == r"50\% of x\_1 \& $\delta$ --- ok"


def test_free_text_keeps_section_and_paragraph_signs():
    # a source such as "Matrix Cookbook §2.4.2" printed "?2.4.2"
    assert text("Cookbook §2.4.2, ¶3") == r"Cookbook \S{}2.4.2, \P{}3"


def _engine() -> str | None:
    engine = shutil.which("pdflatex")
    if engine is None and os.environ.get("CI") == "true":
        pytest.fail("pdflatex is missing in CI: .ci/run installs texlive-latex-base")
    if engine is None:
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
    return engine


def test_every_derivation_file_compiles(root, tmp_path, capsys):
    engine = _engine()
    files = sorted((root / "derivations").glob("*.yaml"))
    assert files
    out = tmp_path / "all.tex"
    status = main(["latex", *map(str, files), "--standalone", "-o", str(out)])
    assert status in (0, 3), capsys.readouterr().err  # 3: a formula not expressible in matrix form is listed, not printed
    tex = out.read_text(encoding="utf-8")
    assert tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    assert tex.count(r"\section*") == len(files)
    result = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", out.name], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    errors = [ln for ln in result.stdout.splitlines() if ln.startswith("!")]
    assert result.returncode == 0, "\n".join(errors) or result.stdout[-2000:]
    assert (tmp_path / "all.pdf").stat().st_size > 1000


def test_steps_document_compiles_with_shapes(root, tmp_path):
    engine = _engine()
    out = tmp_path / "steps.tex"
    assert main(["latex", str(root / "derivations/shallow.yaml"), "--standalone", "--steps", "-o", str(out)]) == 0
    tex = out.read_text(encoding="utf-8")
    assert r"\underbrace{W_{2}}_{n \times h}" in tex
    assert r"\underbrace{x}_{d \times 1}" in tex
    result = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", out.name], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:]


def test_fragment_has_one_align_block_per_derivation(root, capsys):
    assert main(["latex", str(root / "derivations/shallow.yaml")]) == 0
    tex = capsys.readouterr().out
    assert r"\documentclass" not in tex
    derived = tex.split(r"\subsection*{Derived formulas}")[1]
    assert derived.count(r"\begin{align*}") == 4  # the parameters W1, b1, W2, b2
    assert r"\frac{\partial \mathrm{loss}}{\partial W_{1}} &= x \, r^{\top} \, W_{2} \, \operatorname{diag}\left(\sigma'\left(z\right)\right)" in derived


def test_steps_with_a_named_derivative_helper(root, tmp_path):
    """``delta2 := d L / d z2`` shown by name inside a step has the shape of its derivative term."""
    out = tmp_path / "steps.tex"
    assert main(["latex", str(root / "derivations/textbook/mlp_l2.yaml"), "--steps", "-o", str(out)]) == 0
    assert r"\underbrace{\delta_{2}}_{m \times 1}" in out.read_text(encoding="utf-8")
