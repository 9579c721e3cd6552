"""Command line: argument parsing and exit codes, nothing else.

Exit codes: 0 every verdict is as expected (claims hold unless marked ``expect: fails``);
1 a verdict differs from its expectation; 2 invalid input; 3 inconclusive (internal
error or time limit).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import TensorcalcError

EXIT_OK, EXIT_FAILS, EXIT_INVALID, EXIT_INCONCLUSIVE = 0, 1, 2, 3
SUFFIXES = (".yaml", ".yml")


def _files(paths: list[str]) -> list[str]:
    out = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.extend(str(f) for f in sorted(path.rglob("*")) if f.suffix in SUFFIXES)
        else:
            out.append(p)
    return out


def _check(args) -> int:
    from . import report
    from .check import check_file

    files = _files(args.paths)
    if not files:
        print(f"tensorcalc: no derivation files in {' '.join(args.paths)}", file=sys.stderr)
        return EXIT_INVALID
    start = time.perf_counter()
    results = []
    text = args.format == "text"
    for path in files:
        if text:
            print(path if len(files) == 1 else f"[{len(results) + 1}/{len(files)}] {path}", flush=True)
        result = check_file(path, args.time_limit, on_claim=(lambda c: print(report.claim_line(c), flush=True)) if text else None)
        results.append(result)
        if result.error:
            print(f"{result.error}", file=sys.stderr if not text else sys.stdout, flush=True)
    if text:
        print(report.text_summary(results, time.perf_counter() - start))
    else:
        print(report.to_json(results))
    counts = report.summary(results)
    if counts["invalid_files"]:
        return EXIT_INVALID
    if counts["error"] or counts["timeout"]:
        return EXIT_INCONCLUSIVE
    return EXIT_FAILS if counts["unexpected"] else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tensorcalc", description="Verify matrix- and tensor-calculus derivations.")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check the claims of derivation files (files or folders)")
    check.add_argument("paths", nargs="+")
    check.add_argument("--format", choices=["text", "json"], default="text")
    check.add_argument("--time-limit", type=float, default=None, help="seconds per claim before giving up (default: the file's check.timeout, 120)")
    check.set_defaults(run=_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except TensorcalcError as err:
        print(f"tensorcalc: {err}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 130
