"""The ftlab command line. Exit codes: 0 success, 1 user error or found problem, 2 usage."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ftlab import interrupts
from ftlab.arch import ARCH_NAMES
from ftlab.errors import FtlabError, UsageError
from ftlab.interrupts import Interrupted
from ftlab.machine.machine import DEFAULT_MAX_INSNS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit(2), but through our handler
        raise UsageError(f"{self.prog}: {message}")


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: '{text}'") from None


def _int_list(text: str) -> list[int]:
    if not text.strip():
        return []
    return [_int(part.strip()) for part in text.split(",")]


def _arch(text: str) -> str:
    from ftlab.arch import get_arch

    try:
        return get_arch(text).name
    except UsageError:
        raise argparse.ArgumentTypeError(
            f"unknown architecture '{text}' (valid: {', '.join(ARCH_NAMES)})") from None


def _add_guest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="guest C (.c) or assembly (.S) files")
    p.add_argument("--arch", required=True, type=_arch, help=", ".join(ARCH_NAMES))
    p.add_argument("--entry", required=True, help="the function each task calls")
    p.add_argument("--args", type=_int_list, default=[], help="up to 6 integers: A,B,...")
    p.add_argument("--harts", type=int, default=1, help="emulated harts (default 1)")
    p.add_argument("--seed", type=int, default=0, help="scheduler seed (default 0)")
    p.add_argument("--max-insns", type=int, default=DEFAULT_MAX_INSNS,
                   help=f"instruction budget per task (default {DEFAULT_MAX_INSNS})")


class _ListSchemes(argparse.Action):
    def __init__(self, option_strings, dest, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from ftlab.ftrace.schemes import describe_all

        print(describe_all())
        parser.exit(0)


def _add_trace_args(p: argparse.ArgumentParser) -> None:
    from ftlab.ftrace.tracers import CLOCKS, OPTIONS, TRACERS
    from ftlab.tracing import FORMATS

    p.add_argument("--scheme", help="how sites are patched (see --list-schemes)")
    p.add_argument("--list-schemes", action=_ListSchemes, help="list every arch's schemes")
    p.add_argument("--tracer", default="function", help=", ".join(TRACERS[1:]))
    p.add_argument("--filter", action="append", default=[], metavar="GLOB",
                   help="set_ftrace_filter glob (repeatable; !GLOB removes)")
    p.add_argument("--notrace", action="append", default=[], metavar="GLOB",
                   help="set_ftrace_notrace glob (repeatable)")
    p.add_argument("--option", action="append", default=[], metavar="NAME",
                   help=f"trace option: {', '.join(OPTIONS)}")
    p.add_argument("--clock", default="counter",
                   help=", ".join(CLOCKS) + " and the architecture's own clocks")
    p.add_argument("--format", default="text", help=", ".join(FORMATS))
    p.add_argument("--buffer-size-kb", type=int, default=1408, help="per-CPU buffer size")
    p.add_argument("--max-graph-depth", type=int, default=0, help="function_graph depth limit")
    p.add_argument("-o", "--output", help="write the trace here instead of stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ftlab", description="Linux function tracing on real machine code.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="compile a guest and run an entry on emulated harts")
    _add_guest_args(run)
    trace = sub.add_parser("trace", help="run an entry under an ftrace tracer, print the trace")
    _add_guest_args(trace)
    _add_trace_args(trace)
    ex = sub.add_parser("explore", help="search interleavings of live patching for races")
    ex.add_argument("scenario", nargs="?", help="a built-in scenario (see --list)")
    ex.add_argument("--list", action="store_true", help="list the built-in scenarios")
    ex.add_argument("--harts", type=int, default=None, help="harts (default: the scenario's)")
    ex.add_argument("--preemptions", type=int, default=2, help="preemption bound (default 2)")
    ex.add_argument("--strategy", default="exhaustive",
                    help="exhaustive (proves within the bound) or random (can only find)")
    ex.add_argument("--seed", type=int, default=0)
    ex.add_argument("--schedules", type=int, default=2000, help="random: schedules to try")
    ex.add_argument("--jobs", type=int, default=1, help="processes for exhaustive search")
    ex.add_argument("--budget", type=float, default=None, help="seconds before giving up")
    ex.add_argument("--hotplug", action="store_true",
                    help="one more hart may come online during the update")
    ex.add_argument("--variant", action="append", default=[],
                    help="a listed kernel change to try (smp_mb, online-fence, relaxed-online;"
                         " see docs/explorer-verdicts.md)")
    ex.add_argument("--format", default="text", help="text or json")
    ex.add_argument("-o", "--output", help="also write the report here (.json: JSON)")
    ex.add_argument("--guest", help="your own guest C file")
    ex.add_argument("--entry", help="with --guest: the workload entry (takes 0 or 1 argument)")
    ex.add_argument("--arch", type=_arch, help="with --guest")
    ex.add_argument("--scheme", help="with --guest")
    ex.add_argument("--operation", help="with --guest: enable, disable, modify, direct-swap")
    ex.add_argument("--filter", action="append", default=[], help="with --guest: functions")
    rp = sub.add_parser("replay", help="re-run a saved explorer counterexample")
    rp.add_argument("report", help="a JSON report written by ftlab explore -o FILE.json")
    demo = sub.add_parser("demo", help="run the bundled example on every architecture")
    demo.add_argument("--arch", action="append", type=_arch, help="only these architectures")
    for module in _plugins():
        COMMANDS.update(module.register(sub, _add_guest_args, _add_trace_args))
    return parser


# Commands that live with their subsystem: each module has register(sub, add_guest_args,
# add_trace_args) -> {command: handler(namespace) -> exit code}.
PLUGIN_MODULES = ("ftlab.bpf.command", "ftlab.bench.command", "ftlab.tracefs.command",
                  "ftlab.litmus.command")


def _plugins() -> list:
    import importlib
    import importlib.util

    found = []
    for name in PLUGIN_MODULES:
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            spec = None
        if spec is not None:
            found.append(importlib.import_module(name))
    return found


def cmd_run(ns: argparse.Namespace) -> int:
    from ftlab.outputs import write_stdout
    from ftlab.session import load, run_entry

    image = load(ns.files, ns.arch)
    result = run_entry(image, ns.entry, ns.args, harts=ns.harts, seed=ns.seed,
                       max_insns=ns.max_insns)
    for fault in result.faults:
        print(fault.report(), file=sys.stderr)
    write_stdout("".join(line + "\n" for line in result.lines()))
    return 1 if result.faults else 0


def cmd_trace(ns: argparse.Namespace) -> int:
    from ftlab.ftrace.schemes import get_scheme
    from ftlab.tracing import TraceConfig, TraceSession, write_output

    get_scheme(ns.arch, ns.scheme)
    if ns.format == "dat" and not ns.output and sys.stdout.isatty():
        raise UsageError("a binary trace (--format dat) needs -o FILE or a pipe, not a terminal")
    config = TraceConfig(tracer=ns.tracer, filters=ns.filter, notrace=ns.notrace,
                         options=ns.option, clock=ns.clock, buffer_kb=ns.buffer_size_kb,
                         max_graph_depth=ns.max_graph_depth)
    session = TraceSession(ns.files, ns.arch, scheme=ns.scheme, harts=ns.harts, seed=ns.seed,
                           max_insns=ns.max_insns, config=config)
    result = session.run(ns.entry, ns.args)
    return write_output(session.render(ns.format), result, ns.output)


def cmd_explore(ns: argparse.Namespace) -> int:
    from ftlab.explore.run import list_scenarios, run_explore

    if ns.list:
        print(list_scenarios())
        return 0
    if ns.guest:
        missing = [o for o in ("entry", "arch", "scheme", "operation") if not getattr(ns, o)]
        if missing:
            raise UsageError("--guest needs " + ", ".join(f"--{m}" for m in missing))
        from ftlab.ftrace.schemes import get_scheme

        get_scheme(ns.arch, ns.scheme)
        spec = {"guest": ns.guest, "entry": ns.entry, "arch": ns.arch, "scheme": ns.scheme,
                "operation": ns.operation, "filters": ns.filter}
    elif ns.scenario:
        spec = {"name": ns.scenario}
    else:
        raise UsageError("name a scenario (see ftlab explore --list) or give --guest")
    spec["hotplug"] = ns.hotplug
    from ftlab.explore.world import VARIANTS

    for v in ns.variant:
        if v not in VARIANTS:
            raise UsageError(f"unknown --variant '{v}'; valid: {', '.join(VARIANTS)}")
    spec["variants"] = list(ns.variant)
    return run_explore(spec, ns.harts, ns.preemptions, ns.strategy, ns.seed, ns.jobs,
                       ns.budget, ns.format, ns.output, ns.schedules)


def cmd_replay(ns: argparse.Namespace) -> int:
    from ftlab.explore.run import run_replay

    return run_replay(ns.report)


def cmd_demo(ns: argparse.Namespace) -> int:
    from ftlab.demo import run_demo

    return run_demo(ns.arch or list(ARCH_NAMES))


COMMANDS = {"run": cmd_run, "trace": cmd_trace, "explore": cmd_explore, "replay": cmd_replay,
            "demo": cmd_demo}


def _join_values(argv: Sequence[str]) -> list[str]:
    """`--args -7,2` as `--args=-7,2`: argparse would take `-7,2` for an option."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--args":
            nxt = next(it, None)
            out.append("--args" if nxt is None else f"--args={nxt}")
        else:
            out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    # tracefs leaves SIGINT/SIGTERM to libfuse, which unmounts on them
    argv = list(sys.argv[1:] if argv is None else argv)
    previous = interrupts.uninstall() if argv[:1] == ["tracefs"] else interrupts.install()
    try:
        return _main(argv)
    finally:
        interrupts.restore(previous)


def _main(argv: list[str]) -> int:
    from ftlab.outputs import guard_closed_stdout, silence_stdout
    from ftlab.validate import validate

    guard_closed_stdout()
    parser = build_parser()
    try:
        ns = parser.parse_args(_join_values(argv))
        validate(ns)
        code = COMMANDS[ns.command](ns)
        sys.stdout.flush()
        return code
    except BrokenPipeError:  # `ftlab ... | head`: the reader had enough
        silence_stdout()
        return 141
    except OSError as err:  # stdout itself failed (a full disk), or a file we read
        if err.filename is None:
            silence_stdout()
        where = f"{err.filename}: " if err.filename is not None else "writing the output: "
        print(f"ftlab: error: {where}{err.strerror or err}", file=sys.stderr)
        return 1
    except MemoryError:
        print("ftlab: error: out of memory", file=sys.stderr)
        return 1
    except FtlabError as err:
        print(f"ftlab: error: {err}", file=sys.stderr)
        return err.exit_code
    except Interrupted as sig:
        print(f"ftlab: interrupted ({sig.name})", file=sys.stderr)
        return sig.exit_code
    except KeyboardInterrupt:
        print("ftlab: interrupted (SIGINT)", file=sys.stderr)
        return 130
    except Exception as err:  # a bug of ours: one line, the traceback on request
        if os.environ.get("FTLAB_DEBUG"):
            raise
        print(f"ftlab: internal error: {type(err).__name__}: {err} (FTLAB_DEBUG=1 shows the "
              "traceback; please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
