"""Files checked in worker processes that the parent watches.

A worker checks one file at a time and tells the parent when each claim starts and what
its result is. The in-process timer of ``timer.wall_clock`` normally ends a slow claim;
when a claim runs on past its limit plus ``grace(limit)`` anyway (stuck in C code, or an
alarm lost), the parent kills the worker, records the claim as ``timeout`` and starts a
new worker for the rest of the file. A worker that dies gets its current claim recorded
as an internal error, and the rest of the file is checked by a new one.

Workers never outlive the parent: on Linux the kernel kills them when it dies
(``PR_SET_PDEATHSIG``), and the parent kills them when it stops in any other way.
Results reach the caller in the order of the paths, claim by claim.
"""
from __future__ import annotations

import os
import signal
import stat
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing import connection

from ..document import CheckSettings
from ..errors import InternalError, Pos
from .ahead import start_prover
from .check import check_file
from .lifetime import die_with_parent, shared_heap
from .results import ClaimResult, FileResult, Instance

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
WAKE_SECONDS = 0.5  # the parent looks at least this often whether it was asked to stop
LOADING_SECONDS = CheckSettings().timeout  # reading a file and building its models, before the first claim


def grace(limit: float) -> float:
    """Seconds a claim may run past its limit before its worker is killed."""
    return max(5.0, 0.2 * limit)


# ---------------------------------------------------------------- the worker side


def _serve(conn, parent: int) -> None:
    """Worker main loop: (path, time_limit, skip) in, messages out, until told to stop."""
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked by the parent while it forked
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # results go through the pipe; stdout stays the parent's alone
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            conn.send(("end", _check_one(conn, *task)))
        except Exception:  # the parent is gone or a result cannot be sent: the parent sees the exit
            os._exit(70)


def _check_one(conn, path: str, time_limit: float | None, skip: int) -> FileResult:
    def on_start(position, claim, limit):
        conn.send(("start", position, claim, limit))

    result = check_file(path, time_limit, on_claim=lambda claim: conn.send(("claim", claim)), on_start=on_start, skip=skip,
                        prover=start_prover)
    result.claims = []  # already sent one by one
    return result


# ---------------------------------------------------------------- the parent side


@dataclass
class _Job:
    """One file: its result so far, and where its worker is."""

    index: int
    path: str
    result: FileResult
    started: float
    skip: int = 0  # claims done (a new worker starts after them)
    current: tuple | None = None  # (position, unchecked claim, limit, deadline) of the running claim
    deadline: float = 0.0
    done: bool = False
    shown: int = 0  # claims already passed to on_claim
    pending: list[ClaimResult] = field(default_factory=list)


class _Worker:
    def __init__(self, context):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, os.getpid()), daemon=True)
        # a stop signal during the fork would be raised in an at-fork callback, where Python
        # drops it: hold such signals until the worker exists
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            with shared_heap():
                self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        child.close()
        self.job: _Job | None = None

    def give(self, job: _Job, time_limit: float | None) -> bool:
        """Start ``job`` here; False when this worker is gone."""
        job.current = None
        job.deadline = time.monotonic() + LOADING_SECONDS + grace(LOADING_SECONDS)
        try:
            self.conn.send((job.path, time_limit, job.skip))
        except (OSError, ValueError):
            return False
        self.job = job
        return True

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


def _context():
    """fork is cheapest, but not once jax (and its threads) lives in this process; then each
    worker is a new interpreter (``_Launched``), and this process stays its parent, which
    ``die_with_parent`` checks."""
    import multiprocessing

    return _LaunchContext() if "jax" in sys.modules or sys.platform != "linux" else multiprocessing.get_context("fork")


class _LaunchContext:
    """Workers as new interpreters talking over a socket pair. Unlike multiprocessing's
    spawn, the caller's main module is not imported again in the worker, so a script that
    calls ``check_paths`` at its top level (no ``if __name__ == "__main__"``) works too."""

    @staticmethod
    def Pipe():
        import multiprocessing

        return multiprocessing.Pipe()

    @staticmethod
    def Process(target, args, daemon=True):
        return _Launched(*args)


class _Launched:
    """The part of ``multiprocessing.Process`` the parent uses, for a worker started as
    ``python -m tensorcalc.verdicts.workers FD PARENT`` (``os.posix_spawn``: no shell, constant arguments)."""

    def __init__(self, child_conn, parent: int):
        self.child_conn, self.parent, self.pid, self.status = child_conn, parent, None, None

    def start(self) -> None:
        fd = self.child_conn.fileno()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        argv = [sys.executable, "-m", "tensorcalc.verdicts.workers", str(fd), str(self.parent)]
        os.set_inheritable(fd, True)
        try:
            self.pid = os.posix_spawn(sys.executable, argv, env, file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)])
        finally:
            os.set_inheritable(fd, False)

    def _poll(self, flags: int = os.WNOHANG) -> int | None:
        if self.status is None and self.pid is not None:
            pid, status = os.waitpid(self.pid, flags)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def is_alive(self) -> bool:
        return self.pid is not None and self._poll() is None

    def kill(self) -> None:
        if self.is_alive():
            os.kill(self.pid, signal.SIGKILL)

    def join(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while self.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)

    @property
    def exitcode(self) -> int | None:
        return self._poll()


def serve_fd(fd: int, parent: int) -> None:
    """Entry point of a ``_Launched`` worker: serve on the inherited socket ``fd``."""
    _serve(connection.Connection(fd), parent)


def check_paths(paths: list[str], time_limit: float | None = None, on_claim=None, on_file=None, jobs: int = 1) -> list[FileResult]:
    """Check files in worker processes, ``jobs`` at once . Results (and
    the ``on_claim``/``on_file`` calls) always come in the order of ``paths``, claim by claim."""
    return check_supervised(paths, time_limit, on_claim, on_file, max(1, min(jobs, len(paths))))


def check_supervised(paths: list[str], time_limit: float | None, on_claim, on_file, jobs: int) -> list[FileResult]:
    """Check ``paths`` in ``jobs`` workers; see the module docstring."""
    context = _context()
    files = [_Job(i, p, FileResult(p), 0.0) for i, p in enumerate(paths)]
    queue = list(files)
    workers: list[_Worker] = []
    order = {"next": 0}
    stop = _StopRequest()
    try:
        while order["next"] < len(paths):
            stop.check()
            while queue and len([w for w in workers if w.job]) < jobs:
                idle = next((w for w in workers if not w.job), None) or _spawn(context, workers)
                job = queue.pop(0)
                job.started = job.started or time.monotonic()
                if not idle.give(job, time_limit):
                    idle.kill()
                    workers.remove(idle)
                    queue.insert(0, job)
            busy = [w for w in workers if w.job]
            timeout = min(WAKE_SECONDS, max(0.0, min(w.job.deadline for w in busy) - time.monotonic()))
            ready = connection.wait([w.conn for w in busy] + _broken_stdout(), timeout)
            if any(not hasattr(r, "recv") for r in ready):
                raise BrokenPipeError("stdout closed")
            for worker in busy:
                if worker.conn in ready:
                    _receive(worker, workers, queue, time_limit)
                elif time.monotonic() > worker.job.deadline:
                    _give_up(worker, workers, queue)
            _report_in_order(files, order, on_claim, on_file)
    finally:
        for worker in workers:
            _stop(worker)
        stop.restore()
    return [job.result for job in files]


class _StopRequest:
    """SIGINT, SIGTERM and SIGHUP stop the check (and so the workers). The handler raises
    at once and remembers the signal: if the exception is dropped (raised inside a callback
    where Python ignores exceptions), ``check`` raises it again."""

    def __init__(self):
        self.signum: int | None = None
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.signal(s, self._ring) for s in STOP_SIGNALS}

    def _ring(self, signum, _frame):
        self.signum = signum
        self.check()

    def check(self) -> None:
        if self.signum == signal.SIGINT:
            raise KeyboardInterrupt
        if self.signum is not None:
            raise SystemExit(128 + self.signum)

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def _spawn(context, workers: list[_Worker]) -> _Worker:
    worker = _Worker(context)
    workers.append(worker)
    return worker


def _stop(worker: _Worker) -> None:
    """Ask an idle worker to leave, kill a busy one."""
    if worker.job is None and worker.process.is_alive():
        try:
            worker.conn.send(None)
            worker.process.join(1)
        except (OSError, ValueError):
            pass
    worker.kill()


def _receive(worker: _Worker, workers: list[_Worker], queue: list[_Job], time_limit) -> None:
    job = worker.job
    try:
        message = worker.conn.recv()
    except (EOFError, OSError):
        return _lost(worker, workers, queue, "the worker process checking it stopped")
    except Exception as err:  # a result that cannot be read back
        from .check import internal_error

        return _lost(worker, workers, queue, internal_error(err))
    kind = message[0]
    if kind == "start":
        _position, claim, limit = message[1:]
        job.current = message[1:]
        job.deadline = time.monotonic() + limit + grace(limit)
    elif kind == "claim":
        job.result.claims.append(message[1])
        job.skip += 1
        job.current = None
    else:  # "end"
        ended: FileResult = message[1]
        job.result.title, job.result.layout, job.result.error = ended.title, ended.layout, ended.error
        _finish(job)
        worker.job = None


def _finish(job: _Job) -> None:
    job.result.seconds = time.monotonic() - job.started
    job.done = True


def _give_up(worker: _Worker, workers: list[_Worker], queue: list[_Job]) -> None:
    """The running claim (or the loading of the file) went past its deadline."""
    job = worker.job
    if job.current is None:
        return _lost(worker, workers, queue, None)
    _position, claim, limit = job.current
    _record(worker, workers, queue, claim, Instance({}, "timeout", f"gave up after {limit:g} s (stopped from outside)"))


def _lost(worker: _Worker, workers: list[_Worker], queue: list[_Job], reason: str | None) -> None:
    """The worker is gone or stuck: record what it was doing, go on with a new one."""
    job = worker.job
    worker.kill()
    code = worker.process.exitcode
    if job.current is None:
        workers.remove(worker)
        if reason is None:
            message = f"internal error: reading the file took more than {LOADING_SECONDS:g} s"
        else:
            message = f"internal error: {reason} while reading the file" + (f" (exit code {code})" if code else "")
        job.result.error = InternalError(message, Pos(job.path, 1, 1))
        _finish(job)
        return
    _position, claim, _limit = job.current
    detail = f" (exit code {code})" if code else ""
    text = reason if reason and reason.startswith("internal error") else f"internal error: {reason}{detail}"
    _record(worker, workers, queue, claim, Instance({}, "error", text))


def _record(worker: _Worker, workers: list[_Worker], queue: list[_Job], claim: ClaimResult, instance: Instance) -> None:
    """Kill the worker, give ``claim`` its verdict, check the rest of the file anew."""
    job = worker.job
    worker.kill()
    workers.remove(worker)
    claim.instances.append(instance)
    job.result.claims.append(claim)
    job.skip += 1
    job.current = None
    queue.insert(0, job)


def _report_in_order(jobs: list[_Job], order: dict, on_claim, on_file) -> None:
    """Stream the claims of the first unfinished file; later files wait their turn."""
    while order["next"] < len(jobs):
        job = jobs[order["next"]]
        new = job.result.claims[job.shown:]
        job.shown += len(new)
        if on_claim:
            for claim in new:
                on_claim(claim)
        if not job.done:
            return
        if on_file:
            on_file(job.result)
        order["next"] += 1


def _broken_stdout() -> list:
    """stdout when it is a pipe: poll reports its reader closing (``| head``) at once."""
    try:
        fd = sys.stdout.fileno()
        return [fd] if stat.S_ISFIFO(os.fstat(fd).st_mode) else []
    except (AttributeError, OSError, ValueError):
        return []


if __name__ == "__main__":  # a ``_Launched`` worker: python -m tensorcalc.verdicts.workers FD PARENT
    serve_fd(int(sys.argv[1]), int(sys.argv[2]))
