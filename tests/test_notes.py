"""Notes as input: model block, tagged math blocks, positions in the note; the shipped notes."""

import pytest

from tensorcalc.errors import TensorcalcError
from tensorcalc.frontends import load_spec
from tensorcalc.verdicts.check import check_file
from tests.helpers import SHALLOW_MODEL

pytest_plugins = ["pytester"]

MODEL = """\
tensorcalc: 1
layout: numerator
dims: {d: 3, h: 4, n: 2}
functions: {sigma: sigmoid}
symbols:
  W^{(1)}: W1
  W^{(2)}: W2
  \\ell: loss
""" + SHALLOW_MODEL + """"""
TRUE = r"\frac{\partial \ell}{\partial \mathbf{W}^{(2)}} = \mathbf{s}\mathbf{r}^\top"
FALSE = r"\frac{\partial \ell}{\partial \mathbf{W}^{(1)}} = \mathbf{x}\mathbf{r}^\top \mathbf{W}^{(2)}"


def markdown_note(first_tag="<!-- check -->", second_tag="<!-- check -->") -> str:
    return (f"# Notes\n\nSome prose with `$$ inline code $$`.\n\n```tensorcalc\n{MODEL}```\n\n"
            f"The outer layer:\n\n{first_tag}\n$$\n{TRUE}\n$$\n\nThe inner layer:\n{second_tag}\n\n$$ {FALSE} $$\n\n"
            "An unchecked block:\n$$\n\\int f = 0\n$$\n")


def latex_note(tag="% check") -> str:
    model = "".join(f"% {line}\n" for line in MODEL.splitlines())
    return (f"\\documentclass{{article}}\n{model}\\begin{{document}}\n{tag}\n\\begin{{equation}}\n{TRUE}\n\\end{{equation}}\n"
            f"% check: expect fails\n\\[\n  {FALSE}\n\\]\n% {TRUE} (a comment, not a claim)\n\\[ \\int x \\]\n\\end{{document}}\n")


def lines_of(text: str, needle: str) -> list[int]:
    return [i for i, line in enumerate(text.splitlines(), 1) if needle in line]


def test_markdown_claims_are_tagged_blocks_at_their_note_lines(tmp_path):
    text = markdown_note()
    path = tmp_path / "note.md"
    path.write_text(text, encoding="utf-8")
    spec = load_spec(str(path))
    assert [c.note_line for c in spec.claims] == [lines_of(text, "$$")[1], lines_of(text, "{(1)}}")[0]]
    result = check_file(str(path))
    assert result.error is None
    assert [c.verdict for c in result.claims] == ["holds", "fails"]
    assert result.claims[1].pos.line == lines_of(text, "{(1)}}")[0]
    assert result.claims[1].pos.col == 4
    assert "shapes differ" in result.claims[1].reason or "differ" in result.claims[1].reason


def test_markdown_expect_fails_tag_and_yaml_errors_at_note_lines(tmp_path):
    path = tmp_path / "note.md"
    path.write_text(markdown_note(second_tag="<!-- check: expect fails, name: missing diag -->"), encoding="utf-8")
    result = check_file(str(path))
    assert [c.as_expected for c in result.claims] == [True, True]
    assert result.claims[1].name == "missing diag"
    broken = markdown_note().replace("  b1: vector(h)", "  b1: vektor(h)")
    path.write_text(broken, encoding="utf-8")
    result = check_file(str(path))
    assert result.error is not None and result.error.pos.line == lines_of(broken, "vektor")[0]


def test_latex_note_with_comment_block(tmp_path):
    text = latex_note()
    path = tmp_path / "note.tex"
    path.write_text(text, encoding="utf-8")
    result = check_file(str(path))
    assert result.error is None
    assert [(c.verdict, c.expected) for c in result.claims] == [("holds", "holds"), ("fails", "fails")]
    assert result.claims[1].pos.line == lines_of(text, "{(1)}}")[0] and result.claims[1].pos.col == 3


def test_notes_check_all_and_labels(tmp_path):
    text = latex_note(tag="").replace("\\begin{equation}\n", "\\begin{equation}\\label{eq:outer}\n").replace("% check: expect fails\n", "")
    path = tmp_path / "note.tex"
    path.write_text(text.replace("% functions:", "% notes: {check: [eq:outer]}\n% functions:"), encoding="utf-8")
    assert len(load_spec(str(path)).claims) == 1
    path.write_text(text.replace("% functions:", "% notes: {check: all}\n% functions:"), encoding="utf-8")
    with pytest.raises(TensorcalcError, match="unsupported LaTeX command '\\\\int'"):
        from tensorcalc.core.model import Prepared

        Prepared(load_spec(str(path)))


@pytest.mark.parametrize(
    "text, message",
    [
        ("# no model\n$$ a = b $$\n", "no ```tensorcalc block"),
        (markdown_note().replace("<!-- check -->\n$$", "<!-- check -->\n\nplain text\n$$", 1), "check tag must come right before"),
        (markdown_note(first_tag="<!-- check: expect maybe -->"), "unknown check option"),
        (markdown_note(first_tag="", second_tag=""), "no claims"),
    ],
)
def test_note_errors_are_positioned(tmp_path, text, message):
    path = tmp_path / "note.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TensorcalcError, match=message) as err:
        load_spec(str(path))
    assert err.value.pos.file == str(path) and err.value.pos.line >= 1


@pytest.mark.slow
@pytest.mark.parametrize("note", ["notes/backprop.md", "notes/shallow.tex"])
def test_shipped_notes_are_as_expected(note):
    result = check_file(note)
    assert result.error is None and result.claims
    assert all(c.as_expected for c in result.claims)
    assert any(c.expected == "fails" for c in result.claims)


def test_shipped_notes_parse():
    for note in ("notes/backprop.md", "notes/shallow.tex"):
        from tensorcalc.core.model import Prepared

        assert len(Prepared(load_spec(note)).claims) >= 8


def test_readme_note_example_is_checked(tmp_path):
    readme = open("README.md", encoding="utf-8").read()
    example = readme.split("````markdown\n", 1)[1].split("\n````", 1)[0]
    path = tmp_path / "example.md"
    path.write_text(example, encoding="utf-8")
    result = check_file(str(path))
    assert result.error is None
    assert [(c.verdict, c.expected) for c in result.claims] == [("holds", "holds"), ("fails", "fails")]
