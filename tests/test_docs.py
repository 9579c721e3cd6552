"""The docs name only files that exist: every repository path shown in README.md and docs/."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PATH = re.compile(r"`((?:tensorcalc|tests|benchmarks|scripts|derivations|notes|docs)/[\w./-]+|[\w-]+/[\w./-]+\.(?:py|lark))`")


BARE = re.compile(r"`([\w-]+\.(?:py|lark))`")


def _shown_paths(doc: Path) -> set[str]:
    return set(PATH.findall(doc.read_text(encoding="utf-8")))


def _shown_files(doc: Path) -> set[str]:
    """File names shown without a folder (``latex_input.py``): each must exist somewhere in the repository."""
    return set(BARE.findall(doc.read_text(encoding="utf-8")))


def _exists(shown: str) -> bool:
    """A path from the repository root, or relative to the package (``core/derive.py``)."""
    return any((base / shown).exists() for base in (ROOT, ROOT / "tensorcalc", ROOT / "tensorcalc" / "frontends"))


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_path_in_the_docs_exists(doc):
    missing = sorted(p for p in _shown_paths(doc) if not _exists(p))
    assert not missing, f"{doc.name} names files that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_file_name_in_the_docs_exists(doc):
    present = {f.name for f in ROOT.rglob("*") if ".git" not in f.parts}
    missing = sorted(name for name in _shown_files(doc) if name not in present)
    assert not missing, f"{doc.name} names files that do not exist: {missing}"


def test_the_path_finder_sees_the_architecture_section():
    assert {"core/derive.py", "tensorcalc/document.py", "tests/test_rules.py"} <= _shown_paths(ROOT / "README.md")
    assert "latex_input.py" in _shown_files(ROOT / "README.md")


def test_the_architecture_section_names_every_module():
    """A module added to the package is added to README's Architecture section too."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Architecture"):]
    package = ROOT / "tensorcalc"
    modules = {f.name for f in package.rglob("*.py") if f.name not in ("__init__.py", "__main__.py")}
    folders = ("core", "oracles", "explain", "verdicts", "outputs", "frontends", "tensorcalc")
    missing = sorted(m for m in modules if f"`{m}`" not in section and not any(f"{p}/{m}`" in section for p in folders))
    assert not missing, f"modules missing from README's Architecture section: {missing}"


def test_every_operator_is_in_the_format_doc():
    """Every built-in name (functions.py, names.py) and every operator symbol of grammar.lark
    appears, in code, in docs/derivation-format.md."""
    from tensorcalc.core.names import builtin_names

    text = (ROOT / "docs" / "derivation-format.md").read_text(encoding="utf-8")
    fenced = re.findall(r"```.*?```", text, flags=re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", " ", text, flags=re.S))
    code = " ".join(fenced + inline)
    missing = [n for n in sorted(builtin_names()) if not re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", code)]
    grammar = (ROOT / "tensorcalc" / "frontends" / "grammar.lark").read_text(encoding="utf-8")
    symbols = {s for line in grammar.splitlines() if re.match(r"^[A-Z_]+(\.\d)?:", line) for s in re.findall(r'"([^"]+)"', line)}
    missing += sorted(s for s in symbols if s not in code)
    assert not missing, f"not in docs/derivation-format.md: {missing}"
