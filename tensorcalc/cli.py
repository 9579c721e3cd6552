"""Command line: argument parsing and exit codes, nothing else.

Exit codes: 0 every verdict is as expected (claims hold unless marked ``expect: fails``);
1 a verdict differs from its expectation; 2 invalid input; 3 inconclusive (internal
error or time limit).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

from . import __version__
from .errors import TensorcalcError
from .outputs.escape import terminal
from .suggest import did_you_mean

EXIT_OK, EXIT_FAILS, EXIT_INVALID, EXIT_INCONCLUSIVE = 0, 1, 2, 3
SUFFIXES = (".yaml", ".yml")
FORMATS = ("text", "json", "junit", "github", "html")


def _files(paths: list[str], sources_only: bool = False) -> list[str]:
    """Files named, and in folders every derivation file and every note with a tensorcalc block."""
    out = []
    for p in paths:
        path = Path(p)
        if path.is_dir() or sources_only:
            from .frontends.notes import has_model_block, is_note, is_source  # the LaTeX reader: only for folders and notes
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                if f.suffix in SUFFIXES or (is_note(f) and has_model_block(f)):
                    out.append(str(f))
        elif not sources_only or is_source(path):
            out.append(p)
    return out


def _check(args) -> int:
    """Text streams to stdout; other formats (or -o FILE) keep stdout for the report, progress to stderr."""
    from .outputs import report
    from .outputs.outfile import check_target, write_output
    from .verdicts.workers import check_paths

    files = _files(args.paths, args.sources_only)
    if not files:
        if args.sources_only:
            return EXIT_OK
        print(f"tensorcalc: no derivation files or notes in {' '.join(map(terminal, args.paths))}", file=sys.stderr)
        return EXIT_INVALID
    if args.output:
        check_target(args.output, args.paths + files)
    stream = args.format == "text" and not args.output
    human = sys.stdout if stream or args.output else sys.stderr
    state = {"done": 0, "shown": None}
    start = time.perf_counter()

    def header(path: str) -> None:
        if state["shown"] != path:
            state["shown"] = path
            shown = terminal(path)
            print(shown if len(files) == 1 else f"[{state['done'] + 1}/{len(files)}] {shown}", flush=True)

    def on_claim(claim) -> None:
        header(claim.pos.file)
        print(report.claim_line(claim), flush=True)

    def on_file(result) -> None:
        if stream:
            header(result.path)
            if result.error:
                print(terminal(result.error), flush=True)
        state["done"] += 1
        if not stream and not args.quiet:
            counts = report.summary([result])
            print(f"[{state['done']}/{len(files)}] {terminal(result.path)}: {report.file_status(result)}, {counts['holds']} hold, "
                  f"{counts['fails']} fail ({result.seconds:.1f} s)", file=sys.stderr, flush=True)

    jobs = args.jobs if args.jobs is not None else min(2, len(files))
    results = check_paths(files, args.time_limit, on_claim=on_claim if stream else None, on_file=on_file, jobs=jobs)
    if not stream:
        from .outputs.html import to_html

        views = {"text": report.text_report, "json": report.to_json, "junit": report.to_junit, "github": report.github_annotations,
                 "html": lambda found: to_html(found, args.time_limit)}
        output = views[args.format](results)
        if args.output:
            write_output(args.output, output if output.endswith("\n") else output + "\n", args.paths + files)
        elif output:
            print(output, flush=True)
    if len(files) > 1 or not stream:
        print(report.summary_table(results), file=human)
    print(report.text_summary(results, time.perf_counter() - start), file=human)
    counts = report.summary(results)
    if counts["invalid_files"]:
        return EXIT_INVALID
    if counts["error"] or counts["timeout"]:
        return EXIT_INCONCLUSIVE
    return EXIT_FAILS if counts["unexpected"] else EXIT_OK


def _derive(args) -> int:
    from .outputs.views import derive_file, text_report

    try:
        derived = derive_file(args.path, args.wrt, args.layout, args.of, args.hessian,
                              args.steps and args.emit is None)
        if args.emit == "numpy" and args.hessian:
            raise TensorcalcError("--emit numpy writes gradients; it does not take --hessian")
        if args.emit == "numpy":
            from .outputs.emit import emit_numpy

            print(emit_numpy(derived.prepared, args.layout), end="")
        else:
            print(text_report(derived, args.steps))
    except (TensorcalcError, BrokenPipeError):
        raise
    except Exception as err:  # never a traceback: say what could not be done
        print(f"tensorcalc: internal error while deriving: {type(err).__name__}: {terminal(err)}", file=sys.stderr)
        return EXIT_INCONCLUSIVE
    return EXIT_INCONCLUSIVE if derived.refused else EXIT_OK


def _latex(args) -> int:
    from .outputs.latex import document
    from .outputs.outfile import check_target, write_output
    from .outputs.views import derive_file

    files = [f for f in _files(args.paths) if f.endswith(SUFFIXES)]
    if not files:
        print(f"tensorcalc: no derivation files in {' '.join(map(terminal, args.paths))}", file=sys.stderr)
        return EXIT_INVALID
    if args.output:
        check_target(args.output, args.paths + files)
    try:
        parts = [derive_file(path, None, args.layout, steps=args.steps) for path in files]
        tex = document(parts, standalone=args.standalone, steps=args.steps)
    except (TensorcalcError, BrokenPipeError):
        raise
    except Exception as err:
        print(f"tensorcalc: internal error while writing LaTeX: {type(err).__name__}: {terminal(err)}", file=sys.stderr)
        return EXIT_INCONCLUSIVE
    if args.output:
        write_output(args.output, tex, args.paths + files)
    else:
        print(tex, end="")
    return EXIT_INCONCLUSIVE if any(p.refused for p in parts) else EXIT_OK


def _add_derive_commands(sub) -> None:
    layouts = ["numerator", "denominator", "mixed"]
    derive = sub.add_parser("derive", help="derive gradients in matrix form (verified before printing)")
    derive.add_argument("path", help="a derivation file (.yaml) or a note (.md, .tex)")
    derive.add_argument("--wrt", action="append", help="tensor to differentiate by (W1, or W[l] for a layer family); "
                        "default: the file's parameters (every tensor but one-hot and probability inputs if it names none)")
    derive.add_argument("--of", default=None, help="definition to differentiate: a scalar, vector or matrix (default: the loss)")
    derive.add_argument("--layout", choices=layouts, default=None, help="print in this layout (default: the file's)")
    derive.add_argument("--hessian", action="store_true", help="the Hessian d (d of / d wrt) / d wrt instead (--wrt a vector or scalar)")
    derive.add_argument("--steps", action="store_true", help="show the reverse-mode chain step by step, and the chain of Jacobian factors, with shapes")
    derive.add_argument("--emit", choices=["numpy"], default=None, help="print a numpy function computing every gradient")
    derive.set_defaults(run=_derive)
    latex = sub.add_parser("latex", help="LaTeX of every claim and derived formula")
    latex.add_argument("paths", nargs="+", help="derivation files (.yaml) or folders of them")
    latex.add_argument("-o", "--output", default=None, help="write the LaTeX to this file (default: stdout)")
    latex.add_argument("--standalone", action="store_true", help="a complete document (compiles with pdflatex)")
    latex.add_argument("--steps", action="store_true", help="derivation steps with shapes under each factor")
    latex.add_argument("--layout", choices=layouts, default=None, help="write derived formulas in this layout (default: each file's)")
    latex.set_defaults(run=_latex)


def positive_seconds(text: str) -> float:
    """``--time-limit``: a positive, finite number of seconds."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(f"{terminal(text)} is not a positive number of seconds")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tensorcalc", description="Verify matrix- and tensor-calculus derivations.")
    parser.add_argument("--version", action="version", version=f"tensorcalc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    check = sub.add_parser("check", help="check the claims of derivation files and notes (.yaml, .md, .tex; files or folders)")
    check.add_argument("paths", nargs="+", help="derivation files (.yaml), notes (.md, .tex) or folders of them")
    check.add_argument("--format", choices=FORMATS, default="text",
                       help="text (default), json, junit (JUnit XML) or github (::error annotations for GitHub Actions)")
    check.add_argument("-o", "--output", default=None, help="write the report to this file; the summary table goes to stdout")
    check.add_argument("-q", "--quiet", action="store_true", help="no per-file progress on stderr")
    check.add_argument("--sources-only", action="store_true",
                       help="skip named files that are neither derivation files nor notes with a tensorcalc block (pre-commit)")
    check.add_argument("-j", "--jobs", type=int, default=None, help="files checked at once, in worker processes (default: min(2, number of files))")
    check.add_argument("--time-limit", type=positive_seconds, default=None, help="seconds per claim before giving up (default: the file's check.timeout, 120)")
    check.set_defaults(run=_check)
    _add_derive_commands(sub)
    return parser


COMMANDS = ("check", "derive", "latex")


def _refuse_unknown_command(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """A misspelled command gets the nearest one (argparse itself only lists the choices); exit 2."""
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        hint = did_you_mean(argv[0], COMMANDS) or f"; the commands are {', '.join(COMMANDS)}"
        parser.error(f"unknown command {terminal(argv[0])!r}{hint}")


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # a command-line run, not a call from Python code: this process is tensorcalc's own
        from .oracles.jaxsetup import configure_own_process

        configure_own_process()
    parser = build_parser()
    _refuse_unknown_command(parser, sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except TensorcalcError as err:
        print(f"tensorcalc: {terminal(err)}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILS
