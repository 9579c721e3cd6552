"""Derivation file (YAML) -> ``Spec``: the keys of format v1, every value with its position.

YAML is read with PyYAML's safe composer so that every scalar keeps its line and
column; expressions inside are parsed later by ``parse.py``.
"""
from __future__ import annotations

import re

import yaml

from ..core.limits import MAX_DIM, check_family_widths, check_size_cases
from ..document import LAYOUTS, CheckSettings, ClaimSpec, DimSpec, Spec, Text
from ..errors import Pos, TensorcalcError
from ..suggest import did_you_mean
from .flowscan import protect_flow, restore, stand_ins
from .identifiers import Identifiers, SourcePositions

MAX_FILE_BYTES = 1_000_000


class _Loader(yaml.SafeLoader):
    pass


def yaml_pos(path: str, node: yaml.Node, quoted_offset: bool = True) -> Pos:
    """Where a YAML node starts (inside the quotes of a quoted scalar, unless ``quoted_offset`` is off)."""
    mark = node.start_mark
    shift = 1 if quoted_offset and isinstance(node, yaml.ScalarNode) and node.style in ("'", '"') else 0
    return Pos(path, mark.line + 1, mark.column + 1 + shift)


def read_yaml(path: str, text: str) -> tuple[Spec, dict]:
    """YAML text -> Spec with claims as written, and the raw entries only frontends read (``symbols``, ``notes``)."""
    table = stand_ins(text)
    try:
        root = yaml.compose(protect_flow(text, table), Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        pos = Pos(path, mark.line + 1, mark.column + 1) if mark else Pos(path, 1, 1)
        line = text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
        problem = str(err.problem or err.context)
        raise TensorcalcError(f"invalid YAML: {problem}{_yaml_hint(problem, line)}", pos) from None
    except yaml.YAMLError as err:
        raise TensorcalcError(f"invalid YAML: {err}", Pos(path, 1, 1)) from None
    except RecursionError:
        raise TensorcalcError("invalid YAML: nested too deeply", Pos(path, 1, 1)) from None
    if root is None:
        raise TensorcalcError("empty derivation file", Pos(path, 1, 1))
    restore(root, table)
    top = _mapping(path, root, "the file")
    return _build(path, top, root, text), {k: top[k] for k in ("symbols", "notes") if k in top}


def _yaml_hint(problem: str, line: str) -> str:
    """What to write instead, for the YAML mistakes formulas invite."""
    if "'\\t'" in problem:
        return " (indent with spaces: YAML does not allow tabs)"
    if re.search(r"(:|-)\s+[|>]", line):
        return " (a value starting with '|' or '>' starts a YAML text block: write norm(x) for ||x||, or put the value in quotes)"
    if re.search(r"(:|-)\s+[\[{]", line):
        return " (put quotes around an expression that starts with '[' or '{')"
    return ""


def _mapping(path: str, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise TensorcalcError(f"{what} must be a mapping of keys to values", yaml_pos(path, node))
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise TensorcalcError(f"keys of {what} must be plain names", yaml_pos(path, key_node))
        key = key_node.value
        if key in out:
            raise TensorcalcError(f"duplicate key {key!r} in {what}", yaml_pos(path, key_node))
        out[key] = (key_node, value_node)
    return out


def _scalar(path: str, node: yaml.Node, what: str) -> Text:
    if not isinstance(node, yaml.ScalarNode):
        raise TensorcalcError(f"{what} must be a single value, not a list or mapping", yaml_pos(path, node))
    return Text(str(node.value), yaml_pos(path, node))


def _expression(path: str, node: yaml.Node, what: str, source: str) -> Text:
    """An expression value; an unquoted ``[x; 1]`` or ``[W | b]`` is read as written, not as a YAML list."""
    if isinstance(node, yaml.SequenceNode) and node.flow_style and node.start_mark.line == node.end_mark.line:
        return Text(source[node.start_mark.index : node.end_mark.index], yaml_pos(path, node))
    return _scalar(path, node, what)


def _text_map(path: str, entry, what: str, source: str = "") -> dict[str, Text]:
    if entry is None:
        return {}
    _key, node = entry
    if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
        return {}
    return {k: _expression(path, v, f"{what} {k!r}", source) for k, (_kn, v) in _mapping(path, node, what).items()}


_INT = re.compile(r"^\s*(-?\d+)\s*$")
_RANGE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$")


def _size(path: str, text: str, pos: Pos, name: str) -> int:
    match = _INT.match(text)
    if not match:
        raise TensorcalcError(f"size of {name!r} must be a whole number, got {text!r}", pos)
    value = int(match.group(1))
    if value < 1:
        raise TensorcalcError(f"size of {name!r} must be at least 1, got {value}", pos)
    if value > MAX_DIM:
        raise TensorcalcError(f"size of {name!r} is {value}, above the largest checked size {MAX_DIM}: use a smaller size "
                              f"(a few small, different sizes such as 3, 4, 5 find the same mistakes)", pos)
    return value


def _dims(path: str, entry) -> dict[str, DimSpec]:
    if entry is None:
        raise TensorcalcError("missing key 'dims'", Pos(path, 1, 1))
    dims = {}
    cases = 1
    for name, (key_node, node) in _mapping(path, entry[1], "dims").items():
        pos = yaml_pos(path, node)
        if isinstance(node, yaml.SequenceNode):
            if not node.value:
                raise TensorcalcError(f"dims {name!r}: empty list of sizes", pos)
            if name.endswith("]"):  # widths of a layer family, one per layer
                check_family_widths(len(node.value), pos)
            else:
                cases *= len(node.value)
                check_size_cases(cases, pos)  # before the entries are read: a list may be very long
            sizes = tuple(_size(path, _scalar(path, n, name).text, yaml_pos(path, n), name) for n in node.value)
            dims[name] = DimSpec(name, sizes, pos=pos)
            continue
        text = _scalar(path, node, f"dims {name!r}").text
        match = _RANGE.match(text)
        if match:
            low = _size(path, match.group(1), pos, name)
            high = _size(path, match.group(2), pos, name)
            if low > high:
                raise TensorcalcError(f"dims {name!r}: empty range {text}", pos)
            dims[name] = DimSpec(name, (), low, high, pos)
        else:
            dims[name] = DimSpec(name, (_size(path, text, pos, name),), pos=pos)
    return dims


CLAIM_FIELDS = {"claim", "name", "expect", "line in notes", "line", "latex", "why"}


def _claims(path: str, entry, source: str = "") -> list[ClaimSpec]:
    if entry is None:
        raise TensorcalcError("missing key 'claims'", Pos(path, 1, 1))
    node = entry[1]
    if not isinstance(node, yaml.SequenceNode):
        raise TensorcalcError("'claims' must be a list", yaml_pos(path, node))
    claims = []
    for index, item in enumerate(node.value):
        if isinstance(item, yaml.ScalarNode) or isinstance(item, yaml.SequenceNode):
            claims.append(ClaimSpec(index, _expression(path, item, "a claim", source)))
            continue
        fields = _mapping(path, item, "a claim")
        unknown = set(fields) - CLAIM_FIELDS
        if unknown:
            key = sorted(unknown)[0]
            raise TensorcalcError(f"unknown claim field {key!r}{did_you_mean(key, CLAIM_FIELDS)}", yaml_pos(path, fields[key][0]))
        if "claim" not in fields and "latex" not in fields:
            raise TensorcalcError("a claim entry needs a 'claim' field", yaml_pos(path, item))
        text = _expression(path, fields["claim"][1], "claim", source) if "claim" in fields else None
        latex = _scalar(path, fields["latex"][1], "latex") if "latex" in fields else None
        expect = "holds"
        if "expect" in fields:
            expect_text = _scalar(path, fields["expect"][1], "expect")
            if expect_text.text not in ("holds", "fails"):
                raise TensorcalcError(f"expect must be 'holds' or 'fails', got {expect_text.text!r}", expect_text.pos)
            expect = expect_text.text
        line = None
        for key in ("line in notes", "line"):
            if key in fields:
                line_text = _scalar(path, fields[key][1], key)
                if not _INT.match(line_text.text):
                    raise TensorcalcError(f"{key!r} must be a line number", line_text.pos)
                line = int(line_text.text)
        name = _scalar(path, fields["name"][1], "name").text if "name" in fields else None
        claims.append(ClaimSpec(index, text or latex, name, expect, line, latex.text if latex else None))
    return claims


def _check(path: str, entry) -> CheckSettings:
    if entry is None:
        return CheckSettings()
    fields = _mapping(path, entry[1], "check")
    values = {}
    kinds = {"seed": int, "trials": int, "rtol": float, "exact_points": int, "timeout": float}
    for key, (key_node, node) in fields.items():
        if key not in kinds:
            raise TensorcalcError(f"unknown check setting {key!r}{did_you_mean(key, kinds)}", yaml_pos(path, key_node))
        text = _scalar(path, node, key)
        try:
            value = kinds[key](text.text)
        except ValueError:
            raise TensorcalcError(f"check.{key} must be a number, got {text.text!r}", text.pos) from None
        if kinds[key] is int and not 0 <= value <= (2**31 if key == "seed" else 100):
            raise TensorcalcError(f"check.{key} out of range: {value}", text.pos)
        if key == "rtol" and not 0 < value < 1:
            raise TensorcalcError(f"check.rtol must be between 0 and 1, got {value}", text.pos)
        if key == "timeout" and not 0 < value <= 3600:
            raise TensorcalcError(f"check.timeout must be between 0 and 3600 seconds, got {value}", text.pos)
        values[key] = value
    if values.get("trials", 5) < 1:
        raise TensorcalcError("check.trials must be at least 1", Pos(path, 1, 1))
    return CheckSettings(**values)


FORMULA_KEYS = ("dims", "functions", "tensors", "forward", "loss", "claims", "symbols", "parameters")
PROSE_FIELDS = {"name", "why"}  # free text in a claim entry, not formulas


def _check_identifiers(path: str, top: dict, source: str) -> None:
    """Every identifier of the formula text in one alphabet, no two alike, nothing invisible."""
    positions = SourcePositions(path, source)
    names = Identifiers()
    for key in FORMULA_KEYS:
        for node in _formula_scalars(top[key][1], PROSE_FIELDS if key == "claims" else ()) if key in top else ():
            start, end = node.start_mark.index, node.end_mark.index
            names.scan(source[start:end], lambda i, start=start: positions.at(start + i))
            if node.style == '"':  # escapes (\u0445) are characters only in the value
                names.scan(str(node.value), lambda _i, node=node: yaml_pos(path, node))


def _formula_scalars(node: yaml.Node, prose=()):
    """The scalars (keys and values) under a node, without the values of the ``prose`` keys."""
    if isinstance(node, yaml.ScalarNode):
        yield node
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _formula_scalars(item, prose)
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            yield from _formula_scalars(key_node, prose)
            if not (isinstance(key_node, yaml.ScalarNode) and key_node.value in prose):
                yield from _formula_scalars(value_node, prose)


KNOWN_KEYS = {"tensorcalc", "title", "source", "layout", "dims", "functions", "tensors", "forward", "loss", "claims", "check", "symbols", "notes", "parameters"}


def _build(path: str, top: dict, root: yaml.Node, source: str) -> Spec:
    for key, (key_node, _v) in top.items():
        if key not in KNOWN_KEYS:
            raise TensorcalcError(f"unknown key {key!r}{did_you_mean(key, KNOWN_KEYS)}", yaml_pos(path, key_node))
    if "tensorcalc" not in top:
        raise TensorcalcError("missing key 'tensorcalc' (the format version, 1)", yaml_pos(path, root))
    _check_identifiers(path, top, source)
    version = _scalar(path, top["tensorcalc"][1], "tensorcalc")
    if version.text.strip() != "1":
        raise TensorcalcError(f"unsupported format version {version.text!r}; this tensorcalc reads version 1", version.pos)
    layout = "numerator"
    if "layout" in top:
        layout_text = _scalar(path, top["layout"][1], "layout")
        if layout_text.text not in LAYOUTS:
            raise TensorcalcError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout_text.text!r}", layout_text.pos)
        layout = layout_text.text
    for required in ("tensors", "forward"):
        if required not in top:
            raise TensorcalcError(f"missing key {required!r}", Pos(path, 1, 1))
    tensors = _text_map(path, top.get("tensors"), "tensors", source)
    forward = _text_map(path, top.get("forward"), "forward", source)
    if not forward:
        raise TensorcalcError("'forward' defines nothing", yaml_pos(path, top["forward"][1]))
    optional = {k: _scalar(path, top[k][1], k).text for k in ("title", "source") if k in top}
    return Spec(
        path=path,
        title=optional.get("title"),
        source=optional.get("source"),
        layout=layout,
        dims=_dims(path, top.get("dims")),
        functions=_text_map(path, top.get("functions"), "functions"),
        tensors=tensors,
        forward=forward,
        loss=_scalar(path, top["loss"][1], "loss") if "loss" in top else None,
        claims=_claims(path, top.get("claims"), source),
        check=_check(path, top.get("check")),
        parameters=_parameters(path, top.get("parameters"), tensors),
    )


def _parameters(path: str, entry, tensors: dict[str, Text]) -> tuple[Text, ...] | None:
    """``parameters: [W1, b1]`` or ``[W[l], b[l]]``: tensors declared under ``tensors``."""
    if entry is None:
        return None
    node = entry[1]
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    names = tuple(_scalar(path, item, "parameters").text.strip() for item in items)
    declared = {key.split()[0] for key in tensors}
    for item, name in zip(items, names):
        if name not in declared:
            raise TensorcalcError(f"parameters: {name!r} is not declared under 'tensors'{did_you_mean(name, declared)}",
                                  yaml_pos(path, item))
    return tuple(Text(name, yaml_pos(path, item)) for item, name in zip(items, names))
