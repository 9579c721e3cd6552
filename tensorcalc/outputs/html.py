"""HTML view of check results: one self-contained page (KaTeX, its fonts, style and script
inlined; no network) with every claim typeset, a verdict badge in words, how far the check
reached, where the claim was written and, for a failing claim, the diagnosis, both sides'
values at the smallest failing sizes and the correct formula; per file, collapsed, the
derived gradients with their shapes and chain-rule steps. It never checks a claim: it reads
results, and the claims' trees and derived formulas from ``claim_latex``.

Every user-written text goes through ``html.escape``; LaTeX is placed as element text (or an
attribute) and typeset by KaTeX in the browser with ``trust`` off, never inside a script.
"""
from __future__ import annotations

import base64
import re
from functools import lru_cache
from html import escape
from importlib import resources

from .. import __version__
from ..verdicts.check import ClaimResult, FileResult
from ..verdicts.results import SideValues
from .claim_latex import DerivedFormula, FileLatex, derived_formulas, file_latex, side_values
from .report import file_status, summary

# Nothing is fetched: scripts, styles and fonts are all in the page.
CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; font-src data:; img-src data:"
_FONT_SOURCES = re.compile(r"src:url\(fonts/([\w-]+)\.woff2\) format\(\"woff2\"\)[^;}]*")


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _katex_css() -> str:
    """KaTeX's style sheet with each font's woff2 file as a data: URI (other formats dropped)."""
    fonts = resources.files(__package__).joinpath("katex", "fonts")

    def inline(m: re.Match) -> str:
        data = base64.b64encode(fonts.joinpath(m.group(1) + ".woff2").read_bytes()).decode("ascii")
        return f'src:url(data:font/woff2;base64,{data}) format("woff2")'

    return _FONT_SOURCES.sub(inline, _asset("katex/katex.min.css"))


def _verdict(claim: ClaimResult) -> tuple[str, str]:
    """(css class, badge text): the badge says the verdict in words, colour only repeats it."""
    if claim.kind == "helper":
        return "definition", "definition"
    if claim.verdict in ("error", "timeout"):
        return "inconclusive", "? inconclusive"
    if claim.verdict == "fails":
        return ("expected-to-fail", "✗ expected to fail") if claim.expected == "fails" else ("fails", "✗ fails")
    return "holds", "✓ holds"


def _is_problem(claim: ClaimResult) -> bool:
    """Shown by the failure filter: anything but a claim that holds as expected."""
    return claim.kind != "helper" and (claim.verdict != "holds" or not claim.as_expected)


def _math(choices: list[str], text: str) -> str:
    """A display formula: the first LaTeX source as element text, a second as data-fallback;
    without a source, the claim's text as written."""
    if not choices:
        return f'<div class="as-written"><code>{escape(text)}</code></div>'
    fallback = f' data-fallback="{escape(choices[1])}"' if len(choices) > 1 else ""
    return f'<div class="math" role="math" aria-label="{escape(choices[0])}"{fallback}>{escape(choices[0])}</div>'


def _where(claim: ClaimResult) -> str:
    where = f"{claim.pos.file}:{claim.pos.line}"
    if claim.note_line is not None and claim.note_line != claim.pos.line:
        where += f" (notes line {claim.note_line})"
    return where


def _diagnosis(claim: ClaimResult, latex: FileLatex) -> str:
    if claim.kind == "helper" or (claim.verdict == "holds" and claim.as_expected):
        return ""
    if claim.verdict == "holds":
        words = "marked 'expect: fails' but the claim holds"
    else:
        words = claim.reason or claim.verdict
    words, correct = latex.correct(words) if claim.verdict == "fails" else (words, None)
    parts = [f"<p>{escape(words)}</p>", _values(claim.values)]
    if correct:
        parts.append(f"<p>Correct formula:</p>{_math([correct], correct)}")
    return f'<div class="diagnosis">{"".join(parts)}</div>'


def _values(values: SideValues | None) -> str:
    """Both sides at the smallest failing sizes: whole matrices when small, else the first entry that differs."""
    if values is None:
        return ""
    at = ", ".join(f"{k}={v}" for k, v in values.sizes.items())
    if values.sides is not None:
        tex = side_values(values)
        return f'<div class="values"><p>At the smallest failing sizes, {escape(at)} (one random network):</p>{_math([tex], tex)}</div>'
    (name_c, name_t), (c, t) = values.names, values.differing
    shape = "×".join(str(n) for n in values.shape)
    entry = ", ".join(str(i) for i in values.entry)
    return (f'<div class="values"><p>At the smallest failing sizes, {escape(at)} (one random network), each side is '
            f"{shape}, too large to show; they differ at entry [{entry}]: {escape(name_c)} {c:.{values.digits}g}, "
            f"{escape(name_t)} {t:.{values.digits}g}</p></div>")


def claim_entry(claim: ClaimResult, latex: FileLatex) -> str:
    """One claim: badge, where, the formula, how far the check reached, the diagnosis."""
    kind, badge = _verdict(claim)
    problem = " problem" if _is_problem(claim) else ""
    unexpected = ""
    if claim.kind != "helper" and not claim.as_expected:
        unexpected = f' <span class="unexpected">unexpected: expected {"to fail" if claim.expected == "fails" else "to hold"}</span>'
    name = f'<p class="name">{escape(claim.name)}</p>' if claim.name else ""
    how = f'<p class="how">{escape(claim.how)}</p>' if claim.how else ""
    return (f'<article class="claim {kind}{problem}" data-verdict="{kind}">'
            f'<header><span class="badge">{badge}</span>{unexpected} <span class="where">{escape(_where(claim))}</span></header>'
            f"{name}{_math(latex.claim(claim), claim.text)}{how}{_diagnosis(claim, latex)}</article>")


def derived_section(path: str, time_limit: float | None = None) -> str:
    """A collapsed section: the gradients ``derive`` prints for the file, each with its factors'
    shapes and its chain-rule steps, or why it was not derived (empty for an unreadable file)."""
    formulas, seconds = derived_formulas(path, time_limit)
    if not formulas:
        return ""
    done = sum(bool(f.result) for f in formulas)
    summary = f"Derived formulas: {done} of {len(formulas)} gradient{'s' * (len(formulas) != 1)} ({seconds:.1f} s)"
    return (f'<details class="derived"><summary>{summary}</summary>'
            "<p>Each formula was confirmed by the exact and the floating-point oracle before it was shown.</p>"
            f'{"".join(_derived_entry(f) for f in formulas)}</details>')


def _derived_entry(formula: DerivedFormula) -> str:
    if not formula.result:
        return f'<p class="not-derived">d / d {escape(formula.wrt)}: not derived: {escape(formula.reason)}</p>'
    steps = f'<p class="steps">Chain-rule steps:</p>{_math([formula.steps], formula.steps)}' if formula.steps else ""
    return f'<div class="gradient">{_math(formula.result, formula.wrt)}{steps}</div>'


def file_section(result: FileResult, time_limit: float | None = None) -> str:
    """A file: title, path, layout, status, its claims (or why it could not be read), then its
    derived formulas (collapsed)."""
    latex = file_latex(result.path)
    problem = result.error is not None or any(_is_problem(c) for c in result.claims)
    title = escape(result.title or result.path)
    meta = [escape(result.path)] + ([f"{escape(result.layout)} layout"] if result.layout else [])
    meta += [f"{file_status(result)}", f"{result.seconds:.1f} s"]
    body = [claim_entry(c, latex) for c in result.claims]
    if result.error is not None:
        body.append(f'<p class="file-error">{escape(str(result.error))}</p>')
    else:
        body.append(derived_section(result.path, time_limit))
    return (f'<section class="file{" problem" if problem else ""}"><h2>{title}</h2>'
            f'<p class="meta">{" · ".join(meta)}</p>{"".join(body)}</section>')


def summary_block(results: list[FileResult]) -> str:
    """Counts, time and version at the top, and the failure filter (shown once the script runs)."""
    claims = [c for r in results for c in r.claims if c.kind != "helper"]
    c = summary(results)
    expected_fail = sum(x.verdict == "fails" and x.expected == "fails" for x in claims)
    counts = [("claims", len(claims)), ("hold", c["holds"]), ("fail", c["fails"] - expected_fail),
              ("expected to fail", expected_fail), ("inconclusive", c["error"] + c["timeout"]),
              ("unexpected", c["unexpected"]), ("invalid files", c["invalid_files"])]
    ok = not (c["unexpected"] or c["invalid_files"] or c["error"] or c["timeout"])
    items = "".join(f"<li><strong>{n}</strong> {label}</li>" for label, n in counts)
    seconds = sum(r.seconds for r in results)
    return ('<div class="summary">'
            f'<p><strong>{"All verdicts as expected" if ok else "Not all as expected"}</strong> — '
            f'{len(results)} file{"s" * (len(results) != 1)}, checked in {seconds:.1f} s (summed over files), '
            f"tensorcalc {escape(__version__)}</p><ul class=\"counts\">{items}</ul>"
            '<label class="filter" hidden><input type="checkbox" id="only-failures"> Show only failures '
            "(fails, expected to fail, inconclusive, unexpected)</label></div>")


def to_html(results: list[FileResult], time_limit: float | None = None) -> str:
    """The whole page; each file's formulas are derived within ``time_limit`` seconds (default:
    the file's claim time limit)."""
    sections = "".join(file_section(r, time_limit) for r in results)
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>tensorcalc report</title>"
            f"<style>{_katex_css()}</style><style>{_asset('page/report.css')}</style></head>"
            f"<body><main><h1>tensorcalc report</h1>{summary_block(results)}{sections}</main>"
            f"<script>{_asset('katex/katex.min.js')}</script><script>{_asset('page/report.js')}</script>"
            "</body></html>\n")
