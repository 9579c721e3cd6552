"""Derived formulas as aligned text lines: the result, its recursion, or every chain-rule step with its shape."""
from __future__ import annotations

from ..core.notation import plain, shape_text
from ..explain.formulas import with_helper_names


def derivation_text(d, names: dict, steps: bool = False) -> str:
    """A ``formulas.Derivation`` as aligned lines: result (and its recursion), or every step."""
    rows: list[tuple[str, str, str]] = []

    def add(line, lhs_text=None):
        shown_lhs = with_helper_names(line.lhs, names)
        lhs = lhs_text if lhs_text is not None else _bare(plain(shown_lhs)) if shown_lhs.op == "deriv" else plain(shown_lhs)
        shown = with_helper_names(line.rhs, names)
        rhs = _bare(plain(shown)) if shown.op == "deriv" else plain(shown)
        loop = f"   for l in {line.loop[0]}..{line.loop[1]}" if line.loop else ""
        rows.append((lhs, rhs + loop, shape_text(line.shape)))

    for line, continued in d.displayed(steps):
        add(line, "" if continued else None)
    width = max(len(r[0]) for r in rows)
    body = max(len(r[1]) for r in rows)
    out = []
    for i, (lhs, rhs, shape) in enumerate(rows):
        text = f"{lhs:<{width}} = {rhs}"
        out.append(f"{text:<{width + body + 3}}   {shape}" if steps else text)
        if d.general and i == 0 and len(rows) > 1:
            out.append(f"{'':<{width}}   where")
    return "\n".join(out)


def _bare(text: str) -> str:
    return text[1:-1] if text.startswith("(d ") and text.endswith(")") else text
