"""Derived formulas next to the textbook's: the printed form should read like the book.

Each case is a formula ``derive`` printed right (confirmed by both oracles) but much longer than
the textbook's; the readable pass (core/readable.py) now writes it in the book's terms, and these
tests keep it so."""
from pathlib import Path

import pytest

from tensorcalc.cli import main

ROOT = Path(__file__).resolve().parents[1]
TEXTBOOK = ROOT / "derivations" / "textbook"


def _derive(capsys, *args) -> str:
    assert main(["derive", *args]) == 0
    return capsys.readouterr().out


def test_rmsnorm_gradient_is_written_through_r(capsys):
    # textbook: (u ⊙ g)/r - ((u ⊙ g)^T x) x / (d r^3)
    out = _derive(capsys, str(TEXTBOOK / "rmsnorm.yaml"), "--wrt", "x")
    assert "sqrt(" not in out and "/r" in out


def test_rmsnorm_gradient_is_written_through_r_whatever_its_spelling(tmp_path, capsys):
    text = (TEXTBOOK / "rmsnorm.yaml").read_text(encoding="utf-8")
    respelled = text.replace("r: sqrt(1/d x^T x + eps)", "r: sqrt(mean(x.^2) + eps)")
    assert respelled != text
    path = tmp_path / "rmsnorm.yaml"
    path.write_text(respelled, encoding="utf-8")
    out = _derive(capsys, str(path), "--wrt", "x")
    assert "sqrt(" not in out and "/r" in out


def test_vae_gradient_is_written_through_the_standard_deviation_s(capsys):
    # textbook: 1/2 (D^T (D z - x)) ⊙ s ⊙ eps + 1/2 (exp(lv) - ones(k))
    out = _derive(capsys, str(TEXTBOOK / "vae_gaussian_kl.yaml"), "--wrt", "lv")
    assert "exp(1/2 lv)" not in out and "⊙ s" in out


@pytest.mark.slow
def test_label_smoothing_correct_line_reads_p_minus_q(capsys):
    assert main(["check", str(TEXTBOOK / "label_smoothing.yaml")]) == 0
    corrections = [line.split("correct: ")[1] for line in capsys.readouterr().out.splitlines() if "correct: d ce / d z" in line]
    assert corrections and all(c.startswith("d ce / d z = p - q [") for c in corrections)


@pytest.mark.slow
def test_logistic_hessian_is_written_as_the_textbook_form(capsys):
    # textbook: 1/N X diag(p ⊙ (ones(N) - p)) X^T + lam I(d)
    out = _derive(capsys, str(TEXTBOOK / "logistic_weight_decay_hessian.yaml"), "--hessian", "--wrt", "w")
    assert "log''" not in out and "+ -" not in out and "sigma''" not in out


@pytest.mark.slow
def test_kernel_ridge_hessian_keeps_the_spd_matrix_untransposed(capsys):
    # textbook: K K + lam K (K symmetric positive definite)
    out = _derive(capsys, str(TEXTBOOK / "kernel_ridge.yaml"), "--hessian", "--wrt", "a", "--of", "J")
    assert "K^T" not in out and "I(N)" not in out
