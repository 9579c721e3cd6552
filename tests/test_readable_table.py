"""The readable-formula table (tests/readable/index.yaml): for every textbook gradient, the formula
``derive`` prints is no larger than the textbook's own form (``formula_size`` of
``tensorcalc.core.measure``), says nothing the file does not (no ``@``, no number standing for a
dimension, no unknown name), and holds when read back as a claim of the file."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

from tensorcalc.frontends import load_spec
from tensorcalc.verdicts.check import check_file

ROOT = Path(__file__).resolve().parent.parent


def _table_module():
    spec = importlib.util.spec_from_file_location("readable_table", ROOT / "benchmarks" / "readable_table.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


table = _table_module()
ENTRIES = table.load_entries()
FILES = sorted({e.file for e in ENTRIES})


def formula_size():
    """The size measure; a missing module fails every test that needs it, never skips it."""
    try:
        return table.formula_size_function()
    except RuntimeError as err:
        pytest.fail(str(err))


def _same_claim(a: str, b: str) -> bool:
    """Two claim texts read the same (spacing aside)."""
    return table.parsed_claim(a) == table.parsed_claim(b)


def holds_as_claim(path: Path, claim: str) -> list[str]:
    """Verdicts of ``claim`` checked in ``path``'s model (its helpers kept, its other claims left out)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    helpers = [c for c in data["claims"] if ":=" in (c if isinstance(c, str) else c["claim"])]
    data["claims"] = [*helpers, claim]
    result = check_file(str(path), text=yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert result.error is None, result.error
    return [c.verdict for c in result.claims if c.kind != "helper"]


# --- the table itself (fast) ------------------------------------------------------------


def test_the_table_has_at_least_25_derivations_each_listed():
    on_disk = sorted(p for p in (ROOT / "tests" / "readable").glob("*.yaml") if p.name != "index.yaml")
    assert len(on_disk) >= 25
    assert FILES == on_disk, "every derivation file of tests/readable/ has an entry in index.yaml, and only those"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.label)
def test_each_entry_names_a_claim_of_its_file(entry):
    spec = load_spec(str(entry.file))
    assert spec.source, f"{entry.file.name}: no source: citation"
    claims = [c.text.text for c in spec.claims if c.expect == "holds"]
    assert any(_same_claim(entry.textbook, c) for c in claims), f"{entry.textbook!r} is not a claim of {entry.file.name}"
    lhs = table.parsed_claim(entry.textbook).lhs
    assert lhs.op == "deriv" and lhs.args[1].attr == entry.wrt
    assert entry.of is None or lhs.args[0].attr == entry.of


def test_foreign_parts_are_found():
    """What the table flags, on formulas written by hand for the batch logistic regression (N = 5, d = 3)."""
    spec = load_spec(str(ROOT / "tests" / "readable" / "logistic_bce_batch_rows.yaml"))

    def foreign(rhs: str, textbook: str = "1/N X^T (p - y)") -> list[str]:
        text = f"d L / d w = {rhs}"
        written = table.numbers(table.parsed_claim(f"d L / d w = {textbook}").rhs)
        return table.foreign_parts(text, table.parsed_claim(text).rhs, spec, written)

    assert foreign("1/N X^T (p - y)") == []
    assert foreign("2 X^T sigma'(z)") == []  # 2 is no size of the file
    assert foreign("1/5 X^T (p - y)") == ["number 5 (a size of the file)"]
    assert foreign("X^T (p - y) / 3") == ["number 3 (a size of the file)"]
    assert foreign("3 X^T (p - y)", textbook="3 X^T (p - y)") == []  # the textbook writes 3 too: not a size
    assert foreign("X^T ones(None)") == ["None", "name None"]
    assert foreign("X^T @ (p - y)") == ["@"]
    assert foreign("X^T (q - y)") == ["name q"]
    assert foreign("X^T (rho'(z) - y)") == ["name rho'"]


@pytest.mark.slow
def test_a_false_formula_read_back_fails():
    """The read-back check can say no: the batch gradient without its 1/N."""
    path = ROOT / "tests" / "readable" / "logistic_bce_batch_rows.yaml"
    assert holds_as_claim(path, "d L / d w = 1/N X^T (p - y)") == ["holds"]
    assert holds_as_claim(path, "d L / d w = X^T (p - y)") == ["fails"]


@pytest.mark.slow
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_claim_of_the_table_holds(path):
    result = check_file(str(path))
    assert result.error is None, result.error
    wrong = [(c.text, c.verdict) for c in result.claims if c.kind != "helper" and c.verdict != "holds"]
    assert not wrong


# --- derive against the textbook (slow: each entry derives and verifies) --------------------


# Entries where derive is still behind the textbook, and why; strict, so one that is fixed is noticed.
KNOWN_GAPS: dict[str, str] = {}


def _marked(entry):
    gap = KNOWN_GAPS.get(entry.label)
    marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
    return pytest.param(entry, marks=marks, id=entry.label)


def test_known_gaps_name_entries_of_the_table():
    assert set(KNOWN_GAPS) <= {e.label for e in ENTRIES}


@pytest.mark.slow
@pytest.mark.parametrize("entry", [_marked(e) for e in ENTRIES])
def test_derived_formula_is_as_readable_as_the_textbook(entry):
    size = formula_size()
    row = table.build_row(entry, size)
    assert row.derived is not None, f"derive refused d / d {entry.wrt}: {row.refused}"
    assert row.other_gradient is None, f"derive gave {row.other_gradient!r}, not the textbook's gradient"
    assert not row.foreign, f"{row.derived}: not in the file: {row.foreign}"
    assert holds_as_claim(entry.file, row.derived) == ["holds"], f"{row.derived!r} does not hold when read back"
    assert row.derived_size <= row.textbook_size, (
        f"derived {row.derived!r} (size {row.derived_size}) is larger than the textbook's "
        f"{entry.textbook!r} (size {row.textbook_size})")


def test_every_textbook_form_has_a_size():
    """The measure reads the parser's tree of every textbook form, and a sum of two leaves
    is larger than one leaf."""
    size = formula_size()
    assert all(isinstance(n, int) and n >= 1 for n in (size(table.parsed_claim(e.textbook).rhs) for e in ENTRIES))
    one, two = (table.parsed_claim(f"d f / d x = {rhs}").rhs for rhs in ("a", "a + b"))
    assert size(two) > size(one)


@pytest.mark.slow
def test_the_benchmark_prints_the_table(capsys):
    """``python benchmarks/readable_table.py --quick``, as the README shows it."""
    formula_size()
    assert table.main(["--quick"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("| derivation | gradient | textbook size | derived size |")
    assert len([line for line in out if line.startswith("| ")]) == 1 + 3  # the header and three rows
