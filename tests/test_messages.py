"""Messages that say the fix: did-you-mean by edit distance, and what to write for common slips."""
from __future__ import annotations

import pytest

from tensorcalc import cli
from tensorcalc.errors import TensorcalcError
from tensorcalc.suggest import closest, edit_distance
from tests.helpers import model_from

SHALLOW = (
    "tensorcalc: 1\nlayout: numerator\ndims: {d: 3, h: 4, n: 2}\nfunctions: {sigma: sigmoid}\n"
    "tensors:\n  x: vector(d)\n  W1: matrix(h, d)\n  b1: vector(h)\n  W2: matrix(n, h)\n  b2: vector(n)\n"
    "forward:\n  z: W1 x + b1\n  s: sigma(z)\n  r: W2 s + b2\n  loss: 1/2 norm(r)^2\n"
    "claims:\n  - d loss / d r = r^T\n"
)


def message(old: str, new: str) -> str:
    assert old in SHALLOW
    with pytest.raises(TensorcalcError) as err:
        model_from(SHALLOW.replace(old, new, 1))
    return str(err.value)


def test_edit_distance_counts_swaps_as_one_edit():
    assert edit_distance("layuot", "layout") == 1
    assert edit_distance("bl", "b1") == 1 and edit_distance("", "abc") == 3 and edit_distance("same", "same") == 0
    assert closest("chek", ["check", "derive", "latex"]) == ["check"]
    assert closest("zzz", ["check", "derive"]) == []


@pytest.mark.parametrize("old, new, expected", [
    ("W2 s + b2", "W2 s + bl", "unknown name 'bl'; did you mean 'b1' or 'b2'?"),
    ("sigma(z)", "sigmoide(z)", "did you mean 'sigmoid'?"),
    ("layout: numerator", "layuot: numerator", "unknown key 'layuot'; did you mean 'layout'?"),
    ("  z: W1 x + b1", "\tz: W1 x + b1", "indent with spaces"),
    ("1/2 norm(r)^2", "||r||^2", "write norm(x) for ||x||"),
    ("1/2 norm(r)^2", "1/2 norm(r)^2 + |r|", "write norm(x) for ||x||, abs(x) for |x|"),
    ("sigma(z)", "sigma’(z)", "write a straight apostrophe ' for a derivative"),
    ("sigma(z)", "sigma(z) “x”", "formulas take no quotes"),
    ("d: 3,", "d: 100,", "use a smaller size"),
    ("{sigma: sigmoid}", "{sigma: sigmoyd}", "unknown built-in 'sigmoyd'; did you mean 'sigmoid'?"),
])
def test_message_names_the_fix(old, new, expected):
    assert expected in message(old, new)


@pytest.mark.parametrize("spelling, builtin", [
    ("tr", "trace"), ("Tr", "trace"), ("Trace", "trace"), ("Det", "det"), ("ln", "log"), ("inverse", "inv"),
])
def test_a_function_spelt_as_other_tools_spell_it_names_the_builtin(spelling, builtin):
    """``tr(X)`` is a close name by meaning, not by edit distance: it still gets "did you mean 'trace'?"."""
    text = message("1/2 norm(r)^2", f"{spelling}(r r^T)")
    assert f"unknown name {spelling!r}; did you mean {builtin!r}?" in text


def test_an_alias_is_suggested_only_when_the_builtin_is_known():
    assert closest("tr", ["trace", "x"]) == ["trace"] and closest("tr", ["x", "t"]) == ["t"]


def test_run_together_derivative_is_spelled_out(tmp_path, capsys):
    """``dloss/dr`` reads as a division of two names; it is refused where the names are looked up."""
    path = tmp_path / "f.yaml"
    path.write_text(SHALLOW.replace("d loss / d r = r^T", "dloss/dr = r^T"))
    assert cli.main(["check", str(path)]) == 2
    assert "unknown name 'dloss': write a derivative with spaces, d loss / d ..." in capsys.readouterr().out


def test_misspelled_command_gets_the_nearest_and_exit_2(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["chek", "derivations/shallow.yaml"])
    assert done.value.code == 2
    assert "did you mean 'check'?" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("tensorcalc 0.")


@pytest.mark.parametrize("args, expected", [
    (["--of", "zz"], "--of 'zz': not a definition of derivations/shallow.yaml; did you mean 'z'?"),
    (["--wrt", "W3"], "--wrt 'W3': not a tensor or definition of derivations/shallow.yaml; did you mean 'W1' or 'W2'?"),
])
def test_derive_with_a_bad_name_is_a_bad_argument(args, expected, capsys):
    assert cli.main(["derive", "derivations/shallow.yaml", *args]) == 2
    out = capsys.readouterr()
    assert expected in out.err and "d ... /" not in out.out


@pytest.mark.parametrize("args, expected", [
    (["--wrt", "W[L-7]"], "--wrt 'W[L-7]': no layer of 'W' has that index at the file's sizes"),
    (["--wrt", "W[9]"], "--wrt 'W[9]': no layer of 'W' has that index"),
    (["--wrt", "W["], "--wrt 'W[': not a name"),
    (["--wrt", "W[L-7]x"], "--wrt 'W[L-7]x': not a name"),
    (["--wrt", "W[1][2]"], "--wrt 'W[1][2]': a member of the family 'W' has one index"),
    (["--wrt", "L"], "--wrt 'L': not a tensor or definition"),
    (["--wrt", "Q"], "--wrt 'Q': not a tensor or definition"),
    (["--of", "a[L-7]"], "--of 'a[L-7]': no layer of 'a' has that index"),
    (["--of", "a["], "--of 'a[': not a name"),
    (["--of", "a[L]"], "--of 'a[L]': a member of a layer family cannot be differentiated here"),
])
def test_derive_with_a_bad_family_member_is_one_line_exit_2(args, expected, capsys):
    """A member that is no layer, or no name at all, is a bad argument, not an inconclusive derivation."""
    assert cli.main(["derive", "derivations/mlp.yaml", *args]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1 and expected in out.err


def test_every_argument_has_help():
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, command in commands.items():
        for action in command._actions:
            assert action.help, f"{name} {action.dest} has no help text"
