"""The textbook corpus (``derivations/textbook``; ``tests/corpus/textbook/INDEX.md`` lists where
each file came from): every file is valid and every verdict as its claim expects, so no claim
labelled ``expect: fails`` holds and nothing crashes."""
from __future__ import annotations

from pathlib import Path

import pytest

from tensorcalc.verdicts.check import check_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_textbook_derivations_all_as_expected():
    """The files under ``derivations/textbook`` get every expected verdict (CI needs exit 0)."""
    paths = sorted((ROOT / "derivations" / "textbook").glob("*.yaml"))
    assert paths
    for path in paths:
        result = check_file(str(path))
        assert result.error is None, str(result.error)
        assert all(c.verdict == ("holds" if c.expected != "fails" else "fails") for c in result.claims), path.name
