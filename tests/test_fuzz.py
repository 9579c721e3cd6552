"""Bad input never crashes or hangs: every case ends in an exit code, and invalid input
in exit 2 with one line ``file:line:col: sentence`` — never a traceback.

Most cases run ``cli.main`` in-process (fast); a few run the real command. The number
of cases run is printed at the end (``pytest -s``) and kept in ``CASES``.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorcalc import cli

CASES = {"count": 0}
ONE_LINE = re.compile(r"^[^\n]*:\d+:\d+: \S[^\n]*$")
PER_CASE_SECONDS = 20.0

BASE = """tensorcalc: 1
layout: numerator
dims: {d: 3, h: 2}
functions: {sigma: sigmoid}
tensors:
  x: vector(d)
  W1: matrix(h, d)
forward:
  z: W1 x
  s: sigma(z)
  loss: 1/2 norm(s)^2
claims:
  - d loss / d s = s^T
check: {trials: 1, exact_points: 1}
"""


def run_cli(tmp_path: Path, data: bytes | str, capsys) -> tuple[int, str]:
    CASES["count"] += 1
    path = tmp_path / f"case{CASES['count']}.yaml"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    start = time.perf_counter()
    code = cli.main(["check", str(path), "--time-limit", "10"])
    assert time.perf_counter() - start < PER_CASE_SECONDS, "a case took too long"
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text
    assert code in (0, 1, 2, 3)
    return code, text.replace(str(path), "FILE")


def assert_invalid(code: int, out: str, line: int | None = None) -> str:
    """Exit 2 and exactly one line ``FILE:line:col: one sentence``."""
    assert code == 2, out
    lines = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("FILE:")]
    assert len(lines) == 1, out
    message = lines[0]
    assert ONE_LINE.match(message), message
    if line is not None:
        assert f":{line}:" in message, message
    return message


# --- named bad inputs ------------------------------------------------------------------------

BAD = {
    "empty file": ("", 1),
    "only a comment": ("# nothing\n", 1),
    "not a mapping": ("- a\n- b\n", 1),
    "unknown key": (BASE + "colour: blue\n", 15),
    "duplicate key": (BASE.replace("  s: sigma(z)\n", "  s: sigma(z)\n  s: sigma(z)\n"), 11),
    "duplicate top key": (BASE + "layout: mixed\n", 15),
    "dim zero": (BASE.replace("d: 3", "d: 0"), 3),
    "dim negative": (BASE.replace("d: 3", "d: -4"), 3),
    "dim huge": (BASE.replace("d: 3", "d: 1000000000"), 3),
    "dim not a number": (BASE.replace("d: 3", "d: three"), 3),
    "unknown name in forward": (BASE.replace("W1 x", "W1 y"), 9),
    "unknown name in claim": (BASE.replace("d loss / d s = s^T", "d loss / d s = q^T"), 13),
    "forward shape mismatch": (BASE.replace("W1 x", "x W1"), 9),
    "cycle in definitions": (BASE.replace("z: W1 x", "z: W1 x + s0").replace("  s: sigma(z)\n", "  s: sigma(z)\n  s0: z\n"), None),
    "self reference": (BASE.replace("z: W1 x", "z: W1 x + z"), 9),
    "unknown function": (BASE.replace("sigma: sigmoid", "sigma: wobble"), 4),
    "unknown tensor type": (BASE.replace("vector(d)", "tensor(d)"), 6),
    "bad expression": (BASE.replace("d loss / d s = s^T", "d loss / d s = s^T +"), 13),
    "unbalanced parenthesis": (BASE.replace("W1 x", "(W1 x"), 9),
    "claim without =": (BASE.replace("d loss / d s = s^T", "d loss / d s"), 13),
    "deep nesting": (BASE.replace("W1 x", "-" * 3000 + "W1 x"), 9),
    "deep transposes": (BASE.replace("W1 x", "W1" + "^T^T" * 1500 + " x"), 9),
    "long sum": (BASE.replace("W1 x", " + ".join(["W1 x"] * 2000)), 9),
    "deep yaml nesting": ("a: " + "[" * 5000 + "]" * 5000 + "\n", 1),
    "tab indentation": (BASE.replace("  x: vector(d)", "\tx: vector(d)"), None),
    "bad version": (BASE.replace("tensorcalc: 1", "tensorcalc: 7"), 1),
    "wrong layout": (BASE.replace("numerator", "sideways"), 2),
    "claims not a list": (BASE.split("claims:")[0] + "claims: 3\n", 12),
    "bad expect": (BASE.replace("  - d loss / d s = s^T", "  - claim: d loss / d s = s^T\n    expect: maybe"), 14),
    "bad check setting": (BASE.replace("trials: 1", "trials: lots"), 14),
    "yaml anchors bomb": ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n", None),
    "python tag": ("tensorcalc: !!python/object/apply:os.system ['true']\n", 1),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_named_bad_inputs(tmp_path, capsys, name):
    text, line = BAD[name]
    code, err = run_cli(tmp_path, text, capsys)
    assert_invalid(code, err, line)


def test_constant_forward_pass(tmp_path, capsys):
    """A forward pass that depends on no input (found by the fuzzer: it used to crash jax's vmap)."""
    code, out = run_cli(tmp_path, BASE.replace("W1 x", "I(h)"), capsys)
    assert code == 0, out


def test_deep_parentheses_are_fine(tmp_path, capsys):
    """Parentheses make no tree nodes: 3000 of them around a valid product are accepted."""
    code, _out = run_cli(tmp_path, BASE.replace("W1 x", "(" * 3000 + "W1 x" + ")" * 3000), capsys)
    assert code == 0


def test_forward_shape_mismatch_names_both_shapes(tmp_path, capsys):
    code, err = run_cli(tmp_path, BASE.replace("W1 x", "W1 W1"), capsys)
    message = assert_invalid(code, err, 9)
    assert "h×d" in message and "cannot multiply" in message, message


def test_non_utf8_bytes(tmp_path, capsys):
    data = BASE.encode("utf-8").replace(b"W1 x", b"W1 \xff\xfe x")
    code, err = run_cli(tmp_path, data, capsys)
    assert "UTF-8" in assert_invalid(code, err, 9)


# --- random and mutated input ------------------------------------------------------------------

ALPHABET = st.sampled_from(list("abdxWzsL1230 ()[]{}^T'/+-*=:,;|.⊙⊗ᵀ∂\n\t#&*!?\"") + ["d ", " = ", "sigma(", "norm(", "I(h)", "diag("])
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], derandomize=True)
# 100 runs of the command line each (about a minute apiece: every run starts a worker process): run by CI with -m slow
SLOW = pytest.mark.slow


@SLOW
@FUZZ
@given(st.lists(ALPHABET, max_size=60).map("".join))
def test_random_expression_in_claim(tmp_path, capsys, text):
    doc = BASE.replace("  - d loss / d s = s^T", "  - claim: " + repr(text).replace("\\\\", "\\"))
    code, err = run_cli(tmp_path, doc, capsys)
    if code == 2:
        assert_invalid(code, err)


@SLOW
@FUZZ
@given(st.lists(ALPHABET, max_size=40).map("".join))
def test_random_expression_in_forward(tmp_path, capsys, text):
    doc = BASE.replace("z: W1 x", "z: " + repr(text))
    code, err = run_cli(tmp_path, doc, capsys)
    if code == 2:
        assert_invalid(code, err)


@SLOW
@FUZZ
@given(st.data())
def test_mutated_yaml(tmp_path, capsys, data):
    text = BASE
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        kind = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        char = data.draw(st.sampled_from(list(":-[]{}#&*!|>'\" \n\tx0=^") + ["\x00", "é", "⊙"]))
        if kind == "insert":
            text = text[:i] + char + text[i:]
        elif kind == "delete":
            text = text[:i] + text[i + 1 :]
        else:
            text = text[:i] + char + text[i + 1 :]
    code, err = run_cli(tmp_path, text, capsys)
    if code == 2:
        assert_invalid(code, err)


@SLOW
@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes(tmp_path, capsys, data):
    code, err = run_cli(tmp_path, data, capsys)
    assert code == 2
    assert_invalid(code, err)


# --- the real command -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["empty file", "dim huge", "forward shape mismatch", "deep nesting"])
def test_subprocess(tmp_path, name):
    CASES["count"] += 1
    path = tmp_path / "case.yaml"
    path.write_text(BAD[name][0], encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "tensorcalc", "check", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if str(path) in ln and re.search(r":\d+:\d+: ", ln)]
    assert lines, proc.stdout + proc.stderr


def test_report_case_count():
    """Runs last in this file: prints how many cases ran (visible with ``pytest -s``)."""
    print(f"\nfuzz: {CASES['count']} cases ran through the command line, 0 crashes")
    assert CASES["count"] > 0
