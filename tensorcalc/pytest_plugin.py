"""pytest plugin (entry point ``pytest11``): derivation files and notes as tests.

``pytest derivations/ notes/`` collects every derivation file (YAML with ``tensorcalc: 1``)
and every note with a tensorcalc block as a test file, and each of its claims as a test
item. An item fails when the verdict differs from the claim's expectation; the report
shows the claim, the reason and file:line:column.

Only paths named on the command line are collected, so a plain ``pytest`` run (its
``testpaths``) never picks up derivation files; ``--tensorcalc`` collects them under
every collected folder too. Heavy imports wait until a file is collected.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_addoption(parser) -> None:
    group = parser.getgroup("tensorcalc", "tensorcalc derivation files and notes")
    group.addoption("--tensorcalc", action="store_true", default=False,
                    help="collect derivation files and notes under every collected path, not only the paths named")
    group.addoption("--tensorcalc-time-limit", type=float, default=None, help="seconds per claim (default: each file's check.timeout)")


def _named(config, path: Path) -> bool:
    if config.getoption("tensorcalc"):
        return True
    if getattr(config, "args_source", None) != pytest.Config.ArgsSource.ARGS:
        return False
    base = Path(config.invocation_params.dir)
    for arg in config.args:
        named = (base / arg.split("::")[0]).resolve()
        if path == named or named in path.parents:
            return True
    return False


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix not in (".yaml", ".yml", ".md", ".markdown", ".tex"):
        return None
    from .frontends.notes import is_source

    if not _named(parent.config, file_path.resolve()) or not is_source(file_path):
        return None
    return DerivationFile.from_parent(parent, path=file_path)


class ClaimFailed(Exception):
    """A verdict that differs from the claim's expectation (or a file that could not be read)."""


class DerivationFile(pytest.File):
    """A derivation file or note; items are its claims, checked together on first use."""

    def shown_path(self) -> str:
        return os.path.relpath(self.path, self.config.invocation_params.dir)

    def collect(self):
        from .core.model import Prepared
        from .errors import TensorcalcError
        from .frontends import load_spec

        try:
            prepared = Prepared(load_spec(self.shown_path()))
        except TensorcalcError as err:
            yield InvalidFile.from_parent(self, name="file", error=err)
            return
        for position, claim in enumerate(prepared.claims):
            if claim.kind != "helper":
                name = f"[{claim.index}] line {claim.pos.line}: {claim.text}"
                yield ClaimItem.from_parent(self, name=name, position=position, line=claim.pos.line)

    def result(self):
        if not hasattr(self, "_result"):
            from .verdicts.check import check_file

            self._result = check_file(self.shown_path(), self.config.getoption("tensorcalc_time_limit"))
        return self._result


class ClaimItem(pytest.Item):
    def __init__(self, *, position: int, line: int, **kwargs):
        super().__init__(**kwargs)
        self.position = position
        self.line = line

    def runtest(self) -> None:
        result = self.parent.result()
        if result.error is not None and self.position >= len(result.claims):
            raise ClaimFailed(str(result.error))
        claim = result.claims[self.position]
        if not claim.as_expected:
            expected = f"expected {claim.expected}"
            lines = [f"claim:  {claim.text}", f"verdict: {claim.verdict} ({expected})"]
            if claim.verdict == "holds":
                lines.append("reason: the claim holds but is marked 'expect: fails'")
            else:
                lines.append(f"reason: {claim.reason}")
            lines += [f"at:     {claim.pos}", f"how:    {claim.how}"]
            raise ClaimFailed("\n".join(lines))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ClaimFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, self.line - 1, self.name


class InvalidFile(pytest.Item):
    def __init__(self, *, error, **kwargs):
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise ClaimFailed(f"invalid input: {self.error}")

    def repr_failure(self, excinfo, style=None):
        return str(excinfo.value) if isinstance(excinfo.value, ClaimFailed) else super().repr_failure(excinfo, style)

    def reportinfo(self):
        line = self.error.pos.line if self.error.pos else 1
        return self.path, line - 1, "file"
