"""Views of check results: text for people, JSON for machines. They read, never compute."""
from __future__ import annotations

import json

from .check import ClaimResult, FileResult

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
    return json.dumps({"files": files, "summary": {"holds": c["holds"], "fails": c["fails"], "error": c["error"] + c["timeout"], "unexpected": c["unexpected"], "invalid_files": c["invalid_files"]}}, indent=2)
