"""Caps on what a file may ask for, checked where a count is known and before anything is allocated.

Every cap follows from the largest size a dimension may have (``MAX_DIM``): a loop
covers every layer of the deepest network, a value holds a 4-tensor at the largest
sizes (a matrix differentiated by a matrix). The error says which cap and what to do.
"""
from __future__ import annotations

import math

from ..errors import Pos, TensorcalcError

MAX_DIM = 64  # largest size of one dimension (and so the deepest network, L)
MAX_LOOP_VALUES = 2 * MAX_DIM  # values of one `for l in a..b` / `sum(... for i in a..b)`: room for 0..L+1 at L = 64
MAX_SIZE_CASES = 16  # combinations of the size lists under `dims`, each checked
MAX_ENTRIES = MAX_DIM**4  # entries of one value (tensor, definition, derivative, side of a claim)
MAX_INDEX_VALUES = MAX_DIM**3  # assignments of the indices of an index claim (free and summed)
MAX_EXPANSION = 200_000  # nodes of one expression once sums, products and helpers are unrolled


def loop_values(index: str, lo: int, hi: int, pos: Pos | None) -> range:
    """The values ``lo..hi`` of a loop, refused when there are more than ``MAX_LOOP_VALUES``."""
    count = max(0, hi - lo + 1)
    if count > MAX_LOOP_VALUES:
        raise TensorcalcError(
            f"a loop runs over at most {MAX_LOOP_VALUES} values; '{index} in {lo}..{hi}' has {count} "
            f"(sizes and depths are at most {MAX_DIM}: check a few small cases instead)",
            pos,
        )
    return range(lo, hi + 1)


def check_entries(shape: tuple[int, ...], what, pos: Pos | None) -> None:
    """Refuse a value with more than ``MAX_ENTRIES`` entries before it is allocated
    (``what`` names it: a string, or a function giving one, called only for the message)."""
    entries = math.prod(shape)
    if entries > MAX_ENTRIES:
        dims = "×".join(map(str, shape))
        what = what() if callable(what) else what
        raise TensorcalcError(
            f"{what} would have {dims} = {entries} entries; a value has at most {MAX_ENTRIES} ({MAX_DIM}^4): use smaller sizes",
            pos,
        )


def check_index_values(ranges: dict[str, int], pos: Pos | None) -> None:
    """Refuse an index claim whose indices take more than ``MAX_INDEX_VALUES`` combinations of values."""
    count = math.prod(ranges.values())
    if count > MAX_INDEX_VALUES:
        names = ", ".join(f"{n} in 1..{r}" for n, r in sorted(ranges.items()))
        raise TensorcalcError(
            f"an index claim is checked for at most {MAX_INDEX_VALUES} combinations of index values; "
            f"this one has {count} ({names}): use fewer indices or smaller sizes",
            pos,
        )


def check_size_cases(count: int, pos: Pos) -> None:
    """Refuse size lists under ``dims`` whose combinations are more than ``MAX_SIZE_CASES``."""
    if count > MAX_SIZE_CASES:
        raise TensorcalcError(
            f"the size lists under 'dims' give {count} combinations; at most {MAX_SIZE_CASES} are checked "
            "(every combination is): shorten the lists or give a range such as 2..5, drawn at random",
            pos,
        )


def check_family_widths(count: int, pos: Pos) -> None:
    """Refuse a list of layer widths (``n[l]: [...]``) longer than any loop over layers."""
    if count > MAX_LOOP_VALUES:
        raise TensorcalcError(f"a layer family lists at most {MAX_LOOP_VALUES} widths, one per layer; this one has {count}", pos)


class Expansion:
    """A budget of nodes for unrolling one expression (shared by the nested resolutions);
    an overrun is reported at the start of the expression, where the user wrote it."""

    def __init__(self, limit: int = MAX_EXPANSION):
        self.left = limit
        self.root: Pos | None = None

    def spend(self, pos: Pos | None) -> None:
        if self.root is None:
            self.root = pos
        self.left -= 1
        if self.left < 0:
            raise TensorcalcError(
                f"this expression grows beyond {MAX_EXPANSION} terms once its sums, products and helpers are "
                "unrolled: use smaller ranges or fewer nested helpers",
                self.root,
            )
