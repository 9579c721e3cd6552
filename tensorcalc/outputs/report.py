"""Views of check results: text and a summary table for people; JSON, JUnit XML and GitHub
annotations for machines. They read results, never compute them."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from ..verdicts.check import ClaimResult, FileResult

MARK = {"holds": "holds", "fails": "FAILS", "error": "ERROR", "timeout": "GAVE UP"}


def claim_line(claim: ClaimResult) -> str:
    if claim.kind == "helper":
        return f"  defined  [{claim.index}] {claim.text}"
    expected = "" if claim.expected == "holds" else f"  (expected: {claim.expected}{'' if claim.as_expected else ' — UNEXPECTED'})"
    if claim.expected == "holds" and not claim.as_expected:
        expected = "  — UNEXPECTED"
    lines = [f"  {MARK[claim.verdict]:<7}  [{claim.index}] {claim.text}{expected}"]
    if claim.verdict != "holds":
        lines.append(f"           {claim.pos}: {claim.reason}")
    lines.append(f"           {claim.how}")
    return "\n".join(lines)


def file_header(result: FileResult) -> str:
    title = f" — {result.title}" if result.title else ""
    layout = f" ({result.layout} layout)" if result.layout else ""
    return f"{result.path}{title}{layout}"


def text_report(results: list[FileResult]) -> str:
    """The streamed text view, in one piece (for ``check -o FILE``)."""
    blocks = []
    for r in results:
        lines = [file_header(r)] + [claim_line(c) for c in r.claims]
        if r.error:
            lines.append(str(r.error))
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def summary(results: list[FileResult]) -> dict:
    counts = {"holds": 0, "fails": 0, "error": 0, "timeout": 0, "unexpected": 0, "invalid_files": 0}
    for r in results:
        if r.error:
            counts["invalid_files"] += 1
        for c in r.claims:
            if c.kind == "helper":
                continue
            counts[c.verdict] += 1
            counts["unexpected"] += 0 if c.as_expected else 1
    return counts


def text_summary(results: list[FileResult], seconds: float) -> str:
    c = summary(results)
    files = f"{len(results)} file{'s' * (len(results) != 1)}"
    verdicts = f"{c['holds']} hold, {c['fails']} fail"
    if c["error"] or c["timeout"]:
        verdicts += f", {c['error']} internal errors, {c['timeout']} gave up"
    state = "all as expected" if not c["unexpected"] and not c["invalid_files"] else f"{c['unexpected']} unexpected"
    if c["invalid_files"]:
        state += f", {c['invalid_files']} invalid file{'s' * (c['invalid_files'] != 1)}"
    return f"{files}: {verdicts} — {state} ({seconds:.1f} s)"


def to_json(results: list[FileResult]) -> str:
    files = []
    for r in results:
        entry = {"path": r.path, "title": r.title, "layout": r.layout, "seconds": round(r.seconds, 3), "claims": []}
        if r.error:
            entry["error"] = {"message": r.error.message, "line": r.error.pos.line if r.error.pos else None, "column": r.error.pos.col if r.error.pos else None}
        for c in r.claims:
            entry["claims"].append(
                {
                    "index": c.index,
                    "text": c.text,
                    "name": c.name,
                    "line": c.pos.line,
                    "column": c.pos.col,
                    "line_in_notes": c.note_line,
                    "kind": c.kind,
                    "verdict": c.verdict,
                    "expected": c.expected,
                    "reason": c.reason,
                    "how": c.how,
                    "instances": [{**i.where, "verdict": i.verdict, "reason": i.reason, "max_rel_error": i.max_rel_error} for i in c.instances],
                }
            )
        files.append(entry)
    c = summary(results)
    totals = {"holds": c["holds"], "fails": c["fails"], "error": c["error"] + c["timeout"], "unexpected": c["unexpected"], "invalid_files": c["invalid_files"]}
    return json.dumps({"files": files, "summary": totals}, indent=2)


# ---------------------------------------------------------------- summary table, JUnit, GitHub
def _file_counts(result: FileResult) -> dict:
    claims = [c for c in result.claims if c.kind != "helper"]
    return {
        "claims": len(claims),
        "holds": sum(c.verdict == "holds" for c in claims),
        "fails": sum(c.verdict == "fails" for c in claims),
        "inconclusive": sum(c.verdict in ("error", "timeout") for c in claims),
        "unexpected": sum(not c.as_expected for c in claims),
    }


def file_status(result: FileResult) -> str:
    counts = _file_counts(result)
    if result.error:
        return "INVALID"
    if counts["inconclusive"]:
        return "INCONCLUSIVE"
    return "UNEXPECTED" if counts["unexpected"] else "ok"


def summary_table(results: list[FileResult]) -> str:
    """One row per file: claims, hold, fail, unexpected, inconclusive, seconds, status."""
    head = ("file", "claims", "hold", "fail", "unexpected", "inconclusive", "seconds", "status")
    rows = []
    for r in results:
        c = _file_counts(r)
        rows.append((r.path, c["claims"], c["holds"], c["fails"], c["unexpected"], c["inconclusive"], f"{r.seconds:.1f}", file_status(r)))
    total = summary(results)
    rows.append(("total", sum(int(r[1]) for r in rows), total["holds"], total["fails"], total["unexpected"],
                 total["error"] + total["timeout"], f"{sum(r.seconds for r in results):.1f}",
                 "ok" if not (total["unexpected"] or total["invalid_files"] or total["error"] or total["timeout"]) else "FAILED"))
    cells = [tuple(str(x) for x in row) for row in (head, *rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]

    def line(row):
        return "  ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(row, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:-1]), rule, line(cells[-1])])


def _claim_message(claim: ClaimResult) -> str:
    if claim.verdict in ("error", "timeout"):
        return f"inconclusive: {claim.reason}"
    if claim.expected == "fails" and claim.verdict == "holds":
        return "marked 'expect: fails' but the claim holds"
    return claim.reason or claim.verdict


def _case_name(claim: ClaimResult) -> str:
    return f"[{claim.index}] line {claim.pos.line}: {claim.text}"


def to_junit(results: list[FileResult]) -> str:
    """JUnit XML: a testsuite per file, a testcase per claim; an unexpected verdict is a failure,
    an inconclusive one an error, an invalid file one errored testcase."""
    suites = ET.Element("testsuites", name="tensorcalc")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for r in results:
        suite = ET.SubElement(suites, "testsuite", name=r.path, time=f"{r.seconds:.3f}")
        counts = {"tests": 0, "failures": 0, "errors": 0}
        if r.error:
            case = ET.SubElement(suite, "testcase", classname=r.path, name="file", file=r.path, line=str(r.error.pos.line if r.error.pos else 1))
            ET.SubElement(case, "error", message=str(r.error), type="invalid input").text = str(r.error)
            counts["tests"] += 1
            counts["errors"] += 1
        for c in r.claims:
            if c.kind == "helper":
                continue
            counts["tests"] += 1
            case = ET.SubElement(suite, "testcase", classname=r.path, name=_case_name(c), file=c.pos.file, line=str(c.pos.line),
                                 time=f"{c.seconds:.3f}")
            body = f"{c.text}\n{c.pos}: {_claim_message(c)}\n{c.how}"
            if c.verdict in ("error", "timeout"):
                ET.SubElement(case, "error", message=_claim_message(c), type=c.verdict).text = body
                counts["errors"] += 1
            elif not c.as_expected:
                ET.SubElement(case, "failure", message=_claim_message(c), type=f"{c.verdict} (expected {c.expected})").text = body
                counts["failures"] += 1
            else:
                ET.SubElement(case, "system-out").text = f"{c.verdict} (expected {c.expected}). {c.how}"
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(results: list[FileResult]) -> str:
    """GitHub Actions workflow commands: ``::error file=…,line=…,col=…,title=…::message`` for every
    unexpected verdict, inconclusive claim and invalid file; nothing for verdicts as expected."""
    lines = []
    for r in results:
        if r.error:
            pos = r.error.pos
            where = f"file={_gh_property(pos.file if pos else r.path)},line={pos.line if pos else 1},col={pos.col if pos else 1}"
            lines.append(f"::error {where},title={_gh_property('tensorcalc: invalid input')}::{_gh_data(r.error.message)}")
        for c in r.claims:
            if c.kind == "helper" or c.as_expected:
                continue
            title = "tensorcalc: inconclusive" if c.verdict in ("error", "timeout") else f"tensorcalc: claim {c.verdict} (expected {c.expected})"
            where = f"file={_gh_property(c.pos.file)},line={c.pos.line},col={c.pos.col}"
            lines.append(f"::error {where},title={_gh_property(title)}::{_gh_data(c.text + chr(10) + _claim_message(c))}")
    return "\n".join(lines)
