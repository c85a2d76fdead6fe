"""One argument validator for every command, run after parsing and before any work starts:
numeric ranges, output paths, and the entry's arguments against its C prototype. Every failure
is a UsageError (exit code 2)."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from pathlib import Path

from ftlab.errors import UsageError
from ftlab.guest import abi
from ftlab.guest.model import FuncModel, TypeInfo, extend
from ftlab.outputs import check_output_dir, check_output_file

U64 = 2**64 - 1
MAX_ENTRY_ARGS = 6
# per-CPU ring buffers for every possible CPU come out of the guest heap (96 MiB): 16 CPUs of
# 4 MiB leave room for the rest (the heap runs out just under 6 MiB each)
MAX_BUFFER_KB = 4096
MAX_OPS = 10_000  # bench ftrace-ops: registering 10,000 ops already takes a minute
MAX_PREEMPTIONS = 1000  # beyond any schedule's length (explore's MAX_ACTIONS is 4,000)

# dest -> (lowest, highest, what the range means); None: no bound that side
RANGES: dict[str, tuple[float | None, float | None, str]] = {
    "harts": (1, abi.MAX_CPUS, "emulated harts"),
    "max_insns": (1, 2**63 - 1, "instructions per task"),
    "seed": (-(2**63), U64, "a 64-bit seed"),
    # tracefs refuses a 0 buffer_size_kb (EINVAL) as the kernel does
    "buffer_size_kb": (1, MAX_BUFFER_KB, "KiB per CPU"),
    "max_graph_depth": (0, 2**32 - 1, "0 is unlimited"),
    "preemptions": (0, MAX_PREEMPTIONS, "a preemption bound"),
    "schedules": (1, 10**9, "random schedules to try"),
    "jobs": (1, 64, "worker processes"),
    "budget": (0, None, "seconds"),
    "repeat": (1, 10**6, "runs"),
    "functions": (1, 100_000, "functions"),
    "relevant": (0, MAX_OPS, "ftrace_ops"),
}
LIST_RANGES = {"irrelevant": "relevant", "many_relevant": "relevant"}  # each item, as that


def _option(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def check_range(dest: str, value: float) -> None:
    lo, hi, what = RANGES[dest]
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{_option(dest)} must be a finite number, got {value}")
    if dest == "budget" and value <= 0:
        raise UsageError(f"{_option(dest)} must be more than 0 seconds, got {value}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        span = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise UsageError(f"{_option(dest)} must be {span} ({what}), got {value}")


def validate(ns: argparse.Namespace) -> None:
    """Check every option a command has; raise UsageError for the first one out of range."""
    for dest in RANGES:
        value = getattr(ns, dest, None)
        if isinstance(value, int | float) and not isinstance(value, bool):
            check_range(dest, value)
    for dest, like in LIST_RANGES.items():
        values = getattr(ns, dest, None)
        for v in values if isinstance(values, list) else []:
            if isinstance(v, int) and not RANGES[like][0] <= v <= RANGES[like][1]:
                raise UsageError(f"{_option(dest)}: {v} is out of range "
                                 f"({RANGES[like][0]} to {RANGES[like][1]})")
    args = getattr(ns, "args", None)
    if isinstance(args, list):
        if len(args) > MAX_ENTRY_ARGS:
            raise UsageError(f"--args takes at most {MAX_ENTRY_ARGS} integers, got {len(args)}")
        for v in args:
            if not -(2**63) <= v <= U64:
                raise UsageError(f"--args: {v} does not fit in 64 bits")
    if getattr(ns, "hotplug", False) and getattr(ns, "harts", None) is not None and (
            ns.harts >= abi.MAX_CPUS):
        raise UsageError(f"--harts must be at most {abi.MAX_CPUS - 1} with --hotplug "
                         f"(one more hart comes online; {abi.MAX_CPUS} at most)")
    if hasattr(ns, "tracer") and hasattr(ns, "clock"):  # the trace options (trace, attach)
        _check_trace_choices(ns)
    if ns.command == "explore":
        check_choice("strategy", ns.strategy, ["exhaustive", "random"])
        check_choice("format", ns.format, ["text", "json"])
    output = getattr(ns, "output", None)
    if output == "":
        raise UsageError("-o: an empty path; name a file (or - for stdout)")
    if output:
        if ns.command == "bench" and getattr(ns, "bench_command", None) == "report":
            check_output_dir(output)
        else:
            check_output_file(output)
            _not_an_input(ns, output)


def _not_an_input(ns: argparse.Namespace, output: str) -> None:
    """-o naming one of the command's own input files would destroy it."""
    inputs = [*(getattr(ns, "files", None) or []), getattr(ns, "guest", None),
              getattr(ns, "report", None), getattr(ns, "from_results", None)]
    out = Path(output)
    for name in inputs:
        if name and out.exists() and Path(name).exists():
            try:
                same = os.path.samefile(name, out)
            except OSError:
                continue
            if same:
                raise UsageError(f"-o {output}: that is the input file {name}")


def check_choice(what: str, value: str, valid: Sequence[str]) -> None:
    if value not in valid:
        raise UsageError(f"unknown {what} '{value}'; valid: {', '.join(valid)}")


def _check_trace_choices(ns: argparse.Namespace) -> None:
    from ftlab.arch import get_arch
    from ftlab.ftrace.tracers import CLOCKS, OPTIONS, TRACERS, clocks
    from ftlab.tracing import FORMATS

    check_choice("tracer", ns.tracer, TRACERS)
    check_choice("format", ns.format, FORMATS)
    arch = getattr(ns, "arch", None)
    check_choice("trace clock", ns.clock, list(clocks(get_arch(arch)) if arch else CLOCKS))
    for opt in ns.option:
        check_choice("trace option", opt, list(OPTIONS))


def type_range(t: TypeInfo) -> tuple[int, int]:
    """The values a C parameter of type `t` can hold."""
    if t.is_bool:
        return 0, 1
    bits = 8 * min(t.size, 8)
    if t.signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def check_entry_args(model: FuncModel, values: Sequence[int]) -> list[str]:
    """--args are C arguments: each must be an integer C can write (64 bits at most, as
    `long long` or `unsigned long long`), and is converted to its parameter's type (from
    DWARF) as a C call converts it; the maintainers' native-oracle tests pin that conversion.
    Returns a note for each value the conversion changes, so none changes silently."""
    notes = []
    for i, (value, param) in enumerate(zip(values, model.params, strict=False)):
        t = param.type
        name = param.name or f"#{i + 1}"
        if not -(2**63) <= value <= U64:
            raise UsageError(f"--args: {value} does not fit argument {i + 1} '{name}' of "
                             f"{model.prototype()}: no C integer type holds it")
        if t.is_struct or t.is_float or t.is_void:
            continue  # refused with their own message
        lo, hi = type_range(t)
        if not lo <= value <= hi:
            passed = extend(value, t)
            notes.append(f"--args: {value} for '{t.name} {name}' (which holds {lo}..{hi}) is "
                         f"passed as {passed}, as C converts it")
    return notes
