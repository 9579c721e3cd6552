"""The mutation-testing script: all mutants of the shallow network's true claims die,
the wrong variants keep their verdicts, and an obviously weak checker is caught."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("mutation_script", ROOT / "scripts" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_mutant_of_shallow_dies(capsys):
    script = _script()
    tally = script.Tally()
    for name in ("shallow.yaml", "shallow_wrong.yaml"):
        script.run_file(str(ROOT / "derivations" / name), tally, max_per_claim=100, trials=2, out=None)
    assert not tally.false_verdicts
    assert tally.survivors == []
    assert tally.tested >= 40 and tally.killed_oracles >= 15 and tally.killed_type >= 15
    assert tally.kill_rate == 1.0


def test_a_blind_checker_lets_mutants_survive(monkeypatch):
    """If the checker said 'holds' to everything, the script would report survivors."""
    script = _script()
    real = script.check_claim

    def blind(prepared, models, claim, limit, explain=True):
        result = real(prepared, models, claim, limit, explain)
        for inst in result.instances:
            inst.verdict = "holds"
        return result

    monkeypatch.setattr(script, "check_claim", blind)
    tally = script.Tally()
    script.run_file(str(ROOT / "derivations" / "shallow.yaml"), tally, max_per_claim=100, trials=1, out=None)
    assert tally.survivors and tally.kill_rate < 1.0


def test_files_checked_in_two_workers_add_up_and_print_in_order():
    """``--jobs 2``: each file in its own worker; the tallies add up and files print in the given order."""
    import subprocess

    files = [str(ROOT / "derivations" / n) for n in ("shallow.yaml", "shallow_wrong.yaml")]
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "mutation.py"), *files, "--trials", "2", "--jobs", "2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line for line in lines if line.endswith(".yaml")] == files
    summary = lines[-1]
    assert summary.startswith("mutation testing: 2 files,") and "0 survived — kill rate 100.0%" in summary
