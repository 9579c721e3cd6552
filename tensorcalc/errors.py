"""One error type for everything a user can get wrong, carrying file:line:column."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pos:
    """A place in a derivation file (1-based line and column)."""

    file: str = "<input>"
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class TensorcalcError(Exception):
    """A problem with the user's input; the CLI turns it into one line and exit code 2."""

    def __init__(self, message: str, pos: Pos | None = None):
        super().__init__(message)
        self.message = message
        self.pos = pos

    def at(self, pos: Pos | None) -> "TensorcalcError":
        """Attach a position if none is known yet (context is added on the way out)."""
        if self.pos is None and pos is not None:
            self.pos = pos
        return self

    def __str__(self) -> str:
        return f"{self.pos}: {self.message}" if self.pos else self.message


class ShapeError(TensorcalcError):
    """Operands whose shapes do not fit the operation."""


class Inconclusive(Exception):
    """The oracles cannot decide a claim (every random point is singular, say): the claim
    is reported inconclusive (exit code 3), never as holding or failing."""


class InternalError(TensorcalcError):
    """A failure inside tensorcalc, not in the input: reported as inconclusive (exit code 3)."""


class SingularMatrix(ZeroDivisionError):
    """The exact inverse of a matrix whose determinant is 0."""


def arithmetic_reason(err: ArithmeticError | None) -> str:
    """Plain words for an exact-arithmetic failure."""
    if err is None:
        return "no point drawn"
    if isinstance(err, SingularMatrix):
        return "the inverse of a singular matrix"
    if isinstance(err, ZeroDivisionError):
        return "division by zero"
    return str(err) or type(err).__name__

