"""Notes as input: a Markdown or LaTeX note -> ``Spec`` whose claims are the note's own formulas.

The model (dims, tensors, forward, symbols, ...) is a YAML block inside the note:
a fenced ```` ```tensorcalc ```` block in Markdown, a run of comment lines starting with
``% tensorcalc: 1`` in LaTeX. Claims are display-math blocks marked by a tag on the line
before (``<!-- check -->`` / ``% check``, optionally ``check: expect fails``), or every block
when the YAML says ``notes: {check: all}``, or the blocks whose ``\\label``/``\\tag`` it lists
(``notes: {check: [eq:grad]}``). Each claim keeps the note's file, line and column.

The YAML is read in place: every line outside the block is blanked, so YAML positions are
the note's positions.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from ..document import ClaimSpec, Spec, Text
from ..errors import Pos, TensorcalcError
from .latex_input import SymbolMap, read_latex_claims
from .spec import read_yaml, yaml_pos

NOTE_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".tex": "latex"}

_MD_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w-]*)\s*$")
_MD_TAG = re.compile(r"<!--\s*check\b(.*?)-->")
_TEX_START = re.compile(r"^\s*%\s*tensorcalc\s*:")
_TEX_TAG = re.compile(r"^\s*%\s*check\b(.*)$")
_TEX_MATH = re.compile(
    r"\\\[(?P<a>.*?)\\\]|\$\$(?P<b>.*?)\$\$|\\begin\{(?P<env>equation\*?|align\*?|gather\*?|multline\*?|eqnarray\*?)\}(?P<c>.*?)\\end\{(?P=env)\}",
    re.S,
)
_MD_MATH = re.compile(r"\$\$(?P<b>.*?)\$\$", re.S)
_INLINE_CODE = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")
_LABEL = re.compile(r"\\(?:label|tag\*?)\s*\{([^{}]*)\}")


@dataclass(frozen=True)
class MathBlock:
    """A display-math block: its LaTeX, where that text starts, the tag before it (if any), its labels."""

    text: str
    pos: Pos
    tag: str | None
    tag_pos: Pos | None
    labels: tuple[str, ...]


def is_note(path: str | Path) -> bool:
    return Path(path).suffix.lower() in NOTE_SUFFIXES


def has_model_block(path: str | Path) -> bool:
    """Whether a note carries a tensorcalc block (folders are scanned for these only)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    kind = NOTE_SUFFIXES.get(Path(path).suffix.lower())
    if kind == "markdown":
        return any((m := _MD_FENCE.match(line)) and m.group(3) == "tensorcalc" for line in text.splitlines())
    return kind == "latex" and any(_TEX_START.match(line) for line in text.splitlines())


_YAML_MARK = re.compile(r"(?m)^tensorcalc\s*:\s*1\s*(#.*)?$")


def is_source(path: str | Path) -> bool:
    """A derivation file (YAML with ``tensorcalc: 1``) or a note with a tensorcalc block."""
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            return bool(_YAML_MARK.search(path.read_text(encoding="utf-8", errors="replace")[:200_000]))
        except OSError:
            return False
    return is_note(path) and has_model_block(path)


def load_note(path: str, text: str) -> Spec:
    """Read a note: the YAML block gives the model, the tagged math blocks the claims."""
    kind = NOTE_SUFFIXES[Path(path).suffix.lower()]
    lines = text.split("\n")
    yaml_lines, block_line, indent = (_markdown_yaml if kind == "markdown" else _latex_yaml)(path, lines)
    masked = _mask_markdown_code(lines) if kind == "markdown" else _mask_tex_comments(lines)
    blocks = _math_blocks(path, text, masked, kind)
    body = "\n".join(yaml_lines)
    if not re.search(r"(?m)^\s*claims\s*:", body):
        body += "\n" + " " * indent + "claims: []"
    spec, raw = read_yaml(path, body)
    selected = _selection(path, raw.get("notes"))
    claims = list(spec.claims)
    for block in blocks:
        options = _tag_options(block) if block.tag is not None else None
        chosen = options is not None or selected == "all" or bool(set(block.labels) & set(selected or ()))
        if not chosen:
            continue
        options = options or {}
        claims.append(ClaimSpec(len(claims), Text(block.text, block.pos), options.get("name"), options.get("expect", "holds"),
                                block.pos.line, block.text))
    if not claims:
        raise TensorcalcError("no claims: mark a math block with a check tag (see the README), or list blocks in 'notes'", Pos(path, block_line, 1))
    spec.claims = claims
    read_latex_claims(spec, SymbolMap.from_yaml(raw.get("symbols"), path))
    return spec


# ---------------------------------------------------------------- the YAML block
def _markdown_yaml(path: str, lines: list[str]) -> tuple[list[str], int, int]:
    out = [""] * len(lines)
    start = end = None
    fence = ""
    for i, line in enumerate(lines):
        m = _MD_FENCE.match(line)
        if start is None and m and m.group(3) == "tensorcalc":
            start, fence = i, m.group(2)
        elif start is not None and end is None and line.strip() == fence[0] * len(line.strip()) and len(line.strip()) >= len(fence):
            end = i
        elif start is not None and m and m.group(3) == "tensorcalc":
            raise TensorcalcError("a note has one ```tensorcalc block", Pos(path, i + 1, 1))
    if start is None:
        raise TensorcalcError("no ```tensorcalc block with the model (dims, tensors, forward) in this note", Pos(path, 1, 1))
    if end is None:
        raise TensorcalcError("the ```tensorcalc block is not closed", Pos(path, start + 1, 1))
    out[start + 1 : end] = lines[start + 1 : end]
    return out, start + 1, _indent(lines[start + 1 : end])


def _latex_yaml(path: str, lines: list[str]) -> tuple[list[str], int, int]:
    out = [""] * len(lines)
    start = next((i for i, line in enumerate(lines) if _TEX_START.match(line)), None)
    if start is None:
        raise TensorcalcError("no '% tensorcalc: 1' comment block with the model (dims, tensors, forward) in this note", Pos(path, 1, 1))
    i = start
    while i < len(lines) and lines[i].lstrip().startswith("%") and not _TEX_TAG.match(lines[i]):
        out[i] = lines[i].replace("%", " ", 1)
        i += 1
    return out, start + 1, _indent(out[start:i])


def _indent(lines: list[str]) -> int:
    return min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)


def _selection(path: str, entry):
    """``notes: {check: all | [labels]}`` (its raw YAML entry) -> "all", a list of labels, or None."""
    if entry is None:
        return None
    node = entry[1]
    fields = {k.value: v for k, v in node.value} if isinstance(node, yaml.MappingNode) else None
    if fields is None or set(fields) - {"check"}:
        raise TensorcalcError("'notes' takes one key, check: all or a list of \\label names", yaml_pos(path, node, quoted_offset=False))
    value = fields["check"]
    if isinstance(value, yaml.ScalarNode) and value.value == "all":
        return "all"
    if isinstance(value, yaml.SequenceNode) and all(isinstance(v, yaml.ScalarNode) for v in value.value):
        return [str(v.value) for v in value.value]
    raise TensorcalcError("notes.check is 'all' or a list of \\label names", yaml_pos(path, value, quoted_offset=False))


# ---------------------------------------------------------------- math blocks and tags
def _mask_markdown_code(lines: list[str]) -> str:
    """Blank fenced code (other than ```math) so that `$$` inside code is not read as math."""
    out, fence = [], None
    for line in lines:
        m = _MD_FENCE.match(line)
        if fence is None and m:
            fence = m.group(2)
            out.append("$$" + " " * max(len(line) - 2, 0) if m.group(3) == "math" else " " * len(line))
            fence = ("math", fence) if m.group(3) == "math" else ("code", fence)
        elif fence is not None and line.strip().startswith(fence[1]) and not line.strip().strip(fence[1][0]):
            out.append(("$$" + " " * max(len(line) - 2, 0)) if fence[0] == "math" else " " * len(line))
            fence = None
        else:
            out.append(" " * len(line) if fence is not None and fence[0] == "code" else _INLINE_CODE.sub(lambda c: " " * len(c.group(0)), line))
    return "\n".join(out)


def _mask_tex_comments(lines: list[str]) -> str:
    return "\n".join(re.sub(r"(?<!\\)%.*", lambda m: " " * len(m.group(0)), line) for line in lines)


def _math_blocks(path: str, text: str, masked: str, kind: str) -> list[MathBlock]:
    pattern = _MD_MATH if kind == "markdown" else _TEX_MATH
    blocks, tag_lines = [], set()
    for m in pattern.finditer(masked):
        group = next(g for g in ("a", "b", "c") if g in m.groupdict() and m.group(g) is not None)
        start = m.start(group)
        content = masked[start : m.end(group)]
        line = text.count("\n", 0, start) + 1
        col = start - (text.rfind("\n", 0, start) + 1) + 1
        tag, tag_pos = _tag_before(path, text, m.start(), kind)
        if tag_pos is not None:
            tag_lines.add(tag_pos.line)
        blocks.append(MathBlock(content, Pos(path, line, col), tag, tag_pos, tuple(_LABEL.findall(content))))
    tag_re = _MD_TAG if kind == "markdown" else _TEX_TAG
    for number, line in enumerate((masked if kind == "markdown" else text).split("\n"), 1):
        if tag_re.search(line) and number not in tag_lines and not (kind == "latex" and _TEX_START.match(line)):
            raise TensorcalcError("a check tag must come right before a display-math block", Pos(path, number, line.index(line.strip()[:1]) + 1))
    return blocks


def _tag_before(path: str, text: str, offset: int, kind: str) -> tuple[str | None, Pos | None]:
    """The check tag on the nearest non-blank line before ``offset`` (or earlier on the same line)."""
    head_lines = text[:offset].split("\n")
    index = len(head_lines) - 1
    if not head_lines[index].strip():
        index -= 1
        while index >= 0 and not head_lines[index].strip():
            index -= 1
    if index < 0:
        return None, None
    m = (_MD_TAG if kind == "markdown" else _TEX_TAG).search(head_lines[index])
    if not m:
        return None, None
    return m.group(1), Pos(path, index + 1, m.start() + 1)


def _tag_options(block: MathBlock) -> dict:
    """``check``, ``check: expect fails``, ``check: expect holds, name: a title``."""
    raw = block.tag.strip().lstrip(":").strip()
    options: dict = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        words = part.replace(":", " ", 1).split(None, 1)
        if words[0] == "expect" and len(words) == 2 and words[1].strip() in ("holds", "fails"):
            options["expect"] = words[1].strip()
        elif words[0] == "name" and len(words) == 2:
            options["name"] = words[1].strip()
        else:
            raise TensorcalcError(f"unknown check option {part!r} (use 'expect fails', 'expect holds' or 'name: ...')", block.tag_pos)
    return options


__all__ = ["load_note", "is_note", "is_source", "has_model_block", "NOTE_SUFFIXES", "MathBlock", "replace"]
