"""No code from a derivation file ever runs: payloads in every string field do nothing,
and the package contains no call that could evaluate text as code."""
from __future__ import annotations

import ast
import os
import uuid
from pathlib import Path

import pytest

from tensorcalc import cli

PACKAGE = Path(__file__).resolve().parents[1] / "tensorcalc"
BANNED_NAMES = {"eval", "exec", "compile", "__import__", "sympify", "parse_expr", "lambdify", "unsafe_load", "full_load"}
BANNED_ATTRIBUTES = {"sympify", "parse_expr", "lambdify", "unsafe_load", "full_load", "load_all", "system", "popen"}


def _calls(tree: ast.AST):
    for n in ast.walk(tree):
        if isinstance(n, ast.Call):
            yield n


def test_package_has_no_code_evaluating_calls():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _calls(tree):
            f = call.func
            if isinstance(f, ast.Name) and f.id in BANNED_NAMES:
                offenders.append(f"{path.name}:{call.lineno}: {f.id}(...)")
            if isinstance(f, ast.Attribute) and f.attr in BANNED_ATTRIBUTES:
                offenders.append(f"{path.name}:{call.lineno}: .{f.attr}(...)")
            if isinstance(f, ast.Attribute) and f.attr in ("load",) and isinstance(f.value, ast.Name) and f.value.id in ("yaml", "pickle"):
                offenders.append(f"{path.name}:{call.lineno}: {f.value.id}.load(...)")
            if isinstance(f, ast.Attribute) and f.attr == "S" and isinstance(f.value, ast.Name) and f.value.id == "sympy":
                offenders.append(f"{path.name}:{call.lineno}: sympy.S(...) (sympifies its argument)")
        for n in ast.walk(tree):
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                names = {a.name for a in n.names} | ({n.module} if isinstance(n, ast.ImportFrom) and n.module else set())
                for bad in ("pickle", "marshal", "subprocess"):
                    if bad in names:
                        offenders.append(f"{path.name}:{n.lineno}: import {bad}")
    assert not offenders, "code-evaluating calls in the package:\n" + "\n".join(offenders)


def test_the_scan_finds_what_it_looks_for(tmp_path):
    """The scanner itself works: planted calls are found."""
    planted = ast.parse("import sympy\nx = eval('1')\ny = sympy.sympify(t)\nz = m.lambdify(a, b)\n")
    found = [c for c in _calls(planted) if (isinstance(c.func, ast.Name) and c.func.id in BANNED_NAMES)
             or (isinstance(c.func, ast.Attribute) and c.func.attr in BANNED_ATTRIBUTES)]
    assert len(found) == 3


def _payloads(marker: Path) -> list[str]:
    cmd = f"touch {marker}"
    return [
        f"__import__('os').system('{cmd}')",
        f"exec(\"import os; os.system('{cmd}')\")",
        f"eval(\"__import__('os').system('{cmd}')\")",
        f"t -> __import__('os').system('{cmd}')",
        f"!!python/object/apply:os.system ['{cmd}']",
        f"Symbol('x').__class__.__init__.__globals__['os'].system('{cmd}')",
        f"lambda: __import__('os').system('{cmd}')",
    ]


FIELDS = ["title", "source", "layout", "dim", "function", "tensor", "forward", "loss", "claim", "name", "expect", "check"]


def _document(field: str, payload: str) -> str:
    quoted = payload.replace("'", "''")
    value = f"'{quoted}'"
    doc = {
        "title": "t", "source": "s", "layout": "numerator", "dim": "3", "function": "sigmoid", "tensor": "vector(d)",
        "forward": "W x", "loss": "loss", "claim": "d loss / d W = x^T", "name": "n", "expect": "holds", "check": "1",
    }
    doc[field] = value if not payload.startswith("!!") else payload
    return f"""tensorcalc: 1
title: {doc['title']}
source: {doc['source']}
layout: {doc['layout']}
dims: {{d: {doc['dim']}, h: 2}}
functions: {{f: {doc['function']}}}
tensors:
  x: {doc['tensor']}
  W: matrix(h, d)
forward:
  z: {doc['forward']}
  loss: 1/2 norm(z)^2
loss: {doc['loss']}
claims:
  - claim: {doc['claim']}
    name: {doc['name']}
    expect: {doc['expect']}
check: {{seed: {doc['check']}, trials: 1}}
"""


@pytest.mark.parametrize("field", FIELDS)
def test_payloads_in_every_field_never_run(tmp_path, field, capsys):
    marker = Path("/tmp") / f"tensorcalc-pwned-{uuid.uuid4().hex}"
    for i, payload in enumerate(_payloads(marker)):
        path = tmp_path / f"{field}-{i}.yaml"
        path.write_text(_document(field, payload), encoding="utf-8")
        code = cli.main(["check", str(path), "--time-limit", "30"])
        assert code in (0, 1, 2, 3)
        assert not marker.exists(), f"payload in {field!r} ran: {payload}"
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert not os.path.exists(marker)
