"""``benchmarks/run.py --quick`` is a smoke test: it never overwrites the committed results."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run_module():
    spec = importlib.util.spec_from_file_location("benchmark_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_writes_nothing_unless_asked(tmp_path):
    run = _run_module()
    assert run.output_folder(None, quick=True) is None
    assert run.output_folder(None, quick=False) == ROOT / "benchmarks"
    assert run.output_folder(str(tmp_path), quick=True) == tmp_path
