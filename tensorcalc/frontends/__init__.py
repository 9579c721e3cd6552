"""Readers of what people write -> ``Spec``: derivation files (YAML) and notes (Markdown, LaTeX).

``load_spec`` is the one entry point; it picks the reader by the file's suffix.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import Pos, TensorcalcError
from .spec import MAX_FILE_BYTES, Spec, read_yaml


def load_spec(path: str | Path, text: str | None = None) -> Spec:
    """Read and validate a derivation file (structure only; expressions are parsed later)."""
    path = str(path)
    if text is None:
        try:
            raw = Path(path).read_bytes()
        except OSError as err:
            raise TensorcalcError(f"cannot read file: {err.strerror}", Pos(path, 1, 1)) from None
        if len(raw) > MAX_FILE_BYTES:
            raise TensorcalcError(f"file larger than {MAX_FILE_BYTES} bytes", Pos(path, 1, 1))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            line = raw[: err.start].count(b"\n") + 1
            raise TensorcalcError("file is not valid UTF-8", Pos(path, line, 1)) from None
    if Path(path).suffix.lower() in (".md", ".markdown", ".tex"):  # a note: model block + tagged formulas
        from .notes import load_note

        return load_note(path, text)
    return load_yaml_spec(path, text)


def load_yaml_spec(path: str, text: str) -> Spec:
    """A derivation file's YAML text -> Spec (positions relative to ``path``), its LaTeX claims read."""
    spec, raw = read_yaml(path, text)
    if "symbols" not in raw and all(claim.latex is None for claim in spec.claims):
        return spec  # plain syntax only: the LaTeX reader (and its grammar) is not needed
    from .latex_input import SymbolMap, read_latex_claims

    read_latex_claims(spec, SymbolMap.from_yaml(raw.get("symbols"), path))
    return spec
