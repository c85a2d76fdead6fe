"""`ftlab bench ...`: the cost lab's commands (registered by ftlab.cli through `register`).

    ftlab bench ftrace-ops --arch ARCH [--scheme NAME] [--relevant N] [--irrelevant K[,K...]]
                           [--direct] [--function-tracer] [--quick] [--format text|json]
    ftlab bench text-size [--arch ARCH ...] [FILES...]      (no FILES: zstd from PyPI)
    ftlab bench trampolines --arch ARCH
    ftlab bench attach --arch ARCH --functions N
    ftlab bench report -o DIR [--arch ARCH ...] [--quick]

With --format json every command prints a JSON list, one object per configuration measured
(the untraced baseline included, `traced: false`), each with at least arch, scheme,
relevant, irrelevant, traced, instructions_per_call and ns_per_call (None where a command
has no such measure). A progress bar goes to stderr when it is a terminal and the run takes
more than a second.

ftrace-ops and the report take their rows and exact instruction counts from
ftlab.bench.ftrace_ops.run_ftrace_ops and time them with ftlab.bench.timing: the runs of all
configurations interleaved, on the emulating thread's CPU clock (--clock wall for wall time).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from ftlab.errors import FtlabError, UsageError

FORMATS = ("text", "json")


def _arch(text: str) -> str:
    from ftlab.arch import ARCH_NAMES, get_arch

    try:
        return get_arch(text).name
    except UsageError:
        raise argparse.ArgumentTypeError(
            f"unknown architecture '{text}' (valid: {', '.join(ARCH_NAMES)})") from None


def _arch_names() -> str:
    from ftlab.arch import ARCH_NAMES

    return ", ".join(ARCH_NAMES)


def _count(text: str) -> int:
    try:
        n = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: '{text}'") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: '{text}'")
    return n


def _counts(text: str) -> list[int]:
    if not text.strip():
        return []
    return [_count(part.strip()) for part in text.split(",")]


def _log(ns: argparse.Namespace) -> Callable[[str], None]:
    def log(msg: str) -> None:
        if getattr(ns, "verbose", False):
            print(msg, file=sys.stderr, flush=True)
    return log


def _emit(ns: argparse.Namespace, rows: list[dict], text: str) -> None:
    out = json.dumps(rows, indent=2) + "\n" if ns.format == "json" else text.rstrip() + "\n"
    from ftlab.outputs import write_stdout, write_text

    if getattr(ns, "output", None):
        write_text(ns.output, out)
    else:
        write_stdout(out)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", default="text", choices=FORMATS, help="text (default) or json")
    p.add_argument("-o", "--output", help="write the result here instead of stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="log each step on stderr")


# --- ftrace-ops ---------------------------------------------------------------------------------
def cmd_ftrace_ops(ns: argparse.Namespace) -> int:
    from ftlab.bench import ftrace_ops as fo
    from ftlab.bench import timing
    from ftlab.bench.progress import Progress
    from ftlab.ftrace.schemes import get_scheme

    if ns.repeat is not None and ns.repeat < 1:
        raise UsageError("--repeat must be at least 1")
    schemes = [ns.scheme] if ns.scheme else fo.bench_schemes(ns.arch)
    plan = []
    for scheme in schemes:
        arch_ops = get_scheme(ns.arch, scheme)  # UsageError for an unknown scheme
        configs = fo.make_configs(ns.relevant, ns.irrelevant, ns.direct and arch_ops.direct_calls,
                                  ns.function_tracer, ns.many_relevant)
        plan.append((scheme, len(configs)))
    if ns.direct and not any(get_scheme(ns.arch, s).direct_calls for s in schemes):
        raise UsageError(f"--direct: no direct calls with {', '.join(schemes)} on {ns.arch}")
    rows: list[dict] = []
    log = _log(ns)
    timed = not ns.counts_only
    repeat = ns.repeat or (fo.QUICK_REPEAT if ns.quick else fo.REPEAT)
    total = sum(1 + (n * repeat if timed else 0) for _, n in plan)
    with Progress(total, f"ftrace-ops {ns.arch}") as prog:
        def step(msg: str) -> None:
            log(msg)
            prog.advance(msg)

        for scheme, _ in plan:
            if timed:
                rows += timing.run_timed(ns.arch, scheme, relevant=ns.relevant,
                                         irrelevant=ns.irrelevant, direct=ns.direct,
                                         tracer=ns.function_tracer, quick=ns.quick,
                                         many_relevant=ns.many_relevant, repeat=repeat,
                                         clock_name=ns.clock, progress=step)
            else:
                rows += fo.run_ftrace_ops(ns.arch, scheme, relevant=ns.relevant,
                                          irrelevant=ns.irrelevant, direct=ns.direct,
                                          tracer=ns.function_tracer, timed=False,
                                          many_relevant=ns.many_relevant)
                step(f"{ns.arch} {scheme} counted")
    clock = ("" if not timed else "; ns: the emulating thread's CPU time" if ns.clock == "cpu"
             else "; ns: wall time")
    text = ("ftrace-ops: cost per iteration of bench_loop (the call of bench_target included);"
            f" +insn/+ns: over the untraced row of the same scheme{clock}\n"
            + fo.format_table(rows))
    summary = fo.summarize(rows)
    if summary:
        lines = fo.format_summary(summary)
        if timed and ns.clock == "cpu":
            lines = lines.replace("x wall,", "x ns (CPU time),")
        text += "\n\n" + lines
    if ns.arch not in fo.CALL_OPS_SCHEME:
        text += f"\n\n{ns.arch}: no CALL_OPS in the kernel; list-ops numbers only"
    _emit(ns, rows, text)
    return 0


# --- text-size ----------------------------------------------------------------------------------
def cmd_text_size(ns: argparse.Namespace) -> int:
    from ftlab.arch import get_arch
    from ftlab.bench import text_size as ts
    from ftlab.bench.progress import Progress

    arches = ns.arch or list(ts.ARCHES)
    log = _log(ns)
    if ns.files:
        files = ts.expand_files(ns.files)
        code_base = ", ".join(f.name for f in files) if len(files) <= 4 else f"{len(files)} files"
    else:
        try:
            files = ts.zstd_sources(fetch=not ns.no_fetch, log=log)
        except ts.SourcesUnavailable as err:
            print(f"ftlab bench text-size: skipped: {err}", file=sys.stderr)
            if ns.format == "json":
                _emit(ns, [], "")
            return 0
        code_base = f"zstd (zstandard {ts.ZSTANDARD_VERSION} sdist)"
    if ns.jobs is not None and ns.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    total = sum(len(ts.variants(get_arch(a))) for a in arches) * len(files)
    with Progress(total, "text-size") as prog:
        rows = ts.run_text_size(arches, files, code_base=code_base, jobs=ns.jobs,
                                keep_going=ns.keep_going, progress=prog.advance, log=log)
    head = f"text size of {code_base}: objects, not linked; +: over the build without " \
           "patchable entries of the same arch (and RVC setting)"
    _emit(ns, rows, head + "\n" + ts.format_text_size(rows))
    return 0


# --- trampolines, attach ------------------------------------------------------------------------
def cmd_trampolines(ns: argparse.Namespace) -> int:
    from ftlab.bench import trampolines as tr

    rows = tr.run_trampolines(ns.arch)
    _emit(ns, rows, tr.format_trampolines(rows))
    return 0


def cmd_attach(ns: argparse.Namespace) -> int:
    from ftlab.bench import trampolines as tr

    if ns.functions < 1:
        raise UsageError("--functions must be at least 1")
    res = tr.run_attach(ns.arch, ns.functions)
    _emit(ns, [res], tr.format_attach(res))
    return 0


# --- report -------------------------------------------------------------------------------------
def cmd_report(ns: argparse.Namespace) -> int:
    from ftlab.bench import report as rp

    if ns.repeat is not None and ns.repeat < 1:
        raise UsageError("--repeat must be at least 1")
    cfg = rp.ReportConfig(
        arches=ns.arch or list(rp.ARCHES),
        irrelevant=ns.irrelevant,
        many_relevant=ns.many_relevant,
        direct=not ns.no_direct,
        tracer=not ns.no_function_tracer,
        quick=ns.quick,
        timed=not ns.counts_only,
        repeat=ns.repeat,
        clock=ns.clock,
        text_size=not ns.no_text_size,
        text_size_files=ns.text_size_files or None,
        fetch=not ns.no_fetch,
        jobs=ns.jobs,
        trampolines=not ns.no_trampolines,
    )
    if ns.from_results:
        res = rp.load_results(ns.from_results)
    else:
        rp.require_matplotlib()  # fail before the long run, not after it
        res = rp.run_suite(cfg, log=_log(ns))
    try:
        readme = rp.write_report(res, ns.output)
    except OSError as err:  # keep what was measured: results.json re-renders with --from-results
        from dataclasses import asdict

        from ftlab.outputs import rescue

        raise rescue(json.dumps(asdict(res), indent=1) + "\n", "results.json", err,
                     target=f"the report in {ns.output}",
                     hint=" (re-render it with ftlab bench report --from-results FILE -o DIR)"
                     ) from None
    if ns.format == "json":
        print(json.dumps(res.ftrace_rows + res.text_rows + res.tramp_rows, indent=2))
    else:
        print(f"wrote {readme} and its plots")
    return 0


def cmd_bench(ns: argparse.Namespace) -> int:
    handler = {
        "ftrace-ops": cmd_ftrace_ops,
        "text-size": cmd_text_size,
        "trampolines": cmd_trampolines,
        "attach": cmd_attach,
        "report": cmd_report,
    }.get(ns.bench_command)
    if handler is None:
        raise UsageError("ftlab bench: name a benchmark (ftrace-ops, text-size, trampolines, "
                         "attach, report)")
    try:
        return handler(ns)
    except OSError as err:
        raise FtlabError(str(err)) from err


def register(sub, add_guest_args, add_trace_args) -> dict[str, Callable[[argparse.Namespace],
                                                                          int]]:
    """Add `ftlab bench` and its benchmarks to the CLI's subparsers."""
    bench = sub.add_parser("bench", help="the cost lab: per-call cost, text size, trampolines",
                           description=__doc__.splitlines()[0])
    bsub = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")

    p = bsub.add_parser("ftrace-ops", help="per-call cost of ftrace_ops (samples/ftrace/"
                        "ftrace-ops.c): relevant and irrelevant ops, list ops vs CALL_OPS")
    p.add_argument("--arch", required=True, type=_arch, help=_arch_names())
    p.add_argument("--scheme", help="one ftrace scheme (default: the arch's CALL_OPS scheme "
                   "and its list-ops scheme; see ftlab trace --list-schemes)")
    p.add_argument("--relevant", type=_count, default=1,
                   help="ops on the measured function (default 1)")
    p.add_argument("--irrelevant", type=_counts, default=[0, 1, 10, 100], metavar="K[,K...]",
                   help="ops on another function, one row per count (default 0,1,10,100)")
    p.add_argument("--many-relevant", type=_counts, default=[], metavar="R[,R...]",
                   help="extra rows with R relevant ops and no irrelevant ones")
    p.add_argument("--direct", action="store_true", help="add a direct-call row")
    p.add_argument("--function-tracer", action="store_true", help="add a function-tracer row")
    p.add_argument("--quick", action="store_true", help="short timed runs (noisier ns)")
    p.add_argument("--repeat", type=int, default=None,
                   help="timed runs per configuration, the best kept (default 3, quick 2)")
    p.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                   help="cpu: the emulating thread's CPU time (default; steady on a shared "
                        "machine), wall: wall time")
    p.add_argument("--counts-only", action="store_true", help="instructions only, no timing")
    _add_common(p)

    p = bsub.add_parser("text-size", help="text size and function count of a C code base "
                        "without patchable entries, with the plain and the CALL_OPS layout")
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="C files or directories (default: zstd, fetched from PyPI)")
    p.add_argument("--arch", action="append", type=_arch,
                   help="arch to measure (repeatable; default all three)")
    p.add_argument("--jobs", type=int, default=None, help="parallel compiles (default: CPUs)")
    p.add_argument("--keep-going", action="store_true",
                   help="leave out files that do not compile freestanding")
    p.add_argument("--no-fetch", action="store_true",
                   help="do not download zstd; skip unless cached or $FTLAB_ZSTD_SDIST")
    _add_common(p)

    p = bsub.add_parser("trampolines", help="per-call cost of fentry, fexit, fmod_ret, the "
                        "function tracer and a direct call, relative to untraced")
    p.add_argument("--arch", required=True, type=_arch)
    _add_common(p)

    p = bsub.add_parser("attach", help="attach and detach time of one program on N functions")
    p.add_argument("--arch", required=True, type=_arch)
    p.add_argument("--functions", required=True, type=_count, metavar="N")
    _add_common(p)

    p = bsub.add_parser("report", help="run the suite on every arch, write DIR/README.md "
                        "with tables and PNG plots (needs matplotlib)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="report directory")
    p.add_argument("--arch", action="append", type=_arch, help="only these arches (repeatable)")
    p.add_argument("--irrelevant", type=_counts, default=[0, 1, 10, 100], metavar="K[,K...]",
                   help="irrelevant-ops counts (default 0,1,10,100)")
    p.add_argument("--many-relevant", type=_counts, default=[10], metavar="R[,R...]",
                   help="extra rows with R relevant ops (default 10; '' for none)")
    p.add_argument("--no-direct", action="store_true", help="skip the direct-call rows")
    p.add_argument("--no-function-tracer", action="store_true",
                   help="skip the function-tracer rows")
    p.add_argument("--quick", action="store_true", help="short timed runs (noisier ns)")
    p.add_argument("--repeat", type=int, default=None,
                   help="timed runs per configuration, the best kept (default 5, quick 2)")
    p.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                   help="cpu (default): the emulating thread's CPU time; wall: wall time")
    p.add_argument("--counts-only", action="store_true", help="instructions only, no timing")
    p.add_argument("--no-text-size", action="store_true", help="skip the text-size part")
    p.add_argument("--text-size-files", nargs="+", metavar="FILE",
                   help="measure these C files instead of zstd")
    p.add_argument("--no-fetch", action="store_true", help="do not download zstd")
    p.add_argument("--jobs", type=int, default=None, help="parallel compiles (default: CPUs)")
    p.add_argument("--no-trampolines", action="store_true", help="skip BPF trampolines")
    p.add_argument("--format", default="text", choices=FORMATS,
                   help="json: also print every row measured as one JSON list")
    p.add_argument("--from-results", metavar="JSON",
                   help="re-render from a saved results.json instead of measuring")
    p.add_argument("-v", "--verbose", action="store_true", help="log steps on stderr")
    return {"bench": cmd_bench}
