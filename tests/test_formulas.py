"""The derive command: formulas in each layout, the general layer index, steps, refusals."""
from __future__ import annotations

import pytest

from tensorcalc.cli import main


def run(capsys, *argv):
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.mark.parametrize("layout, formula", [
    ("numerator", "d loss / d W1 = x r^T W2 diag(sigma'(z))"),
    ("denominator", "d loss / d W1 = (W2^T r ⊙ sigma'(z)) x^T"),
    ("mixed", "d loss / d W1 = (W2^T r ⊙ sigma'(z)) x^T"),
])
def test_shallow_gradient_in_each_layout(root, capsys, layout, formula):
    status, out, _ = run(capsys, "derive", str(root / "derivations/shallow.yaml"), "--wrt", "W1", "--layout", layout)
    assert status == 0
    assert out.splitlines()[0] == formula


def test_shallow_steps_show_the_chain_with_shapes(root, capsys):
    status, out, _ = run(capsys, "derive", str(root / "derivations/shallow.yaml"), "--wrt", "W1", "--steps")
    assert status == 0
    lines = [ln.split() for ln in out.splitlines()[:5]]
    assert " ".join(lines[0]) == "d loss / d r = r^T 1×n"
    assert " ".join(lines[2]) == "d loss / d z = (d loss / d s) diag(sigma'(z)) 1×h"
    assert " ".join(lines[4]) == "= x r^T W2 diag(sigma'(z)) d×h"


def test_layer_family_prints_the_general_l_once(root, capsys):
    status, out, _ = run(capsys, "derive", str(root / "derivations/mlp.yaml"), "--wrt", "W[l]")
    assert status == 0
    lines = [" ".join(ln.split()) for ln in out.splitlines()]
    assert lines[0] == "d C / d W[l] = delta[l] a[l-1]^T for l in 1..L"
    assert "delta[L] = 2 (a[L] - y) ⊙ mu'(z[L])" in lines
    assert "delta[l] = W[l+1]^T delta[l+1] ⊙ mu'(z[l]) for l in 1..L-1" in lines


def test_layer_family_in_numerator_layout_uses_rows(root, capsys):
    status, out, _ = run(capsys, "derive", str(root / "derivations/mlp.yaml"), "--wrt", "W[l]", "--layout", "numerator")
    assert status == 0
    lines = [" ".join(ln.split()) for ln in out.splitlines()]
    assert lines[0] == "d C / d W[l] = a[l-1] (d C / d z[l]) for l in 1..L"
    assert "d C / d z[l] = (d C / d z[l+1]) W[l+1] diag(mu'(z[l])) for l in 1..L-1" in lines


@pytest.mark.parametrize("argv, message, status", [
    (["--wrt", "nope"], "--wrt 'nope': not a tensor or definition", 2),
    (["--wrt", "W1", "--of", "x"], "--of 'x': not a definition", 2),
])
def test_refusals_are_one_line_messages(root, capsys, argv, message, status):
    got, out, err = run(capsys, "derive", str(root / "derivations/shallow.yaml"), *argv)
    assert got == status
    assert message in out + err
    assert "Traceback" not in out + err


def test_a_layer_familys_vector_is_refused(root, capsys):
    got, out, err = run(capsys, "derive", str(root / "derivations/mlp.yaml"), "--of", "z[2]", "--wrt", "W[1]")
    assert got == 2  # a bad argument, not an inconclusive derivation
    assert "--of 'z[2]': a member of a layer family cannot be differentiated here" in err


def test_invalid_file_is_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tensorcalc: 1\ndims: {d: 2}\ntensors: {x: vector(d)}\nforward: {y: x +}\nclaims: []\n")
    status, _out, err = run(capsys, "derive", str(bad))
    assert status == 2 and "bad.yaml:4" in err


def test_readme_derive_examples_are_real_output(root, capsys):
    import re
    import shlex

    readme = (root / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```\n\$ python -m tensorcalc (derive [^\n]*)\n(.*?)```", readme, re.S)
    assert len(blocks) >= 2
    for command, expected in blocks:
        argv = shlex.split(command)
        argv[1] = str(root / argv[1])
        status, out, _ = run(capsys, *argv)
        assert status == 0
        assert out.replace(f"{root}/", "") == expected, command  # emitted code names the file as given
