"""Each relation of a note's math block is its own claim: own index, own line, parsed by the frontend."""
from __future__ import annotations

import dataclasses

from tensorcalc.document import ClaimSpec, Spec
from tensorcalc.frontends import load_spec


def test_each_relation_has_its_own_index_and_line(root):
    for note in ("notes/backprop.md", "notes/shallow.tex"):
        claims = load_spec(str(root / note)).claims
        assert [c.index for c in claims] == list(range(len(claims))), note
        lines = [c.text.pos.line for c in claims]
        assert len(set(lines)) == len(lines), f"{note}: claims share a line: {lines}"


def test_rows_of_one_block_are_separate_claims(root):
    claims = load_spec(str(root / "notes/backprop.md")).claims
    block = [c for c in claims if 62 <= c.text.pos.line <= 65]
    assert [c.text.pos.line for c in block] == [62, 63, 64, 65]
    assert all(c.parsed is not None for c in block)


def test_the_document_holds_no_yaml_nodes(root):
    import yaml

    spec = load_spec(str(root / "notes/shallow.tex"))
    fields = [getattr(spec, f.name) for f in dataclasses.fields(Spec)]
    fields += [getattr(c, f.name) for c in spec.claims for f in dataclasses.fields(ClaimSpec)]
    assert not any(isinstance(value, yaml.Node) for value in fields)
    assert not hasattr(spec, "extra")
