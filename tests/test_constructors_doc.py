"""The format documentation names every constructor the language has, with its sizes."""
from pathlib import Path

from tensorcalc.core.names import CONSTRUCTORS

DOC = Path(__file__).resolve().parent.parent / "docs" / "derivation-format.md"


def test_every_constructor_is_documented_with_one_and_two_sizes():
    text = DOC.read_text(encoding="utf-8")
    for name in CONSTRUCTORS:
        assert f"`{name}(n)`" in text, name
        if name not in ("I", "eye"):  # the identity takes one size
            assert f"`{name}(m, n)`" in text, name
