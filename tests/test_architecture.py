"""The package's shape: modules import each other without cycles (imports inside functions count)."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tensorcalc"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Nodes under ``if TYPE_CHECKING:`` (never imported at run time)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skip


def import_graph() -> dict[str, set[str]]:
    """Module -> the tensorcalc modules it imports anywhere in its body."""
    files = {_module_name(f): f for f in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        skip = _type_checking_only(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                candidates = [target] + [f"{target}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            graph[name] |= {c for c in candidates if c in files and c != name and c != "tensorcalc"}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_sees_imports_inside_functions():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert "tensorcalc.verdicts.results" in import_graph()["tensorcalc.outputs.report"]  # a real edge is seen


def private_imports() -> list[str]:
    """``from tensorcalc.x import _name``, and ``module._name`` of an imported tensorcalc module,
    anywhere in the package: a private name used outside its module."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("tensorcalc")):
                names = {alias.name for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")}
                found += [f"{path.relative_to(PACKAGE)}:{node.lineno} imports {name}" for name in sorted(names)]
                modules |= {alias.asname or alias.name for alias in node.names}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
                if node.attr.startswith("_") and not node.attr.startswith("__"):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} uses {node.value.id}.{node.attr}")
    return found


def test_no_private_name_is_used_outside_its_module():
    assert private_imports() == []


def test_the_private_import_scan_sees_one(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("from .b import _helper\nfrom . import shapes as S\nS._fmt(1)\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    assert private_imports() == ["a.py:1 imports _helper", "a.py:3 uses S._fmt"]


def long_functions(folder: Path, most: int = 60) -> list[str]:
    """Functions (methods included) in ``folder`` longer than ``most`` lines."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= most:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    return found


def test_core_functions_are_at_most_60_lines():
    assert long_functions(PACKAGE / "core") == []


def test_the_length_check_sees_a_long_function(tmp_path, monkeypatch):
    body = "".join(f"    x{i} = {i}\n" for i in range(60))
    (tmp_path / "a.py").write_text(f"def long():\n{body}\n\ndef short():\n    return 1\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    assert long_functions(tmp_path) == ["a.py:1 long (61 lines)"]


def unnamed_modules(readme: str) -> list[str]:
    """Modules (and asset folders) of the package that the README's Architecture section does not name."""
    section = readme[readme.index("## Architecture"):readme.index("**Adding an operator**")]
    found = []
    for path in sorted(PACKAGE.rglob("*")):
        if path.name == "__init__.py" or path.suffix not in (".py", ".lark", "") or "__pycache__" in path.parts:
            continue
        if path.suffix == "" and not (path.is_dir() and len(path.relative_to(PACKAGE).parts) <= 2):
            continue  # folders down to outputs/katex, not the fonts inside
        shown = f"{path.name}/`" if path.is_dir() else f"{path.name}`"  # `tensorcalc/cache.py` or `cache.py`
        if shown not in section:
            found.append(str(path.relative_to(PACKAGE)))
    return found


def test_the_readme_architecture_names_every_module():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    assert unnamed_modules(readme) == []
    assert unnamed_modules(readme.replace("`notation.py`", "notation")) == ["core/notation.py"]
