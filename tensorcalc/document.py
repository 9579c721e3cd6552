"""What a derivation says, whatever it was written in: declarations, forward pass, claims,
each text with the position it came from. Frontends build a ``Spec``; the core reads it.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import Pos

LAYOUTS = ("numerator", "denominator", "mixed")


@dataclass(frozen=True)
class Text:
    """A string from the file and where it starts."""

    text: str
    pos: Pos


@dataclass(frozen=True)
class DimSpec:
    """A dimension: fixed size, list of sizes (each checked), or a range drawn at random."""

    name: str
    sizes: tuple[int, ...] = ()
    low: int | None = None
    high: int | None = None
    pos: Pos = Pos()

    @property
    def is_range(self) -> bool:
        return self.low is not None


@dataclass(frozen=True)
class ClaimSpec:
    index: int
    text: Text
    name: str | None = None
    expect: str = "holds"
    note_line: int | None = None
    latex: str | None = None
    parsed: object | None = None  # a LaTeX claim read by its frontend: the raw claim tree (frontends.parse.ParsedClaim)


@dataclass(frozen=True)
class CheckSettings:
    seed: int = 0
    trials: int = 5
    rtol: float = 1e-9
    exact_points: int = 2
    timeout: float = 120.0


@dataclass
class Spec:
    path: str
    title: str | None
    source: str | None
    layout: str
    dims: dict[str, DimSpec]
    functions: dict[str, Text]
    tensors: dict[str, Text]
    forward: dict[str, Text]
    loss: Text | None
    claims: list[ClaimSpec]
    check: CheckSettings
    parameters: tuple[Text, ...] | None = None  # the tensors a gradient is taken of; None: every tensor
