"""Verdicts: true claims hold however they are spelled, wrong claims fail for the right reason."""
import json
import subprocess
import sys
import textwrap

import pytest

from tensorcalc.cli import main
from tensorcalc.verdicts.check import check_file
from tests.helpers import SHALLOW_MODEL

BASE = """
tensorcalc: 1
layout: {layout}
dims: {{d: 3, h: 4, n: 2}}
functions: {{sigma: {sigma}}}
""" + SHALLOW_MODEL + """claims:
{claims}
"""


def run(tmp_path, claims, layout="numerator", sigma="sigmoid"):
    body = "\n".join(f"  - {json.dumps(c, ensure_ascii=False)}" for c in claims)
    f = tmp_path / "t.yaml"
    f.write_text(BASE.format(layout=layout, sigma=sigma, claims=body), encoding="utf-8")
    result = check_file(str(f))
    assert result.error is None, result.error
    return result.claims


@pytest.mark.parametrize(
    "claim",
    [
        "d loss / d W1 = x r^T W2 diag(sigma'(z))",
        "d loss / d W1 = x r^T W2 diag(s ⊙ (1 - s))",  # σ' spelled through σ
        "d loss / d W1 = x (W2^T r ⊙ sigma'(z))^T",
        "d loss / d W1 = r^T W2 diag(sigma'(z)) (I(h) ⊗ x)",  # the 3-tensor contracted
        "d loss / d b1 = (d loss / d z)",
        "d loss / d z = (d loss / d s) diag(sigma'(z))",
        "d s / d z = diag(sigma(z) ⊙ (1 - sigma(z)))",
        "d r / d W2 = I(n) ⊗ s",
        "d loss / d x = r^T W2 diag(sigma'(z)) W1",
        "loss = 1/2 r^T r",
    ],
)
def test_true_claims_hold(tmp_path, claim):
    (result,) = run(tmp_path, [claim])
    assert result.verdict == "holds", result.reason


def test_tanh_derivative_spelled_two_ways(tmp_path):
    claims = ["d s / d z = diag(1 - tanh(z).^2)", "d s / d z = diag(1 - s ⊙ s)", "d s / d z = diag(sigma'(z))"]
    for result in run(tmp_path, claims, sigma="tanh"):
        assert result.verdict == "holds", (result.text, result.reason)


def test_relu_claims(tmp_path):
    claims = ["d loss / d W1 = x r^T W2 diag(sigma'(z))", "d loss / d W1 = x r^T W2 diag(relu'(z))", "d loss / d W1 = x r^T W2"]
    results = run(tmp_path, claims, sigma="relu")
    assert [r.verdict for r in results] == ["holds", "holds", "fails"]


@pytest.mark.parametrize(
    "claim, reason",
    [
        ("d loss / d W1 = 2 x r^T W2 diag(sigma'(z))", "constant factor: claimed = 2 × true"),
        ("d loss / d W1 = 1/2 x r^T W2 diag(sigma'(z))", "constant factor: claimed = 1/2 × true"),
        ("d loss / d r = -r^T", "constant factor: claimed = -1 × true"),
        ("d loss / d W1 = (x r^T W2 diag(sigma'(z)))^T", "shapes differ"),
        ("d loss / d W2 = r s^T", "holds in denominator layout"),
        ("d loss / d W1 = x r^T W2 diag(sigma(z))", "differ"),
        ("d loss / d W1 = x r^T W2", "differ"),
        ("d z / d W1 = x ⊗ I(h)", "shapes differ"),
        ("d loss / d W1 = x r^T diag(sigma'(z)) W2", "cannot multiply"),
    ],
)
def test_wrong_claims_fail_with_reason(tmp_path, claim, reason):
    (result,) = run(tmp_path, [claim])
    assert result.verdict == "fails"
    assert reason in result.reason


def test_mixed_layout_reads_gradients_as_columns(tmp_path):
    ok, wrong = run(tmp_path, ["d loss / d b1 = W2^T r ⊙ sigma'(z)", "d loss / d b1 = r^T W2 diag(sigma'(z))"], layout="mixed")
    assert ok.verdict == "holds" and wrong.verdict == "fails"
    assert "numerator" in wrong.reason


def test_shipped_files(root):
    for name, verdicts in (("shallow.yaml", {"holds"}), ("shallow_wrong.yaml", {"fails"})):
        result = check_file(str(root / "derivations" / name))
        assert result.error is None
        assert {c.verdict for c in result.claims} == verdicts
        assert all(c.as_expected for c in result.claims)
    wrong = check_file(str(root / "derivations" / "shallow_wrong.yaml"))
    assert len(wrong.claims) >= 6


def test_exit_codes_and_json(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(BASE.format(layout="numerator", sigma="sigmoid", claims="  - d loss / d b2 = r^T"))
    assert main(["check", str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.format(layout="numerator", sigma="sigmoid", claims="  - d loss / d b2 = r"))
    capsys.readouterr()
    assert main(["check", "--format", "json", str(bad)]) == 1
    report = json.loads(capsys.readouterr().out)
    claim = report["files"][0]["claims"][0]
    assert claim["verdict"] == "fails" and claim["expected"] == "holds" and claim["index"] == 0 and claim["line"] == 18
    assert report["summary"]["fails"] == 1
    expected_fail = tmp_path / "expected.yaml"
    expected_fail.write_text(BASE.format(layout="numerator", sigma="sigmoid", claims="  - {claim: d loss / d b2 = r, expect: fails}"))
    assert main(["check", str(expected_fail)]) == 0


@pytest.mark.parametrize(
    "body, line, fragment",
    [
        ("claims:\n  - d loss / d b2 = q^T\n", 18, "unknown name 'q'"),
        ("claims:\n  - d loss / d b2 = (r^T\n", 18, "unexpected end"),
    ],
)
def test_invalid_files_exit_2_with_position(tmp_path, body, line, fragment):
    text = BASE.format(layout="numerator", sigma="sigmoid", claims="").replace("claims:\n\n", body)
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "tensorcalc", "check", str(f)], capture_output=True, text=True)
    assert proc.returncode == 2
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    assert f"{f}:{line}:" in out and fragment in out


def test_forward_shape_error_names_both_operands(tmp_path):
    text = textwrap.dedent(BASE.format(layout="numerator", sigma="sigmoid", claims="  - d loss / d b2 = r^T")).replace("z: W1 x + b1", "z: W1 b1 + x")
    f = tmp_path / "shape.yaml"
    f.write_text(text)
    result = check_file(str(f))
    assert result.error is not None
    assert "W1 is h×d" in result.error.message and "b1 is h×1" in result.error.message
    assert result.error.pos.line == 13


def relu_chain(depth: int) -> str:
    """A chain of `depth` scalar relu units, a true claim and two wrong ones."""
    weights = ", ".join(f"w{i}: scalar" for i in range(1, depth + 1))
    forward = ["  z1: w1 x", "  a1: relu(z1)"]
    for i in range(2, depth + 1):
        forward += [f"  z{i}: w{i} a{i - 1}", f"  a{i}: relu(z{i})"]
    chain = " ".join(f"relu'(z{i}) w{i}" for i in range(depth, 1, -1))
    return f"""
tensorcalc: 1
dims: {{one: 1}}
tensors: {{x: scalar, y: scalar, {weights}}}
forward:
{chr(10).join(forward)}
  C: (a{depth} - y)^2
claims:
  - d C / d w1 = 2 (a{depth} - y) {chain} relu'(z1) x
  - {{claim: d C / d w1 = 0, expect: fails}}
  - {{claim: d C / d w1 = 2 (a{depth} - y) x, expect: fails}}
"""


def test_relu_chains_are_not_decided_by_dead_units(tmp_path):
    # a chain of eight relu units is dead somewhere at almost every random point; a wrong
    # claim that is 0 there must still fail (every other point has every unit active)
    f = tmp_path / "relu.yaml"
    f.write_text(relu_chain(8))
    result = check_file(str(f))
    assert [c.verdict for c in result.claims] == ["holds", "fails", "fails"], [c.reason for c in result.claims]


def test_symbolic_proof_is_reported(root):
    result = check_file(str(root / "derivations" / "shallow.yaml"))
    assert all(c.how.startswith("proved for all d, h, n; ") for c in result.claims)
