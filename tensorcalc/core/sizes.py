"""Concrete sizes to check at: the file's sizes, plus draws where a dimension is free.

A size set maps dimension names (``d``, ``L``, ``n[2]``) to integers. Every list
value is checked; ranges are drawn (seeded), once freely and once with all free
dimensions distinct where the ranges allow (equal sizes hide transposes).
"""
from __future__ import annotations

import itertools
import random

from ..document import DimSpec
from .limits import MAX_SIZE_CASES

FAMILY_SPAN = 2  # family dims n[l] are drawn for l in 0..L+FAMILY_SPAN-1


def _family_base(name: str) -> str | None:
    return name[: name.index("[")] if name.endswith("]") and "[" in name else None


def size_sets(dims: dict[str, DimSpec], seed: int, max_sets: int = MAX_SIZE_CASES) -> list[dict[str, int]]:
    """At most ``max_sets`` size sets; every combination of the listed sizes is among them
    (spec.py caps their number), the draws with distinct sizes fill the rest."""
    plain = {n: d for n, d in dims.items() if _family_base(n) is None}
    families = {_family_base(n): d for n, d in dims.items() if _family_base(n) is not None}
    listed = [n for n, d in plain.items() if not d.is_range and len(d.sizes) > 1]
    free = [n for n, d in plain.items() if d.is_range] + [f"{b}[]" for b in families]
    sets = []  # (sizes, a listed combination that must be checked)
    for combo in itertools.product(*(plain[n].sizes for n in listed)):
        base = {n: d.sizes[0] for n, d in plain.items() if not d.is_range}
        base.update(zip(listed, combo))
        rng = random.Random(f"{seed}:{sorted(base.items())}")
        sets.append((_draw(plain, families, base, rng, distinct=False), True))
        if free:
            sets.append((_draw(plain, families, base, rng, distinct=True), False))
    unique = []
    for s, required in sets:
        if all(s != u for u, _r in unique):
            unique.append((s, required))
    while len(unique) > max_sets and not all(r for _u, r in unique):
        unique.pop(max(i for i, (_u, r) in enumerate(unique) if not r))
    return [s for s, _r in unique]


def _draw(plain, families, base, rng, distinct: bool) -> dict[str, int]:
    depth = base.get("L", 0)
    best = None
    for _attempt in range(60 if distinct else 1):
        sizes = dict(base)
        for name, d in plain.items():
            if d.is_range:
                sizes[name] = rng.randint(d.low, d.high)
        for fam, d in families.items():
            for i in range(0, depth + FAMILY_SPAN):
                sizes[f"{fam}[{i}]"] = d.sizes[min(i, len(d.sizes) - 1)] if not d.is_range else rng.randint(d.low, d.high)
        if not distinct:
            return sizes
        drawn = [v for k, v in sizes.items() if k not in base]
        score = len(set(drawn)) + len({v for v in drawn if v > 1})
        if best is None or score > best[0]:
            best = (score, sizes)
    return best[1]
