"""Views of check results: text and a summary table for people; JSON, JUnit XML and GitHub
annotations for machines. They read results, never compute them."""
from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET

from ..errors import InternalError
from ..verdicts.results import ClaimResult, FileResult
from .escape import github_data, github_property, json_document, terminal, xml, xml_document

MARK = {"holds": "holds", "fails": "FAILS", "error": "ERROR", "timeout": "GAVE UP"}


def claim_line(claim: ClaimResult) -> str:
    """A claim's verdict for people; every user-written part shown on one line (``escape.terminal``)."""
    text = terminal(claim.text)
    if claim.kind == "helper":
        return f"  defined  [{claim.index}] {text}"
    expected = "" if claim.expected == "holds" else f"  (expected: {claim.expected}{'' if claim.as_expected else ' — UNEXPECTED'})"
    if claim.expected == "holds" and not claim.as_expected:
        expected = "  — UNEXPECTED"
    lines = [f"  {MARK[claim.verdict]:<7}  [{claim.index}] {text}{expected}"]
    if claim.verdict != "holds":
        lines.append(f"           {terminal(claim.pos)}: {terminal(claim.reason)}")
    lines.append(f"           {terminal(claim.how)}")
    return "\n".join(lines)


def file_header(result: FileResult) -> str:
    title = f" — {terminal(result.title)}" if result.title else ""
    layout = f" ({terminal(result.layout)} layout)" if result.layout else ""
    return f"{terminal(result.path)}{title}{layout}"


def text_report(results: list[FileResult]) -> str:
    """The streamed text view, in one piece (for ``check -o FILE``)."""
    blocks = []
    for r in results:
        lines = [file_header(r)] + [claim_line(c) for c in r.claims]
        if r.error:
            lines.append(terminal(r.error))
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def summary(results: list[FileResult]) -> dict:
    counts = {"holds": 0, "fails": 0, "error": 0, "timeout": 0, "unexpected": 0, "invalid_files": 0}
    for r in results:
        if r.error:
            counts["error" if _internal(r) else "invalid_files"] += 1
        for c in r.claims:
            if c.kind == "helper":
                continue
            counts[c.verdict] += 1
            counts["unexpected"] += 0 if c.as_expected else 1
    return counts


def _internal(result: FileResult) -> bool:
    """The file could not be checked because of tensorcalc, not because of its text."""
    return isinstance(result.error, InternalError)


def _error_kind(result: FileResult) -> str:
    return "internal error" if _internal(result) else "invalid input"


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
            pos = r.error.pos
            entry["error"] = {"kind": _error_kind(r), "message": r.error.message,
                              "line": pos.line if pos else None, "column": pos.col if pos else None}
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
                    "proof": c.proof,
                    "instances": [_instance_json(i) for i in c.instances],
                }
            )
        files.append(entry)
    c = summary(results)
    totals = {"holds": c["holds"], "fails": c["fails"], "error": c["error"] + c["timeout"], "unexpected": c["unexpected"], "invalid_files": c["invalid_files"]}
    return json_document(json.dumps({"files": files, "summary": totals}, indent=2))


def _instance_json(i) -> dict:
    """One case; a failing one with ``values``: both sides at the smallest failing sizes."""
    out = {**i.where, "verdict": i.verdict, "reason": i.reason, "max_rel_error": i.max_rel_error}
    if i.values is not None:
        out["values"] = dataclasses.asdict(i.values)
    return out


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
        return "INCONCLUSIVE" if _internal(result) else "INVALID"
    if counts["inconclusive"]:
        return "INCONCLUSIVE"
    return "UNEXPECTED" if counts["unexpected"] else "ok"


def summary_table(results: list[FileResult]) -> str:
    """One row per file: claims, hold, fail, unexpected, inconclusive, seconds, status."""
    head = ("file", "claims", "hold", "fail", "unexpected", "inconclusive", "seconds", "status")
    rows = []
    for r in results:
        c = _file_counts(r)
        rows.append((terminal(r.path), c["claims"], c["holds"], c["fails"], c["unexpected"], c["inconclusive"], f"{r.seconds:.1f}", file_status(r)))
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
    an inconclusive one an error, an invalid file one errored testcase. Element texts show user
    text as on a terminal (one line per part: the XML may be printed to a CI log)."""
    suites = ET.Element("testsuites", name="tensorcalc")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for r in results:
        suite = ET.SubElement(suites, "testsuite", name=r.path, time=f"{r.seconds:.3f}")
        counts = {"tests": 0, "failures": 0, "errors": 0}
        if r.error:
            case = ET.SubElement(suite, "testcase", classname=r.path, name="file", file=r.path, line=str(r.error.pos.line if r.error.pos else 1))
            ET.SubElement(case, "error", message=str(r.error), type=_error_kind(r)).text = terminal(r.error)
            counts["tests"] += 1
            counts["errors"] += 1
        for c in r.claims:
            if c.kind == "helper":
                continue
            counts["tests"] += 1
            case = ET.SubElement(suite, "testcase", classname=r.path, name=_case_name(c), file=c.pos.file, line=str(c.pos.line),
                                 time=f"{c.seconds:.3f}")
            body = "\n".join(terminal(part) for part in (c.text, f"{c.pos}: {_claim_message(c)}", c.how))
            if c.verdict in ("error", "timeout"):
                ET.SubElement(case, "error", message=_claim_message(c), type=c.verdict).text = body
                counts["errors"] += 1
            elif not c.as_expected:
                ET.SubElement(case, "failure", message=_claim_message(c), type=f"{c.verdict} (expected {c.expected})").text = body
                counts["failures"] += 1
            else:
                ET.SubElement(case, "system-out").text = f"{c.verdict} (expected {c.expected}). {terminal(c.how)}"
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        suites.set(key, str(value))
    _xml_safe(suites)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + xml_document(ET.tostring(suites, encoding="unicode")) + "\n"


def _xml_safe(root: ET.Element) -> None:
    """Every text and attribute of the tree made fit for XML 1.0 (``escape.xml``)."""
    for element in root.iter():
        element.text = None if element.text is None else xml(element.text)
        element.attrib.update({key: xml(value) for key, value in element.attrib.items()})


def github_annotations(results: list[FileResult]) -> str:
    """GitHub Actions workflow commands: ``::error file=…,line=…,col=…,title=…::message`` for every
    unexpected verdict, inconclusive claim and invalid file; nothing for verdicts as expected."""
    lines = []
    for r in results:
        if r.error:
            pos = r.error.pos
            where = f"file={github_property(pos.file if pos else r.path)},line={pos.line if pos else 1},col={pos.col if pos else 1}"
            title = "tensorcalc: inconclusive" if _internal(r) else "tensorcalc: invalid input"
            lines.append(f"::error {where},title={github_property(title)}::{github_data(r.error.message)}")
        for c in r.claims:
            if c.kind == "helper" or c.as_expected:
                continue
            title = "tensorcalc: inconclusive" if c.verdict in ("error", "timeout") else f"tensorcalc: claim {c.verdict} (expected {c.expected})"
            where = f"file={github_property(c.pos.file)},line={c.pos.line},col={c.pos.col}"
            lines.append(f"::error {where},title={github_property(title)}::{github_data(c.text + chr(10) + _claim_message(c))}")
    return "\n".join(lines)
