"""`ftlab trace`: build a guest for a scheme, boot ftrace, run the entry under a tracer and
format what the guest's ring buffers hold."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ftlab.ftrace.core import Ftrace
from ftlab.ftrace.schemes import get_scheme
from ftlab.ftrace.tracers import DEFAULT_BUFFER_KB, TraceInstance
from ftlab.guest.loader import Image
from ftlab.machine.machine import DEFAULT_MAX_INSNS, Machine, Scheduler
from ftlab.machine.task import Task
from ftlab.session import RunResult, check_returnable, entry_args, load
from ftlab.trace.events import (
    TraceEvent,
    merge_cpus,
    read_trace_array,
)
from ftlab.trace.output import (
    TraceContext,
    format_chrome,
    format_function_trace,
    format_graph_trace,
    format_json,
)

FORMATS = ("text", "json", "chrome", "dat")


@dataclass
class TraceConfig:
    tracer: str = "function"
    filters: list[str] = field(default_factory=list)
    notrace: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    clock: str = "counter"
    buffer_kb: int = DEFAULT_BUFFER_KB
    max_graph_depth: int = 0


def symbolizers(image: Image) -> tuple:
    """(sym, symoff) for trace output: a name as %ps prints it, and `name+0xoff` for frames."""

    def sym(addr: int) -> str:
        s = image.func_at(addr)
        return s.name if s else f"{addr:#x}"

    def symoff(addr: int) -> str:
        # a traced ip sits in its function's entry site; a return address may sit just
        # past a call that ends its function, so look it up at addr - 1
        s = image.func_at(addr)
        if s is None or addr - s.addr >= 8:
            s = image.func_at(addr - 1) if addr else None
        return f"{s.name}+{addr - s.addr:#x}" if s else f"{addr:#x}"

    return sym, symoff


def write_output(text: str | bytes, result: RunResult, output: str | None) -> int:
    """Print (or save) what was recorded, even after a fault; then faults and results."""
    from ftlab.outputs import is_stdout, write_bytes, write_stdout, write_text

    try:
        if isinstance(text, bytes):
            write_bytes(output or "-", text)
        elif output:
            write_text(output, text)
        else:
            write_stdout(text)
    finally:  # the faults and results still reach the terminal if the trace could not
        _report_run(result, to_stdout=bool(output) and not is_stdout(output))
    return 1 if result.faults else 0


def _report_run(result: RunResult, to_stdout: bool) -> None:
    for fault in result.faults:
        print(fault.report(), file=sys.stderr)
    for line in result.lines():
        print(line, file=sys.stdout if to_stdout else sys.stderr)


class TraceSession:
    def __init__(self, sources: Sequence[str | Path], arch: str, scheme: str | None = None,
                 harts: int = 1, seed: int = 0, max_insns: int = DEFAULT_MAX_INSNS,
                 config: TraceConfig | None = None) -> None:
        self.config = config or TraceConfig()
        self.scheme = get_scheme(arch, scheme)
        self.image: Image = load(sources, arch, scheme=self.scheme.name)
        self.machine = Machine(self.image, harts=harts, max_insns=max_insns)
        self.seed = seed
        self.ftrace = Ftrace(self.machine, self.scheme)
        self.ftrace.boot()
        cfg = self.config
        self.instance = TraceInstance(self.ftrace, buffer_kb=cfg.buffer_kb, clock=cfg.clock)
        self.instance.make_printk_target()
        for name in cfg.options:
            self.instance.set_option(name)
        if cfg.max_graph_depth:
            self.instance.set_max_graph_depth(cfg.max_graph_depth)
        if cfg.filters:
            self.instance.set_filter(cfg.filters)
        if cfg.notrace:
            self.instance.set_filter(cfg.notrace, notrace=True)
        self.instance.set_tracer(cfg.tracer)
        self.tasks: list[Task] = []

    def run(self, entry: str, args: Sequence[int] = ()) -> RunResult:
        model = self.image.model(entry)
        check_returnable(model)
        raw = entry_args(self.image, model, args)
        self.tasks = [self.machine.spawn(entry, raw) for _ in self.machine.harts]
        Scheduler(self.machine, seed=self.seed).run()
        return RunResult(self.machine, self.tasks, model)

    # --- reading ------------------------------------------------------------------------
    def buffers(self, consume: bool = False):
        return read_trace_array(self.machine.mem.read, self.instance.addr,
                                len(self.machine.harts), consume=consume)[1]

    def events(self) -> list[TraceEvent]:
        return merge_cpus(self.buffers())

    def context(self) -> TraceContext:
        comms = {t.pid: t.comm for t in self.machine.tasks}
        sym, symoff = symbolizers(self.image)

        return TraceContext.from_buffers(
            self.buffers(), sym, comm=lambda pid: comms.get(pid, "<...>"),
            ncpus=len(self.machine.harts), clock=self.config.clock, symoff=symoff)

    def render(self, fmt: str) -> str | bytes:
        if fmt == "dat":
            return self.render_dat()
        events, ctx = self.events(), self.context()
        if fmt == "json":
            text = format_json(events, ctx)
        elif fmt == "chrome":
            text = format_chrome(events, ctx)
        elif self.config.tracer == "function_graph":
            text = format_graph_trace(events, ctx)
        else:
            text = format_function_trace(events, ctx, tracer=self.config.tracer)
        return text if not text or text.endswith("\n") else text + "\n"

    def render_dat(self) -> bytes:
        """trace-cmd's trace.dat (version 6) of the per-CPU buffers."""
        from ftlab.trace.dat import DatInput, write_dat
        from ftlab.trace.output import message_text

        ctx = self.context()
        cpu_events: list[list[TraceEvent]] = [[] for _ in self.machine.harts]
        for buf in self.buffers():
            cpu_events[buf.cpu] = buf.events
        funcs = [(s.addr, s.name) for s in self.image.symbols.values() if s.is_func]
        return write_dat(DatInput(
            ncpus=len(self.machine.harts), cpu_events=cpu_events, symbols=funcs,
            comms={t.pid: t.comm for t in self.machine.tasks},
            clock_file=clock_file(self.config.clock, self.image.arch),
            message=lambda ev: message_text(ctx, ev)))


def clock_file(chosen: str, arch) -> str:
    """The trace_clock file: every clock, the chosen one in brackets."""
    from ftlab.ftrace.tracers import clocks

    return " ".join(f"[{c}]" if c == chosen else c for c in clocks(arch)) + "\n"
