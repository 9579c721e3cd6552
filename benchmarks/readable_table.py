"""The readable-formula table: for each textbook gradient listed in tests/readable/index.yaml,
the formula ``derive`` prints beside the form the textbook prints, with both sizes.

    python benchmarks/readable_table.py            # the whole table as Markdown
    python benchmarks/readable_table.py --quick    # the first three entries only

Sizes come from ``tensorcalc.core.measure.formula_size`` applied to the right-hand side of
each formula as the derivation-file parser reads it (both formulas are measured the same way).
``tests/test_readable_table.py`` asserts, per entry, that the derived formula is no larger than
the textbook's, uses only the file's names and holds when read back as a claim.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "tests" / "readable"
INDEX = TABLE / "index.yaml"
HERE = "<readable table>"

if str(ROOT) not in sys.path:  # run as a script from anywhere: the checkout's tensorcalc
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Entry:
    """One row of the table: ``d of / d wrt`` of ``file``, and the claim in that file that
    states it in the textbook's own form (its exact text)."""

    file: Path
    wrt: str
    textbook: str
    of: str | None = None

    @property
    def label(self) -> str:
        return f"{self.file.stem}: {self.textbook.split('=')[0].strip()}"


@dataclass
class Row:
    """What ``derive`` made of one entry: the derived claim text (None when refused)."""

    entry: Entry
    derived: str | None = None
    refused: str | None = None
    textbook_size: int | None = None
    derived_size: int | None = None
    foreign: list[str] = field(default_factory=list)  # what the derived formula says that the file does not
    other_gradient: str | None = None  # the left side derive gave, when it is not the textbook's


def load_entries(index: Path = INDEX) -> list[Entry]:
    """The index's entries, in order; ``file`` is relative to the index's folder."""
    data = yaml.safe_load(index.read_text(encoding="utf-8"))
    return [Entry(index.parent / item["file"], str(item["wrt"]), str(item["textbook"]), item.get("of"))
            for item in data["entries"]]


def formula_size_function():
    """``formula_size`` from ``tensorcalc.core.measure``; a clear error when the module is missing."""
    try:
        from tensorcalc.core.measure import formula_size
    except ImportError as err:
        raise RuntimeError(f"the readable table needs tensorcalc.core.measure.formula_size ({err})") from None
    return formula_size


def parsed_claim(text: str):
    """A claim's text -> the parser's ``ParsedClaim`` (lhs, rhs, loop), as a file's claim is read."""
    from tensorcalc.errors import Pos
    from tensorcalc.frontends.parse import parse

    return parse(text, "claim_line", Pos(HERE, 1, 1))


def derive_entry(entry: Entry):
    """``(Derivation, prepared)`` of the entry's gradient through the API the ``derive`` command
    uses; raises ``LookupError`` with the reason when it is not shown."""
    from tensorcalc.outputs.views import derive_file

    derived = derive_file(str(entry.file), [entry.wrt], None, entry.of)
    if derived.refused:
        raise LookupError(derived.refused[0][1])
    if not derived.derivations:
        raise LookupError("the loss does not depend on it (the derived gradient is zero)")
    return derived.derivations[0], derived


def derived_claim_text(derivation, derived) -> str:
    """The result line as a claim a file could state: ``d of / d wrt = rhs [for l in a..b]``,
    derivative terms the file names shown by name, as ``derive`` prints them."""
    from tensorcalc.core.notation import plain
    from tensorcalc.explain.formulas import helper_names, with_helper_names

    names = helper_names(derived.prepared, derived.layout)
    line = derivation.result
    lhs = plain(with_helper_names(line.lhs, names))
    lhs = lhs[1:-1] if lhs.startswith("(d ") and lhs.endswith(")") else lhs
    loop = f" for l in {line.loop[0]}..{line.loop[1]}" if line.loop else ""
    return f"{lhs} = {plain(with_helper_names(line.rhs, names))}{loop}"


def build_row(entry: Entry, formula_size) -> Row:
    """Derive one entry and measure both formulas."""
    from tensorcalc.errors import TensorcalcError

    textbook = parsed_claim(entry.textbook)
    row = Row(entry, textbook_size=formula_size(textbook.rhs))
    try:
        derivation, derived = derive_entry(entry)
    except (LookupError, TensorcalcError) as err:
        row.refused = str(err)
        return row
    row.derived = derived_claim_text(derivation, derived)
    try:
        parsed = parsed_claim(row.derived)
    except TensorcalcError as err:
        row.foreign.append(f"does not read back: {err.message}")
        return row
    row.derived_size = formula_size(parsed.rhs)
    row.foreign = foreign_parts(row.derived, parsed.rhs, derived.prepared.spec, numbers(textbook.rhs))
    if (parsed.lhs, parsed.loop) != (textbook.lhs, textbook.loop):
        row.other_gradient = row.derived.split(" = ", 1)[0] + _loop_text(row.derived)
    return row


def _loop_text(claim: str) -> str:
    return " for" + claim.rsplit(" for", 1)[1] if " for l in " in claim else ""


# --- what a derived formula may say -----------------------------------------------------

BUILTIN_CALLS = {
    "sigmoid", "relu", "tanh", "exp", "log", "softplus", "identity", "sqrt", "abs", "sign", "sin", "cos",
    "diag", "sum", "norm", "trace", "softmax", "transpose", "hadamard", "otimes", "inv", "det", "logdet",
    "mean", "norm1", "softmax_rows", "log_softmax", "vec", "kron", "max", "argmax", "I", "eye", "ones", "zeros",
}


def file_names(spec) -> set[str]:
    """Base names a formula of this file may use: tensors, definitions, helpers, dimensions, functions."""
    keys = [*spec.tensors, *spec.forward, *spec.dims, *(spec.functions or {})]
    helpers = [c.text.text.split(":=")[0] for c in spec.claims if ":=" in c.text.text]
    return {k.split("[")[0].strip() for k in [*keys, *helpers]}


def dimension_sizes(spec) -> set[int]:
    """Every size a dimension of the file takes at some checked size set."""
    from tensorcalc.core.sizes import size_sets

    return {v for sizes in size_sets(spec.dims, spec.check.seed) for v in sizes.values() if isinstance(v, int)}


def numbers(rhs) -> set[int]:
    """Numerators and denominators of the numbers a parsed formula writes."""
    from tensorcalc.core.expr import walk

    return {p for node in walk(rhs) if node.op == "num" for p in (node.attr.numerator, node.attr.denominator)}


def foreign_parts(text: str, rhs, spec, written: set[int] = frozenset()) -> list[str]:
    """What a derived right-hand side says that the file does not: unknown names or functions,
    ``@``, ``None``, and numbers equal to a size of the file that the textbook form does not write
    (``written``): a dimension put in as its value."""
    from tensorcalc.core.expr import walk

    known, sizes, out = file_names(spec), dimension_sizes(spec) - set(written), []
    for marker in ("@", "None"):
        if marker in text:
            out.append(marker)
    for node in walk(rhs):
        if node.op in ("name", "call"):
            base = str(node.attr).split("[")[0].rstrip("'")
            if base not in known and not (node.op == "call" and base in BUILTIN_CALLS):
                out.append(f"name {node.attr}")
        elif node.op == "num":
            parts = {node.attr.numerator, node.attr.denominator} - {1}
            out += [f"number {node.attr} (a size of the file)" for p in sorted(parts) if p in sizes]
    return sorted(set(out))


# --- the table ----------------------------------------------------------------------------


HEADER = ["| derivation | gradient | textbook size | derived size | textbook form | derived formula |",
          "|---|---|---|---|---|---|"]


def markdown_row(row: Row) -> str:
    """One line of the table: derivation, gradient, sizes, the two formulas (and what does not belong)."""
    e = row.entry
    parsed = parsed_claim(e.textbook)
    gradient = e.textbook.split("=")[0].strip() if parsed.lhs.op == "deriv" else f"d {e.of or 'loss'} / d {e.wrt}"
    derived = _cell(row.derived.split(" = ", 1)[1], True) if row.derived else f"not shown: {_cell(str(row.refused))}"
    if row.other_gradient:
        derived = f"derives {_cell(row.other_gradient, True)} instead: {derived}"
    if row.foreign:
        derived += f" (not in the file: {_cell(', '.join(row.foreign))})"
    sizes = [str(row.textbook_size), "-" if row.derived_size is None else str(row.derived_size)]
    cells = [_cell(e.file.stem), _cell(gradient, True), *sizes, _cell(e.textbook.split("=", 1)[1].strip(), True), derived]
    return "| " + " | ".join(cells) + " |"


def summary(rows: list[Row]) -> str:
    same = [r for r in rows if r.derived_size is not None and r.other_gradient is None]
    smaller = sum(1 for r in same if r.derived_size <= r.textbook_size)
    foreign = sum(1 for r in rows if r.foreign)
    return (f"{smaller} of {len(rows)} derived formulas are no larger than the textbook's; "
            f"{len(rows) - len(same)} are not shown or derive another left side; "
            f"{foreign} say something the file does not.")


def _cell(text: str, formula: bool = False) -> str:
    """A table cell: pipes escaped; a formula in backticks, so ``^`` and ``*`` stay as written."""
    text = text.replace("|", "\\|")
    return f"`{text}`" if formula else text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the first three entries only")
    args = parser.parse_args(argv)
    formula_size = formula_size_function()
    entries = load_entries()[:3] if args.quick else load_entries()
    print("\n".join(HEADER), flush=True)
    rows = []
    for entry in entries:  # row by row: the whole table takes minutes
        rows.append(build_row(entry, formula_size))
        print(markdown_row(rows[-1]), flush=True)
    print(f"\n{summary(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
