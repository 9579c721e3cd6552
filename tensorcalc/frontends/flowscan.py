"""Read formulas inside YAML flow collections as the user means them.

In ``tensors: {x: vector(d), W1: matrix(h, d)}`` YAML would split ``matrix(h, d)`` at its
comma, and in ``dims: {n[l]: 1..4}`` it would read ``[l]`` as a list.  Parentheses and an
index bracket glued to a name make the meaning unambiguous, so before YAML reads the text
the commas and brackets inside them are replaced by stand-in characters of the same length
(every line and column stays exact) and put back in every scalar afterwards.
"""
from __future__ import annotations

import yaml

_PROTECTED = ",[]{}"


def stand_ins(text: str) -> dict[str, str]:
    """One private-use character per protected character, none of them present in ``text``
    (empty when a file uses them all: its flow collections are then read as YAML reads them)."""
    present = set(text)
    free = [chr(c) for c in range(0xE000, 0xF900) if chr(c) not in present][: len(_PROTECTED)]
    return dict(zip(_PROTECTED, free)) if len(free) == len(_PROTECTED) else {}


_CLOSE = {"(": ")", "[": "]"}


def _after_indicator(text: str, i: int) -> bool:
    """Only blanks between ``i`` and the line start or a YAML indicator (``key:``, ``-``, ``,``, ``{``)."""
    j = i - 1
    while j >= 0 and text[j] in " \t":
        j -= 1
    return j < 0 or text[j] in "\n:-?,{["


def _skip_quoted(text: str, i: int) -> int:
    """Index just past the quoted scalar that starts at ``i`` (``''`` and ``\\"`` are escapes)."""
    quote, j = text[i], i + 1
    while j < len(text):
        if text[j] == "\\" and quote == '"':
            j += 2
        elif text[j] == quote and quote == "'" and text[j + 1 : j + 2] == "'":
            j += 2
        elif text[j] == quote:
            return j + 1
        else:
            j += 1
    return j


def protect_flow(text: str, table: dict[str, str]) -> str:
    """``text`` with ``,[]{}`` inside parentheses or index brackets of flow collections replaced.

    A group ends at the end of its line at the latest, so a stray ``(`` cannot hide the rest
    of the file from YAML.  Replacements that land in block scalars are harmless: ``restore``
    puts every stand-in back in every scalar.
    """
    out = list(text)
    flow = 0  # depth of YAML flow collections
    groups: list[str] = []  # open '(' or index '[' inside a flow collection
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\n":
            groups.clear()
        elif ch == "#" and (i == 0 or text[i - 1] in " \t\n"):
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
            continue
        elif groups:
            if ch == "(" or ch == "[" and _glued(text, i):
                groups.append(ch)
            elif ch == _CLOSE[groups[-1]]:
                groups.pop()
            out[i] = table.get(ch, ch)
        elif ch in "'\"" and _after_indicator(text, i):
            i = _skip_quoted(text, i)
            continue
        elif not flow:
            flow = 1 if ch in "{[" and _after_indicator(text, i) else 0
        elif ch == "(" or ch == "[" and _glued(text, i):
            groups.append(ch)
            out[i] = table.get(ch, ch)
        elif ch in "{[":
            flow += 1
        elif ch in "}]":
            flow -= 1
        i += 1
    return "".join(out)


def _glued(text: str, i: int) -> bool:
    """A ``[`` right after a name, an index or a prime is an index bracket (``W[l]``, ``a[L][i]``)."""
    return i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_]')")


def restore(root: yaml.Node | None, table: dict[str, str]) -> None:
    """Put the protected characters back into every scalar under ``root`` (iteratively: trees may be deep)."""
    back = str.maketrans({stand_in: ch for ch, stand_in in table.items()})
    stack = [root] if root is not None else []
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:  # aliases share nodes
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            node.value = node.value.translate(back)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                stack.extend((key_node, value_node))
