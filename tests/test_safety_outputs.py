"""User text in outputs: file names, titles and names never inject code into ``--emit numpy``
or commands into a CI log, never break the JUnit XML; ``-o`` never overwrites an input and
fails in one line; ``--time-limit`` takes positive finite seconds only."""
from __future__ import annotations

import ast
import builtins
import errno
import json
import keyword
import os
import re
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tensorcalc import cli
from tensorcalc.core.model import Prepared
from tensorcalc.frontends import load_spec
from tensorcalc.outputs.emit import deepest_model
from tensorcalc.outputs.escape import github_data, github_property, json_document, terminal, xml, xml_document
from tests.test_emit import assert_emitted_matches_jax, load_emitted

SMALL = """tensorcalc: 1
title: {title}
layout: numerator
dims: {{d: 2}}
tensors:
  x: vector(d)
forward:
  loss: 1/2 norm(x)^2
claims:
  - d loss / d x = x^T
  - "d loss / d x =\\n  2 x^T"
"""
HOSTILE_TITLE = '"\\"\\"\\"; __import__(\\"os\\").system(\\"touch pwned\\") #\\n::error::title \\e[31m"'
NEWLINE_NAME = "a\n::error file=README.md,line=1,title=X::pwned\n.yaml"
CONTROL_NAME = "b\x01\x1b[31m\u202e.yaml"
COMMAND_NAME = "::error::c ##[error]d.yaml"
UNDECODABLE_NAME = os.fsdecode(b"e\xff.yaml")
DOCSTRING_NAME = 'x"""; __import__("os").system("touch pwned") #.yaml'
HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}


# ---------------------------------------------------------------- the escaping functions
def test_terminal_text_is_one_line_without_control_characters():
    shown = terminal("a\n::x\r\x1b[31m\x01\u202e\udcff\u2028 σ₁ —")
    assert shown == "a\\n::x\\r\\x1b[31m\\x01\\u202e\\udcff\\u2028 σ₁ —"
    assert terminal("::error::x") == "\\x3a:error::x" and terminal("  ::x") == "  \\x3a:x"
    assert terminal("see ##[error]x") == "see ##\\x5berror]x"


def test_github_escapes_follow_the_toolkit():
    assert github_data("50%\r\nx:y,z") == "50%25%0D%0Ax:y,z"
    assert github_property("50%\r\nx:y,z") == "50%25%0D%0Ax%3Ay%2Cz"
    assert github_data("\x1b[31m") == "\\x1b[31m"


def test_xml_text_keeps_only_xml_characters():
    assert xml("a\tb\nc\x01\x1b\udcff\ufffe\u202e<&>") == "a\tb\nc\\x01\\x1b\\udcff\\ufffe\\u202e<&>"


def test_documents_for_a_log_read_back_the_same():
    assert json.loads(json_document(json.dumps({"##[error]": "x ##[stop-commands]t"}))) == {"##[error]": "x ##[stop-commands]t"}
    element = ET.Element("e", name="##[error]x")
    element.text = "##[stop-commands]t"
    document = xml_document(ET.tostring(element, encoding="unicode"))
    assert "##[" not in document and ET.fromstring(document).get("name") == "##[error]x"
    assert ET.fromstring(document).text == "##[stop-commands]t"


# ---------------------------------------------------------------- hostile file names through `check`
@pytest.fixture
def hostile_files(tmp_path, monkeypatch):
    """Derivations under hostile names (one invalid), in the working folder."""
    monkeypatch.chdir(tmp_path)
    for name in (NEWLINE_NAME, COMMAND_NAME, UNDECODABLE_NAME):
        Path(name).write_text(SMALL.format(title=HOSTILE_TITLE), encoding="utf-8")
    Path(CONTROL_NAME).write_text("tensorcalc: 1\nfoo: [\n", encoding="utf-8")
    return [NEWLINE_NAME, CONTROL_NAME, COMMAND_NAME, UNDECODABLE_NAME]


def _assert_no_injected_lines(text: str) -> None:
    """No line a CI runner reads as a command, no control or hidden characters but newlines."""
    for line in text.splitlines():
        assert not line.lstrip().startswith("::"), line
        assert "##[" not in line, line
        assert not [c for c in line if unicodedata.category(c) in HIDDEN], line


def _check(capsys, files, *options) -> tuple[int, str, str]:
    code = cli.main(["check", *files, "--jobs", "1", *options])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_text_output_shows_hostile_names_escaped(hostile_files, capsys):
    code, out, err = _check(capsys, hostile_files)
    assert code == 2
    _assert_no_injected_lines(out + err)
    assert "a\\n::error file=README.md,line=1,title=X::pwned\\n.yaml" in out
    assert "b\\x01\\x1b[31m\\u202e.yaml:3:1: invalid YAML" in out
    assert "\\x3a:error::c ##\\x5berror]d.yaml" in out and "e\\udcff.yaml" in out
    assert "d loss / d x =\\n  2 x^T  — UNEXPECTED" in out


def test_text_report_file_shows_hostile_titles_escaped(hostile_files, capsys):
    code, out, err = _check(capsys, hostile_files, "-o", "report.txt")
    assert code == 2
    report = Path("report.txt").read_text(encoding="utf-8")
    _assert_no_injected_lines(report + out + err)
    assert '— \\"\\"\\"; __import__' not in report and '#\\n::error::title \\x1b[31m' in report


def test_github_annotations_are_ours_only(hostile_files, capsys):
    code, out, err = _check(capsys, hostile_files, "--format", "github")
    assert code == 2
    _assert_no_injected_lines(err)
    lines = out.splitlines()
    assert len(lines) == 4  # one failing claim in each of three files, one invalid file
    command = re.compile(r"::error file=[^:,\n]*,line=\d+,col=\d+,title=[^:,\n]*::[^\n]*")
    assert all(command.fullmatch(line) for line in lines), lines
    assert "file=a%0A%3A%3Aerror file=README.md%2Cline=1%2Ctitle=X%3A%3Apwned%0A.yaml," in out
    assert not [c for c in out if unicodedata.category(c) in HIDDEN - {"Cc"} or (c != "\n" and unicodedata.category(c) == "Cc")]


def test_junit_xml_is_well_formed_and_carries_no_commands(hostile_files, capsys):
    code, out, err = _check(capsys, hostile_files, "--format", "junit")
    assert code == 2
    _assert_no_injected_lines(out + err)
    suites = ET.fromstring(out)
    names = [s.get("name") for s in suites.iter("testsuite")]
    assert names == [NEWLINE_NAME, "b\\x01\\x1b[31m\\u202e.yaml", COMMAND_NAME, "e\\udcff.yaml"]
    failures = [f.text for f in suites.iter("failure")]
    assert len(failures) == 3 and all(f.startswith("d loss / d x =\\n  2 x^T\n") for f in failures)


def test_json_keeps_names_exactly(hostile_files, capsys):
    code, out, err = _check(capsys, hostile_files, "--format", "json")
    assert code == 2
    _assert_no_injected_lines(out + err)
    assert [f["path"] for f in json.loads(out)["files"]] == hostile_files


def test_derive_text_shows_a_hostile_wrt_escaped(derivation, capsys):
    assert cli.main(["derive", "x.yaml", "--wrt", "x\x1b[31m\n::error::y"]) == 2  # a bad argument
    out = capsys.readouterr()
    _assert_no_injected_lines(out.out + out.err)
    assert "--wrt 'x\\x1b[31m\\n::error::y': not a tensor or definition" in out.err


# ---------------------------------------------------------------- `derive --emit numpy`
def _assert_only_expected_statements(code: str) -> ast.Module:
    """A docstring, ``import numpy as np``, then functions of assignments and one return,
    calling only numpy and the module's own functions, shadowing nothing."""
    tree = ast.parse(compile(code, "<emitted>", "exec", flags=ast.PyCF_ONLY_AST))
    doc, imp, *functions = tree.body
    assert isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str)
    assert isinstance(imp, ast.Import) and [(a.name, a.asname) for a in imp.names] == [("numpy", "np")]
    assert functions and all(isinstance(f, ast.FunctionDef) and not f.decorator_list for f in functions)
    own = {f.name for f in functions}
    reserved = own | {"np"} | set(dir(builtins)) | set(keyword.kwlist)
    assert len(own) == len(functions)
    for f in functions:
        arguments = [a.arg for a in f.args.args]
        body = f.body[1:] if isinstance(f.body[0], ast.Expr) else f.body
        body = [_errstate_body(s) for s in body]
        assert all(isinstance(s, (ast.Assign, ast.Return, ast.Delete)) for s in body), ast.dump(f)
        assigned = [t.id for s in body if isinstance(s, ast.Assign) for t in s.targets]
        assert not set(arguments + assigned) & reserved and len(set(assigned)) == len(assigned)
        deleted = [t.id for s in body if isinstance(s, ast.Delete) for t in s.targets]
        assert set(deleted) <= set(assigned) and len(set(deleted)) == len(deleted)  # only its own arrays, once
        assert not set(arguments) & set(assigned)
        for node in ast.walk(f):
            if isinstance(node, ast.Call):
                fn = node.func
                assert (isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) and fn.value.id == "np") or (
                    isinstance(fn, ast.Name) and fn.id in own), ast.dump(node)
            if isinstance(node, ast.Name):
                assert node.id in {"np"} | own | set(arguments) | set(assigned), node.id
            assert not isinstance(node, (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.Lambda))
    return tree


def _errstate_body(statement):
    """``with np.errstate(over='ignore'): return ...`` (σ at -800) -> its one return; anything else unchanged."""
    if not isinstance(statement, ast.With):
        return statement
    (item,) = statement.items
    call = item.context_expr
    assert isinstance(call, ast.Call) and ast.unparse(call.func) == "np.errstate" and item.optional_vars is None
    assert [(k.arg, getattr(k.value, "value", None)) for k in call.keywords] == [("over", "ignore")] and not call.args
    (inner,) = statement.body
    assert isinstance(inner, ast.Return)
    return inner


def _derive_numpy(capsys, path: str) -> str:
    assert cli.main(["derive", path, "--emit", "numpy"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("name, title", [
    (DOCSTRING_NAME, "t"), (NEWLINE_NAME, "t"), (UNDECODABLE_NAME, "t"), (COMMAND_NAME, HOSTILE_TITLE),
])
def test_emitted_code_runs_nothing_from_names_or_titles(tmp_path, monkeypatch, capsys, name, title):
    monkeypatch.chdir(tmp_path)
    Path(name).write_text(SMALL.format(title=title), encoding="utf-8")
    code = _derive_numpy(capsys, name)
    _assert_only_expected_statements(code)
    module = load_emitted(code, tmp_path, "emitted")
    assert not (tmp_path / "pwned").exists()
    assert name in module.__doc__


NAMES_THAT_COLLIDE = """tensorcalc: 1
title: names that collide with the generated code
layout: numerator
dims: {d: 3, h: 4, n: 2}
functions: {np: sigmoid, len: tanh}
tensors:
  x: vector(d)
  t: matrix(h, d)
  b1: vector(h)
  gradients: matrix(n, h)
  b2: vector(n)
forward:
  z: t x + b1
  dprint_dr: np(z)
  r: gradients dprint_dr + b2
  print: 1/2 norm(r)^2
loss: print
claims:
  - d print / d b2 = r^T
"""


def test_names_never_shadow_numpy_builtins_or_each_other(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("names.yaml").write_text(NAMES_THAT_COLLIDE, encoding="utf-8")
    code = _derive_numpy(capsys, "names.yaml")
    tree = _assert_only_expected_statements(code)
    prepared = Prepared(load_spec("names.yaml"))
    signature = [a.arg for a in tree.body[-1].args.args]
    arguments = dict(zip(deepest_model(prepared).leaves, signature))
    assert arguments["t"] != "t" and arguments["gradients"] != "gradients"
    assert_emitted_matches_jax(prepared, None, code, tmp_path, arguments=arguments.get)


# ---------------------------------------------------------------- `-o FILE`
@pytest.fixture
def derivation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("x.yaml").write_text(SMALL.format(title="t"), encoding="utf-8")
    return Path("x.yaml")


def _one_line_error(capsys, argv: list[str], says: str) -> None:
    assert cli.main(argv) == 2
    out = capsys.readouterr()
    errors = [line for line in out.err.splitlines() if line.startswith("tensorcalc:")]
    assert len(errors) == 1 and says in errors[0] and "Traceback" not in out.err + out.out, out.err


@pytest.mark.parametrize("command", [["latex"], ["check", "--format", "json"]])
def test_output_never_replaces_an_input(derivation, capsys, command):
    before = derivation.read_bytes()
    Path("hard.yaml").hardlink_to(derivation)
    Path("soft.yaml").symlink_to(derivation)
    for target in ("x.yaml", "./x.yaml", "hard.yaml", "soft.yaml"):
        _one_line_error(capsys, [command[0], "x.yaml", *command[1:], "-o", target], "one of the input files")
    _one_line_error(capsys, [command[0], ".", *command[1:], "-o", "x.yaml"], "one of the input files")
    assert derivation.read_bytes() == before and os.path.islink("soft.yaml")


@pytest.mark.parametrize("command", ["latex", "check"])
@pytest.mark.parametrize("target, says", [
    ("missing/out.txt", "no folder"), (".", "it is a folder"), ("fifo", "not a regular file"), ("/dev/full", "No space left on device"),
])
def test_bad_output_targets_are_one_line(derivation, capsys, command, target, says):
    os.mkfifo("fifo")
    _one_line_error(capsys, [command, "x.yaml", "-o", target], says)


def test_output_is_replaced_whole_with_its_permissions(derivation, capsys, monkeypatch):
    Path("out.json").write_text("old", encoding="utf-8")
    os.chmod("out.json", 0o640)
    assert cli.main(["check", "x.yaml", "--format", "json", "-o", "out.json"]) == 1
    assert json.loads(Path("out.json").read_text(encoding="utf-8"))["summary"]["fails"] == 1
    assert os.stat("out.json").st_mode & 0o777 == 0o640

    def full(*_args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    capsys.readouterr()
    _one_line_error(capsys, ["check", "x.yaml", "--format", "json", "-o", "out.json"], "No space left on device")
    assert json.loads(Path("out.json").read_text(encoding="utf-8"))["summary"]["fails"] == 1
    assert sorted(os.listdir(".")) == ["out.json", "x.yaml"]  # no temporary file left


def test_output_to_a_character_device_is_written(derivation, capsys):
    assert cli.main(["check", "x.yaml", "--format", "junit", "-o", "/dev/null"]) == 1


# ---------------------------------------------------------------- --time-limit
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1", "abc", ""])
def test_time_limit_takes_positive_finite_seconds_only(derivation, capsys, value):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["check", "x.yaml", f"--time-limit={value}"])
    assert exit_.value.code == 2
    assert "is not a positive number of seconds" in capsys.readouterr().err


def test_a_positive_time_limit_is_accepted():
    assert cli.positive_seconds("0.5") == 0.5 and cli.positive_seconds("1e3") == 1000.0
