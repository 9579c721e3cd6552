"""CI outputs: exit codes, JUnit XML, GitHub annotations, summary table, and the pytest plugin,
on a small notes repository built in a temporary folder (one true and one false formula)."""
import json
import xml.etree.ElementTree as ET

import pytest
from test_notes import TRUE, lines_of, markdown_note

from tensorcalc.cli import main

pytest_plugins = ["pytester"]


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "backprop.md").write_text(markdown_note(), encoding="utf-8")
    (tmp_path / "notes" / "README.md").write_text("# not a note with a model\n$$ a = b $$\n", encoding="utf-8")
    return tmp_path


def test_check_exit_codes_junit_and_github(repo, capsys, monkeypatch):
    monkeypatch.chdir(repo)
    false_line = lines_of(markdown_note(), "{(1)}}")[0]
    assert main(["check", "notes", "--format", "junit", "-o", "report.xml", "-q"]) == 1
    out = capsys.readouterr().out
    assert "notes/backprop.md" in out and "UNEXPECTED" in out and "total" in out  # summary table on stdout
    suites = ET.parse(repo / "report.xml").getroot()
    assert (suites.get("tests"), suites.get("failures"), suites.get("errors")) == ("2", "1", "0")
    (failure,) = suites.iter("failure")
    case = next(c for c in suites.iter("testcase") if c.find("failure") is not None)
    assert case.get("line") == str(false_line) and case.get("file") == "notes/backprop.md"
    assert "expected holds" in failure.get("type")

    assert main(["check", "notes/backprop.md", "--format", "github"]) == 1
    captured = capsys.readouterr()
    annotations = [line for line in captured.out.splitlines() if line.startswith("::")]
    assert len(annotations) == 1
    assert annotations[0].startswith(f"::error file=notes/backprop.md,line={false_line},col=4,title=tensorcalc%3A claim fails")
    assert "%0A" in annotations[0] and "\n" not in annotations[0]
    assert "total" in captured.err  # the table goes to stderr when stdout is the report

    assert main(["check", "notes/backprop.md", "--format", "json", "-q"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [c["verdict"] for c in data["files"][0]["claims"]] == ["holds", "fails"]


def test_check_exit_codes_0_and_2(repo, capsys, monkeypatch):
    monkeypatch.chdir(repo)
    note = repo / "notes" / "backprop.md"
    note.write_text(markdown_note(second_tag="<!-- check: expect fails -->"), encoding="utf-8")
    assert main(["check", "notes"]) == 0
    out = capsys.readouterr().out
    assert "all as expected" in out
    note.write_text(markdown_note().replace(TRUE, TRUE + r" \int"), encoding="utf-8")
    assert main(["check", "notes", "--format", "github"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("::error file=notes/backprop.md,line=") and "unsupported LaTeX command" in out
    assert main(["check", "nowhere.md"]) == 2


def test_pytest_plugin_collects_claims_with_readable_failures(repo, pytester):
    pytester.makefile(".md", backprop=markdown_note())
    result = pytester.runpytest("backprop.md", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*claim:*W}^{(1)}*", "*verdict: fails (expected holds)*", "*at:*backprop.md:*"])


def test_pytest_plugin_stays_out_of_plain_runs(pytester):
    pytester.makefile(".md", backprop=markdown_note())
    pytester.makepyfile(test_x="def test_x():\n    assert True\n")
    pytester.makeini("[pytest]\ntestpaths = .\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest("--tensorcalc", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)


def test_sources_only_skips_other_files_for_pre_commit(repo, capsys, monkeypatch):
    monkeypatch.chdir(repo)
    (repo / "ci.yml").write_text("on: push\n", encoding="utf-8")
    assert main(["check", "--sources-only", "ci.yml", "notes/README.md"]) == 0
    assert main(["check", "ci.yml"]) == 2
    assert main(["check", "--sources-only", "-q", "ci.yml", "notes/backprop.md"]) == 1
