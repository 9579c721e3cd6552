"""Proofs computed ahead in a second process (verdicts/ahead.py): the same results as without
it, whether the prover answers, dies, hangs or is behind; it never outlives its parent."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tensorcalc.verdicts import ahead
from tensorcalc.verdicts.check import check_file

ROOT = Path(__file__).resolve().parents[1]

# Run in a fresh interpreter: the prover is forked only where jax is not imported yet.
# argv: path, mode. Prints the results (timings left out) as JSON, then whether a prover ran.
CHECK_SCRIPT = r"""
import dataclasses, json, os, sys, time
from tensorcalc.verdicts import ahead
from tensorcalc.verdicts.check import check_file

path, mode = sys.argv[1], sys.argv[2]
used = []
real_start = ahead.start_prover

def start(*args):
    prover = real_start(*args)
    used.append(prover is not None)
    return prover

def dies(models, claim):
    os._exit(3)
    yield

def hangs(models, claim):
    time.sleep(1000)
    yield

def half(models, claim):  # every other claim unknown: the worker computes those in place
    if claim.index % 2:
        yield from ()
    else:
        yield from real_parts(models, claim)

def marked(models, claim):  # shows that what the prover sends is what the worker uses
    yield "all_sizes", {"value": [False, "marked"]}

real_parts = ahead.first_case_parts
ahead.first_case_parts = {"dies": dies, "hangs": hangs, "half": half, "marked": marked}.get(mode, real_parts)
ahead.WAIT_SECONDS = 0.5
result = check_file(path, prover=None if mode == "none" else start)

def plain(value):
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value

claims = [plain(dataclasses.asdict(c)) | {"how": c.how, "proof": c.proof} for c in result.claims]
print(json.dumps({"error": str(result.error), "claims": claims}, default=str))
print(json.dumps(used))
try:
    os.waitpid(-1, os.WNOHANG)
    print("child left")
except ChildProcessError:
    print("no child")
"""


def run_check(path: str, mode: str) -> tuple[dict, list, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", CHECK_SCRIPT, path, mode], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    results, used, children = done.stdout.splitlines()[-3:]
    return json.loads(results), json.loads(used), children


@pytest.fixture(scope="module")
def shallow_alone():
    return run_check("derivations/shallow.yaml", "none")


@pytest.mark.parametrize("mode", ["ahead", "dies", "hangs", "half"])
def test_same_results_whatever_the_prover_does(shallow_alone, mode):
    results, used, children = run_check("derivations/shallow.yaml", mode)
    assert used == [True] and children == "no child"
    assert results == shallow_alone[0]
    assert all(c["proof"] == "all sizes" for c in results["claims"]), results  # the proofs were not lost


def test_the_worker_uses_what_the_prover_sends():
    results, used, _children = run_check("derivations/shallow.yaml", "marked")
    assert used == [True]
    assert [i["outside"] for c in results["claims"] for i in c["instances"]] == ["marked"] * 8


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "derivations").glob("*.yaml")))
def test_same_results_on_every_derivation(path):
    """The files of derivations/ (the seeds and the shapes of every feature; derivations/textbook/
    repeats them at length and would double the time of this test)."""
    assert run_check(path, "ahead")[0] == run_check(path, "none")[0]


@pytest.mark.slow
def test_failing_claims_keep_their_verdicts_and_explanations():
    assert run_check("derivations/shallow_wrong.yaml", "ahead")[0] == run_check("derivations/shallow_wrong.yaml", "none")[0]


def test_no_prover_where_jax_lives_here():
    import jax  # noqa: F401

    result = check_file("derivations/shallow.yaml", prover=ahead.start_prover)
    assert result.error is None
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


DIES_WITH_PARENT = r"""
import os, sys, time
from tensorcalc.core.model import Model, Prepared
from tensorcalc.core.sizes import size_sets
from tensorcalc.frontends import load_spec
from tensorcalc.verdicts import ahead

def hangs(models, claim):
    time.sleep(1000)
    yield

ahead.first_case_parts = hangs
spec = load_spec("derivations/shallow.yaml")
prepared = Prepared(spec)
prover = ahead.start_prover(prepared, [Model(prepared, s) for s in size_sets(spec.dims, 0)], 0)
print(prover.pid, flush=True)
while prover.current is None:
    prover._read(1.0)
os._exit(0)  # no clean-up: the kernel must end the prover
"""


def test_prover_dies_with_its_parent():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", DIES_WITH_PARENT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    pid = int(done.stdout.split()[0])
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_host_signal_handlers_untouched():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM, signal.SIGHUP)}
    check_file("derivations/shallow.yaml", prover=ahead.start_prover)
    assert {s: signal.getsignal(s) for s in before} == before
