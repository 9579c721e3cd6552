"""Fault injection: singular points, huge exact numbers, crashes inside a claim or a file,
lost alarms, stuck and dying workers, signals to the checker. Never a traceback, nothing
lost, and no worker outlives the checker."""
from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tensorcalc.cli import main
from tensorcalc.core.functions import _iroot
from tensorcalc.errors import InternalError
from tensorcalc.verdicts import check as C
from tensorcalc.verdicts.check import check_file

ROOT = Path(__file__).resolve().parents[1]
SHALLOW = (ROOT / "derivations" / "shallow.yaml").read_text(encoding="utf-8")


def shallow(tmp_path, old: str, new: str, name: str = "variant.yaml") -> str:
    assert old in SHALLOW
    path = tmp_path / name
    path.write_text(SHALLOW.replace(old, new), encoding="utf-8")
    return str(path)


def write(tmp_path, text: str, name: str = "t.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------- singular points


@pytest.mark.parametrize("old, new", [
    ("loss: 1/2 norm(r)^2", "loss: norm(r)^2/(norm(r)-norm(r))"),
    ("s: sigma(z)", "s: log(-1 - exp(z))"),
    ("s: sigma(z)", "s: log(0 * z + 0 * exp(z))"),
])
def test_every_singular_exact_point_is_inconclusive(tmp_path, old, new):
    result = check_file(shallow(tmp_path, old, new))
    assert result.error is None
    checked = [c for c in result.claims if c.kind != "helper"]
    assert len(checked) == 8
    for claim in checked:
        assert claim.verdict == "error"
        assert "inconclusive: the forward pass is undefined at every random exact point" in claim.reason


def test_singular_only_at_size_one_still_fails_with_a_diagnosis(tmp_path):
    """The diagnosis tries all sizes 1, where this determinant written out (and 1/dt) is 0."""
    path = write(tmp_path, """\
        tensorcalc: 1
        dims: {n: 2}
        tensors:
          X: matrix(n, n)
        forward:
          dt: X[1,1] X[n,n] - X[1,n] X[n,1]
          f: 1/dt
        claims:
          - f = dt
          - f = 1/dt
        """)
    wrong, right = check_file(path).claims
    assert (wrong.verdict, right.verdict) == ("fails", "holds")


@pytest.mark.parametrize("text, where", [
    ("tensorcalc: 1\ndims: {n: 3}\ntensors:\n  x: vector(n)\nforward:\n  f: sum(x)\nclaims:\n  - f = 1/0\n", "8:11"),
    ("tensorcalc: 1\ndims: {n: 3}\ntensors:\n  x: vector(n)\nforward:\n  f: 1/0 sum(x)\nclaims:\n  - f = sum(x)\n", "6:8"),
    ("tensorcalc: 1\ndims: {n: 3}\nfunctions: {g: t -> t/(1/0)}\ntensors:\n  x: vector(n)\nforward:\n  f: sum(g(x))\nclaims:\n  - f = sum(x)\n",
     "3:26"),
])
def test_literal_zero_denominator_is_invalid_input(tmp_path, capsys, text, where):
    path = write(tmp_path, text)
    assert main(["check", path]) == 2
    out = capsys.readouterr().out
    assert f"{path}:{where}: division by zero" in out
    assert "Traceback" not in out


def test_literal_zero_denominator_in_a_note(tmp_path, capsys):
    note = (ROOT / "notes" / "backprop.md").read_text(encoding="utf-8")
    assert r"f = \frac 1m \Vert" in note
    path = tmp_path / "note.md"
    path.write_text(note.replace(r"f = \frac 1m \Vert", r"f = \frac{1}{0} \Vert", 1), encoding="utf-8")
    assert main(["check", str(path)]) == 2
    assert "division by zero" in capsys.readouterr().out


def test_norm_squared_of_zero_has_a_derivative(tmp_path):
    path = write(tmp_path, """\
        tensorcalc: 1
        dims: {n: 3}
        tensors:
          x: vector(n)
        forward:
          f: norm(x - x)^2 + sum(x)
        claims:
          - d f / d x = ones(n)^T
          - d f / d x = 2 ones(n)^T
        """)
    right, wrong = check_file(path).claims
    assert right.verdict == "holds"
    assert wrong.verdict == "fails"


# ---------------------------------------------------------------- huge exact numbers


def test_integer_roots_of_numbers_beyond_the_float_range():
    big = 3**4000 + 7
    assert _iroot(big**2, 2) == big
    assert _iroot(big**3, 3) == big
    assert _iroot(big**5 + 1, 5) is None
    assert [_iroot(n, 3) for n in (0, 1, 8, 9, 27)] == [0, 1, 2, None, 3]


@pytest.mark.parametrize("dims", ["{d: 3, h: 24, n: 2}", "{d: 3, h: 64, n: 2}"])
def test_wide_layer_holds(tmp_path, dims):
    result = check_file(shallow(tmp_path, "{d: 3, h: 4, n: 2}", dims))
    assert [c.verdict for c in result.claims] == ["holds"] * 8


@pytest.mark.slow
def test_forty_wide_network_holds_and_derives(tmp_path, capsys):
    path = shallow(tmp_path, "{d: 3, h: 4, n: 2}", "{d: 40, h: 40, n: 40}")
    assert [c.verdict for c in check_file(path).claims] == ["holds"] * 8
    assert main(["derive", path]) == 0


# ---------------------------------------------------------------- crashes become verdicts


def test_exception_inside_a_claim_is_that_claims_internal_error(monkeypatch):
    from tensorcalc.oracles import evaluate

    def broken(ev, e):
        raise RuntimeError("boom")

    monkeypatch.setitem(evaluate.EVAL, "otimes", broken)  # only the first claim has a ⊗
    claims = check_file(str(ROOT / "derivations" / "shallow.yaml")).claims
    assert [c.verdict for c in claims] == ["error"] + ["holds"] * 7
    assert "internal error: RuntimeError: boom (at tensorcalc/oracles/evaluate.py:" in claims[0].reason
    assert "Traceback" not in claims[0].reason


def test_exception_while_reading_a_file_is_its_internal_error(monkeypatch):
    import tensorcalc.verdicts.check as check_module

    def broken(spec):
        raise KeyError("lost")

    monkeypatch.setattr(check_module, "Prepared", broken)
    result = check_file(str(ROOT / "derivations" / "shallow.yaml"))
    assert isinstance(result.error, InternalError)
    assert "internal error: KeyError" in result.error.message


def test_internal_file_error_is_inconclusive_in_every_format():
    from tensorcalc.errors import Pos
    from tensorcalc.outputs import report
    from tensorcalc.verdicts.results import FileResult

    bad = FileResult("bad.yaml", error=InternalError("internal error: KeyError", Pos("bad.yaml", 1, 1)))
    assert report.summary([bad])["error"] == 1 and report.summary([bad])["invalid_files"] == 0
    assert report.file_status(bad) == "INCONCLUSIVE"
    assert 'type="internal error"' in report.to_junit([bad])
    assert "tensorcalc%3A inconclusive" in report.github_annotations([bad])


# ---------------------------------------------------------------- the in-process timer


def test_alarm_swallowed_in_a_gc_callback_rings_again(capfd):
    def slow_callback(phase, _info):
        if phase == "start":  # the alarm rings here, where Python ignores exceptions
            end = time.perf_counter() + 0.5
            while time.perf_counter() < end:
                pass

    gc.callbacks.append(slow_callback)
    start = time.perf_counter()
    try:
        with pytest.raises(C.OutOfTime):
            with C.wall_clock(0.1):
                gc.collect()
                while time.perf_counter() - start < 5:
                    pass
    finally:
        gc.callbacks.remove(slow_callback)
    assert time.perf_counter() - start < 2
    assert "Exception ignored" not in capfd.readouterr().err


def test_no_alarm_after_the_block():
    with C.wall_clock(0.05):
        pass
    time.sleep(0.4)  # an alarm still armed would end this test with OutOfTime
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_nested_limit_lets_the_enclosing_alarm_through():
    """A proof's own limit (long) inside a claim's limit (short): the alarm that rings is the
    claim's, so the proof's handler must not swallow it (a claim then ran past its time limit
    and was reported "holds" instead of "timeout")."""
    outer = C.wall_clock(0.05)
    inner = C.wall_clock(30)
    with pytest.raises(C.OutOfTime) as caught:
        with outer:
            with inner:
                while True:
                    pass
    assert not caught.value.mine(inner)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_nested_limit_that_ends_first_is_its_own():
    outer = C.wall_clock(30)
    inner = C.wall_clock(0.05)
    with outer:
        with pytest.raises(C.OutOfTime) as caught:
            with inner:
                while True:
                    pass
        assert caught.value.mine(inner)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


# ---------------------------------------------------------------- workers (subprocesses)

# Runs the command line with a fault planted in the checking code; workers are forked, so
# they inherit it. FAULT is Python code run before main.
RUNNER = """
import os, sys, time
from contextlib import nullcontext
import tensorcalc.verdicts.check as C
import tensorcalc.verdicts.workers as W
real_instance = C.check_instance
{fault}
from tensorcalc.cli import main
sys.exit(main(sys.argv[1:]))
"""

STUCK = """
W.grace = lambda limit: 0.5
C.wall_clock = lambda seconds: nullcontext()  # the in-process alarm is lost
def check_instance(prepared, model, claim, *args, **kwargs):
    if claim.index == 1:
        time.sleep(600)
    if claim.index == 3:
        os._exit(9)
    return real_instance(prepared, model, claim, *args, **kwargs)
C.check_instance = check_instance
"""


def run_with_fault(fault: str, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", RUNNER.format(fault=fault), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def stuck_and_dying(tmp_path, jobs: str) -> list:
    import json

    copy = tmp_path / "copy.yaml"
    copy.write_text(SHALLOW, encoding="utf-8")
    run = run_with_fault(STUCK, ["check", "derivations/shallow.yaml", str(copy), "--time-limit", "12", "--format", "json", "--jobs", jobs])
    assert run.returncode == 3, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    return [[(c["verdict"], c["reason"]) for c in f["claims"]] for f in json.loads(run.stdout)["files"]]


@pytest.mark.slow
def test_stuck_and_dying_claims_are_recorded_and_the_rest_checked(tmp_path):
    start = time.monotonic()
    files = stuck_and_dying(tmp_path, "2")
    assert time.monotonic() - start < 120
    assert [[verdict for verdict, _reason in f] for f in files] == [["holds", "timeout", "holds", "error"] + ["holds"] * 4] * 2
    assert files[0][1][1] == "gave up after 12 s (stopped from outside)"
    assert files[0][3][1] == "internal error: the worker process checking it stopped (exit code 9)"


@pytest.mark.slow
def test_stuck_and_dying_claims_same_with_one_or_two_workers(tmp_path):
    assert stuck_and_dying(tmp_path, "1") == stuck_and_dying(tmp_path, "2")


def test_crash_while_reading_one_file_keeps_the_others(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SHALLOW, encoding="utf-8")
    fault = """
import tensorcalc.core.model as M
real_init = M.Prepared.__init__
def init(self, spec):
    if spec.path.endswith("bad.yaml"):
        raise RuntimeError("broken")
    real_init(self, spec)
M.Prepared.__init__ = init
"""
    out = tmp_path / "j.xml"
    run = run_with_fault(fault, ["check", str(bad), "derivations/shallow.yaml", "derivations/shallow_wrong.yaml",
                                 "--jobs", "2", "--format", "junit", "-o", str(out)])
    assert run.returncode == 3, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    suites = ET.parse(out).getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == [str(bad), "derivations/shallow.yaml", "derivations/shallow_wrong.yaml"]
    (error,) = suites[0].iter("error")
    assert error.get("type") == "internal error" and "RuntimeError: broken" in error.get("message")
    assert suites[1].get("tests") == "8" and suites[2].get("failures") == "0"
    assert "total" in run.stdout  # the summary table


# ---------------------------------------------------------------- signals


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(p) for p in (task / "children").read_text().split()}
        except OSError:
            pass
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _start_checking() -> tuple[subprocess.Popen, set[int]]:
    proc = subprocess.Popen([sys.executable, "-m", "tensorcalc", "check", "derivations/", "--jobs", "2"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = _children(proc.pid)
    assert len(workers) == 2
    return proc, workers


def _gone_soon(pids: set[int], seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(_alive(p) for p in pids)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and PR_SET_PDEATHSIG")
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_workers_die_with_the_checker(signum):
    proc, workers = _start_checking()
    try:
        proc.send_signal(signum)
        proc.wait(10)
        assert _gone_soon(workers)
        assert b"Traceback" not in proc.stderr.read()
    finally:
        proc.kill()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_output_into_head_ends_at_once():
    start = time.monotonic()
    run = subprocess.run(f"{sys.executable} -m tensorcalc check derivations/ | head -1", shell=True, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert time.monotonic() - start < 20
    assert len(run.stdout.splitlines()) == 1
    assert "Traceback" not in run.stderr and "Exception" not in run.stderr


def test_a_script_without_a_main_guard_can_check_after_importing_jax(tmp_path):
    """Workers of a process that already loaded jax are new interpreters that do not import
    the caller's script again (multiprocessing's spawn would, and fail in every worker)."""
    script = tmp_path / "script.py"
    script.write_text(
        "import jax\n"
        "from tensorcalc.verdicts.workers import check_paths\n"
        "results = check_paths(['derivations/shallow.yaml'])\n"
        "print([c.verdict for c in results[0].claims])\n",
        encoding="utf-8",
    )
    run = subprocess.run([sys.executable, str(script)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert run.stdout.strip() == str(["holds"] * 8)


@pytest.mark.parametrize("command", [["derive", "derivations/shallow.yaml"], ["latex", "derivations/shallow.yaml"]])
def test_output_read_by_a_reader_that_stops_is_no_internal_error(command):
    """``tensorcalc derive … | head -1``: a closed pipe ends the run quietly."""
    root = Path(__file__).resolve().parent.parent
    run = subprocess.Popen([sys.executable, "-m", "tensorcalc", *command], cwd=root, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    run.stdout.close()  # the reader stops before anything is written
    err = run.stderr.read().decode()
    run.wait(timeout=300)
    assert "internal error" not in err and "Traceback" not in err, err
