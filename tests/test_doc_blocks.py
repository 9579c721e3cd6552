"""Every code block of README.md and docs/*.md is run, so the docs cannot drift from the tool.

- A ```` ```yaml ```` block that starts with ``tensorcalc: 1`` is written to a file as pasted and
  checked: it must be valid and every verdict as the block expects (exit 0).
- A ````` ````markdown ````` block is a note: written to a ``.md`` file and checked the same way.
- A block whose lines start with ``$ python -m tensorcalc ...`` shows a command and what it prints:
  the shown lines must be a contiguous run of the real output (timings and the digits of float
  errors masked), so an excerpt may leave out whole claims but never a line inside one.
  A sentence before the block saying "saved as `NAME`" writes the previous YAML block to NAME first.
- A block of commands without output: each ``python -m tensorcalc`` / ``tensorcalc`` / ``pytest``
  command runs in a copy of ``derivations/`` and ``notes/`` and must exit 0 (a ``pip install ... &&``
  prefix is the installation step and is not run).
- A ```` ```latex ```` block is an excerpt of the ``latex`` command named in the sentence before it.
- A ```` ```text ```` block is a figure (the architecture diagram): it may hold no command.
- A block preceded by ``<!-- not run: REASON -->`` is exempt; there are few, each with its reason.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXEMPT = re.compile(r"<!--\s*not run:\s*(\S.*?)\s*-->")
MAX_EXEMPT = 3


@dataclass(frozen=True)
class Block:
    doc: str
    line: int  # line of the opening fence
    info: str  # language after the fence
    body: str
    before: str  # the text between the previous block and this one
    fence: str

    @property
    def exempt(self) -> str | None:
        tail = self.before.rstrip().splitlines()[-1:] or [""]
        match = EXEMPT.search(tail[0])
        return match.group(1) if match else None

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def blocks(doc: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, outermost only (a ```` block may hold ``` blocks)."""
    found, lines = [], doc.read_text(encoding="utf-8").splitlines()
    i, last_end = 0, 0
    while i < len(lines):
        opening = re.match(r"^(`{3,})(\S*)\s*$", lines[i])
        if not opening:
            i += 1
            continue
        fence, end = opening.group(1), i + 1
        while end < len(lines) and lines[end].rstrip() != fence:
            end += 1
        before = "\n".join(lines[last_end:i])
        found.append(Block(doc.name, i + 1, opening.group(2), "\n".join(lines[i + 1 : end]) + "\n", before, fence))
        i = last_end = end + 1
    return found


ALL = [b for doc in DOCS for b in blocks(doc)]


def kind(block: Block) -> str:
    if block.exempt:
        return "exempt"
    if block.fence == "````":
        return "note"
    if block.info == "yaml" and block.body.startswith("tensorcalc: 1"):
        return "derivation"
    if block.info == "latex":
        return "latex"
    if block.body.lstrip().startswith("$ "):
        return "session"
    if block.info == "text" and not COMMAND.search(block.body):
        return "figure"
    if block.info == "" and all(COMMAND.match(line) for line in block.body.splitlines() if line.strip()):
        return "commands"
    if block.info == "python" and "from grad import gradients" in block.body:
        return "emitted-module check"  # run with the emitted module by tests/test_emit_any_size.py
    return "unknown"


COMMAND = re.compile(r"^\s*(?:\$ |pip install|python -m|tensorcalc |pytest)", re.MULTILINE)


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu", COLUMNS="100")
    env.setdefault("TENSORCALC_CACHE", str(tmp / "cache"))
    return env


def _workspace(tmp: Path) -> Path:
    """A folder with copies of derivations/ and notes/: commands that write files write there."""
    for folder in ("derivations", "notes"):
        if not (tmp / folder).exists():
            shutil.copytree(ROOT / folder, tmp / folder)
    return tmp


def run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """A command from the docs, run without a shell: ``tensorcalc``/``python``/``pytest`` and one ``> FILE``."""
    words = shlex.split(command, comments=True)
    out_file = None
    if ">" in words:
        at = words.index(">")
        out_file, words = words[at + 1], words[:at]
    head = {"python": [sys.executable], "tensorcalc": [sys.executable, "-m", "tensorcalc"],
            "pytest": [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]}[words[0]]
    done = subprocess.run(head + words[1:], cwd=cwd, env=_env(cwd), capture_output=True, text=True, timeout=600)
    if out_file:
        (cwd / out_file).write_text(done.stdout, encoding="utf-8")
    return done


TIME = re.compile(r"\(\d+(?:\.\d+)? s\)")
ERROR_DIGITS = re.compile(r"(max rel err )\d\.\de[-+]\d\d")


def masked(text: str) -> list[str]:
    text = ERROR_DIGITS.sub(r"\1<err>", TIME.sub("(<time> s)", text))
    return [line.rstrip() for line in text.splitlines()]


def is_contiguous_run(shown: list[str], real: list[str]) -> bool:
    return any(real[i : i + len(shown)] == shown for i in range(len(real) - len(shown) + 1))


def sessions(block: Block) -> list[tuple[str, list[str]]]:
    """``$ command`` lines with the output shown under each."""
    out: list[tuple[str, list[str]]] = []
    for line in block.body.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        else:
            out[-1][1].append(line)
    return [(command, _trim(shown)) for command, shown in out]


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def test_every_block_is_of_a_known_kind():
    unknown = [b.id for b in ALL if kind(b) == "unknown"]
    assert not unknown, f"code blocks no test knows how to run: {unknown}"
    exempt = [(b.id, b.exempt) for b in ALL if b.exempt]
    assert len(exempt) <= MAX_EXEMPT, f"too many exempt blocks: {exempt}"


def test_the_block_finder_sees_the_tour():
    kinds = {kind(b) for b in ALL}
    assert {"derivation", "note", "session", "commands", "latex", "exempt"} <= kinds
    assert sum(kind(b) == "session" for b in ALL) >= 4


@pytest.mark.parametrize("block", [b for b in ALL if kind(b) in ("derivation", "note")], ids=lambda b: b.id)
def test_pasted_file_is_valid_with_the_verdicts_it_claims(block, tmp_path):
    name = "pasted.md" if kind(block) == "note" else "pasted.yaml"
    (tmp_path / name).write_text(block.body, encoding="utf-8")
    done = run(f"python -m tensorcalc check {name}", tmp_path)
    assert done.returncode == 0, f"{block.id}: exit {done.returncode}\n{done.stdout}{done.stderr}"


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in ALL if kind(b) == "session"], ids=lambda b: b.id)
def test_shown_output_is_what_the_tool_prints(block, tmp_path):
    cwd = _workspace(tmp_path)
    for name in re.findall(r"saved as `([\w.-]+)`", block.before):
        (cwd / name).write_text(_previous_derivation(block).body, encoding="utf-8")
    for command, shown in sessions(block):
        done = run(command, cwd)
        real = masked(done.stdout + done.stderr)
        assert is_contiguous_run(masked("\n".join(shown)), real), (
            f"{block.id}: `{command}` prints\n" + "\n".join(real))


def _previous_derivation(block: Block) -> Block:
    """The last derivation block shown before ``block`` in the same document."""
    same_doc = [b for b in ALL if b.doc == block.doc and b.line < block.line and kind(b) == "derivation"]
    return same_doc[-1]


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in ALL if kind(b) == "commands"], ids=lambda b: b.id)
def test_shown_commands_succeed(block, tmp_path):
    cwd = _workspace(tmp_path)
    for line in block.body.splitlines():
        command = line.split("&&")[-1].strip() if line.startswith("pip install") else line.strip()
        if command.startswith("pip install") or not command:
            continue
        done = run(command, cwd)
        assert done.returncode == 0, f"{block.id}: `{command}` exit {done.returncode}\n{done.stdout}{done.stderr}"


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in ALL if kind(b) == "latex"], ids=lambda b: b.id)
def test_latex_excerpt_is_what_the_tool_writes(block, tmp_path):
    command = re.findall(r"`(latex [^`]+)`", block.before)[-1]
    done = run(f"python -m tensorcalc {command}", _workspace(tmp_path))
    assert done.returncode == 0
    assert is_contiguous_run(_trim(block.body.splitlines()), masked(done.stdout)), done.stdout


def test_masking_keeps_everything_but_timings_and_error_digits():
    assert masked("holds (2.7 s) max rel err 6.8e-16 at d=3") == ["holds (<time> s) max rel err <err> at d=3"]
    assert not is_contiguous_run(["a", "c"], ["a", "b", "c"]) and is_contiguous_run(["b", "c"], ["a", "b", "c"])


PYTEST_ID = re.compile(r"`((?:notes|derivations)/[\w./-]+::[^`]*?)(?: = \.\.\.)?`")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_shown_pytest_ids_are_collected(doc, tmp_path):
    shown = PYTEST_ID.findall(doc.read_text(encoding="utf-8"))
    for shown_id in shown:
        path = shown_id.split("::")[0]
        done = run(f"pytest --collect-only -q {path}", _workspace(tmp_path))
        collected = [line for line in done.stdout.splitlines() if "::" in line]
        assert any(c.startswith(shown_id) for c in collected), f"{shown_id!r} not among {collected}"


def test_exempt_workflow_blocks_name_what_exists():
    """The pre-commit block names the hook of .pre-commit-hooks.yaml; the workflow runs the CI commands shown."""
    import yaml

    hooks = {hook["id"] for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    exempt = [yaml.safe_load(b.body) for b in ALL if b.exempt and b.info == "yaml"]
    named = {hook["id"] for config in exempt if "repos" in config for repo in config["repos"] for hook in repo["hooks"]}
    assert named and named <= hooks
    shown = {_arguments(line) for b in ALL if kind(b) == "commands" for line in b.body.splitlines()
             if line.startswith("python -m tensorcalc")}
    runs = [step["run"] for config in exempt if "jobs" in config for step in config["jobs"]["check"]["steps"] if "run" in step]
    for command in (r for r in runs if r.startswith("tensorcalc ")):
        assert _arguments(command) in shown, command


def _arguments(command: str) -> str:
    """The tensorcalc arguments of a command line, without the program, a comment, ``-q`` or a redirection."""
    words = shlex.split(command, comments=True)
    words = words[3:] if words[0] == "python" else words[1:]
    if ">" in words:
        words = words[: words.index(">")]
    return " ".join(w for w in words if w != "-q")
