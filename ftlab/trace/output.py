"""Print decoded trace events as /sys/kernel/tracing/trace does, as JSON Lines, or for Perfetto.

Text formats follow the kernel (default trace options: irq-info, print-parent, annotate, no
sym-offset, no latency format; function_graph with funcgraph-cpu, -overhead, -duration and -irqs
on, -proc, -abstime and -tail off):
- kernel/trace/trace.c: s_show, print_event_info, print_func_help_header_irq,
  test_cpu_buff_start, print_trace_fmt, ns2usecs.
- kernel/trace/trace_output.c: trace_print_context, trace_print_time, trace_print_lat_fmt,
  seq_print_ip_sym, trace_fn_trace, trace_stack_print, trace_bprint_print, trace_print_print.
- kernel/trace/trace_functions_graph.c: print_graph_headers_flags, print_graph_cpu,
  print_graph_proc, verif_pid, get_return_for_leaf, print_graph_entry_leaf/_nested,
  print_graph_return, print_graph_comment, print_graph_duration, trace_print_graph_duration;
  trace_output.c trace_find_mark for the overhead marks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ftlab.trace.events import (
    CLOCK_NAMES,
    BprintEvent,
    CpuBuffer,
    FuncEvent,
    GraphEntryEvent,
    GraphExitEvent,
    PrintEvent,
    StackEvent,
    TraceEvent,
    UnknownEvent,
    buffer_totals,
)
from ftlab.trace.printk import bprint_message

# trace_clocks[] entries whose in_ns is 0 (kernel/trace/trace.c): shown raw, not as sec.usec
RAW_CLOCKS = frozenset({"counter", "uptime", "x86-tsc"})
ULONG_MAX = (1 << 64) - 1
TASK_COMM_LEN = 16
TRACE_GRAPH_INDENT = 2
TRACE_GRAPH_PROCINFO_LENGTH = 14

# trace_output.c mark[]: (threshold in ns, mark); the first threshold exceeded wins
_MARKS = (
    (1_000_000_000, "$"),
    (100_000_000, "@"),
    (10_000_000, "*"),
    (1_000_000, "#"),
    (100_000, "!"),
    (10_000, "+"),
)


def default_comm(pid: int) -> str:
    """trace_find_cmdline without a saved cmdline: `<idle>` for pid 0, `<...>` otherwise."""
    return "<idle>" if pid == 0 else "<...>"


@dataclass
class TraceContext:
    """What the formatters need besides the events.

    sym(addr): the symbol name without offset (or hex when unknown), as %ps prints it.
    symoff(addr): `symbol+0xoff` (JSON/Chrome stack frames); defaults to sym.
    comm(pid): the task name; pid 0 always prints as `<idle>` like the kernel.
    clock: 'local' (nanoseconds) or 'counter' (raw units); a TRACE_CLOCK_* number works too.
    overrun: events the writers dropped; when non-zero the function-format output carries the
    kernel's `##### CPU N buffer started ####` annotations.
    """

    sym: Callable[[int], str]
    comm: Callable[[int], str] = default_comm
    ncpus: int = 1
    clock: str | int = "local"
    entries_in_buffer: int = 0
    entries_written: int = 0
    symoff: Callable[[int], str] | None = None
    overrun: int = 0
    # the text of event types this module does not know (tracefs tracepoints); None: unknown
    event_text: Callable[[TraceEvent], str | None] | None = None
    _comm_cache: dict[int, str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if isinstance(self.clock, int):
            self.clock = CLOCK_NAMES.get(self.clock, f"clock{self.clock}")

    @classmethod
    def from_buffers(
        cls, buffers: Iterable[CpuBuffer], sym: Callable[[int], str], **kwargs
    ) -> TraceContext:
        """A context whose entry counts and overrun come from the buffers (kernel formula)."""
        buffers = list(buffers)
        in_buffer, written = buffer_totals(buffers)
        kwargs.setdefault("ncpus", max((b.cpu for b in buffers), default=0) + 1)
        return cls(
            sym=sym, entries_in_buffer=in_buffer, entries_written=written,
            overrun=sum(b.overrun for b in buffers), **kwargs,
        )

    @property
    def in_ns(self) -> bool:
        return self.clock not in RAW_CLOCKS

    def task(self, pid: int) -> str:
        """The comm as trace_find_cmdline gives it (at most TASK_COMM_LEN - 1 characters)."""
        name = self._comm_cache.get(pid)
        if name is None:
            name = "<idle>" if pid == 0 else self.comm(pid)[:TASK_COMM_LEN - 1]
            self._comm_cache[pid] = name
        return name

    def ip_sym(self, addr: int) -> str:
        """seq_print_ip_sym without sym-offset: '0' for a null address."""
        return "0" if addr == 0 else self.sym(addr)

    def frame(self, addr: int) -> str:
        return (self.symoff or self.sym)(addr)


# ---------------------------------------------------------------------------------------------
# function tracer (trace.c / trace_output.c)


def _header_function(ctx: TraceContext, tracer: str) -> str:
    sp = "  "  # "%.*s" of the TGID columns with prec 2: record-tgid off
    return (
        f"# tracer: {tracer}\n"
        "#\n"
        f"# entries-in-buffer/entries-written: {ctx.entries_in_buffer}/{ctx.entries_written}"
        f"   #P:{ctx.ncpus}\n"
        "#\n"
        f"#                            {sp}  _-----=> irqs-off/BH-disabled\n"
        f"#                            {sp} / _----=> need-resched\n"
        f"#                            {sp}| / _---=> hardirq/softirq\n"
        f"#                            {sp}|| / _--=> preempt-depth\n"
        f"#                            {sp}||| / _-=> migrate-disable\n"
        f"#                            {sp}|||| /     delay\n"
        f"#           TASK-PID  {sp} CPU#  |||||  TIMESTAMP  FUNCTION\n"
        f"#              | |    {sp}   |   |||||     |         |\n"
    )


def lat_flags(ev: TraceEvent) -> str:
    """trace_print_lat_fmt: irqs-off, need-resched, hardirq, preempt depth, migrate-disable.

    The guest has one need-resched flag; it prints as 'N' (the kernel's letter when both
    TIF_NEED_RESCHED and PREEMPT_NEED_RESCHED are set). preempt_count's low nibble is the
    preempt depth and its high nibble the migrate-disable depth, as the kernel packs them.
    """
    pc = ev.preempt_count
    return (
        ("d" if ev.irqs_off else ".")
        + ("N" if ev.need_resched else ".")
        + ("h" if ev.hardirq else ".")
        + (f"{pc & 0xF:x}" if pc & 0xF else ".")
        + (f"{pc >> 4:x}" if pc & 0xF0 else ".")
    )


def format_time(ctx: TraceContext, ts: int) -> str:
    """trace_print_time: ' %5lu.%06lu' from ns (rounded to the microsecond by ns2usecs)."""
    if not ctx.in_ns:
        return f" {ts:12d}"
    usecs = (ts + 500) // 1000
    secs, rem = divmod(usecs, 1_000_000)
    return f" {secs:5d}.{rem:06d}"


def format_context(ctx: TraceContext, ev: TraceEvent) -> str:
    """trace_print_context: comm-pid, [cpu], latency flags, timestamp, ': '."""
    return (
        f"{ctx.task(ev.pid):>16}-{ev.pid:<7d} [{ev.cpu:03d}] {lat_flags(ev)}"
        f"{format_time(ctx, ev.ts)}: "
    )


def _with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _marker_text(ctx: TraceContext, ev: PrintEvent) -> str:
    # The kernel records _THIS_IP_ of tracing_mark_write; a guest that leaves ip 0 gets that name.
    return ctx.ip_sym(ev.ip) if ev.ip else "tracing_mark_write"


def _message(ctx: TraceContext, ev: BprintEvent | PrintEvent) -> str:
    if isinstance(ev, PrintEvent):
        return ev.text
    return bprint_message(ev, ctx.sym, ctx.frame)


def message_text(ctx: TraceContext, ev: TraceEvent) -> str:
    """A trace_marker or printk event's message, as the text trace prints it."""
    assert isinstance(ev, BprintEvent | PrintEvent)
    return _message(ctx, ev)


def event_body(ctx: TraceContext, ev: TraceEvent) -> str:
    """The text after the context prefix (the event's trace() output), newline included.

    TRACE_PRINT and TRACE_BPRINT get a newline when the text has none: tracing_mark_write adds
    one in the kernel; for bprintk the kernel would run into the next line instead.
    """
    if isinstance(ev, FuncEvent):
        text = ctx.ip_sym(ev.ip)
        if ev.parent_ip:
            text += " <-" + ctx.ip_sym(ev.parent_ip)
        return text + "\n"
    if isinstance(ev, StackEvent):
        lines = ["<stack trace>\n"]
        for addr in ev.frames:
            if addr == ULONG_MAX:
                break
            lines.append(f" => {ctx.ip_sym(addr)}\n")
        return "".join(lines)
    if isinstance(ev, BprintEvent):
        return _with_newline(f"{ctx.ip_sym(ev.ip)}: {_message(ctx, ev)}")
    if isinstance(ev, PrintEvent):
        return _with_newline(f"{_marker_text(ctx, ev)}: {ev.text}")
    if ctx.event_text is not None:
        text = ctx.event_text(ev)
        if text is not None:
            return text
    return f"Unknown type {ev.type_id}\n"


class _Annotate:
    """test_cpu_buff_start: with overruns, mark the first event of each CPU after the second."""

    def __init__(self, ctx: TraceContext) -> None:
        self.on = ctx.overrun > 0
        self.started: set[int] = set()

    def __call__(self, cpu: int, idx: int) -> str:
        if not self.on or cpu in self.started:
            return ""
        self.started.add(cpu)
        return f"##### CPU {cpu} buffer started ####\n" if idx > 1 else ""


def format_function_trace(
    events: Sequence[TraceEvent], ctx: TraceContext, tracer: str = "function"
) -> str:
    """The `trace` file of the function tracer: header, then one line per event."""
    out = [_header_function(ctx, tracer)]
    graph = _GraphPrinter(events, ctx, stateful=False)
    annotate = _Annotate(ctx)
    idx = 0
    for i, ev in enumerate(events):
        if graph.consumed[i]:
            continue
        out.append(annotate(ev.cpu, idx))
        out.append(format_context(ctx, ev))
        if isinstance(ev, GraphEntryEvent | GraphExitEvent):
            out.append(graph.line(i))  # the graph events' own trace() output
        else:
            out.append(event_body(ctx, ev))
        idx += 1
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# function_graph tracer (trace_functions_graph.c)

GRAPH_HEADER = (
    "# CPU  DURATION                  FUNCTION CALLS\n"
    "# |     |   |                     |   |   |   |\n"
)


def trace_find_mark(duration: int) -> str:
    for threshold, mark in _MARKS:
        if duration > threshold:
            return mark
    return " "


def graph_duration(duration: int) -> str:
    """print_graph_duration with funcgraph-overhead: mark, usecs.nsecs, ' us ', pad, '|  '."""
    usecs, nsecs_rem = divmod(duration, 1000)
    text = str(usecs)
    length = len(text)
    if length < 7:  # "we don't want to exceed 7 numbers"
        nsecs = f"{nsecs_rem:03d}"[:min(5, 8 - length) - 1]  # snprintf size min(5, 8 - len)
        text += "." + nsecs
        length += len(nsecs) + 1
    return f"{trace_find_mark(duration)} {text} us {' ' * max(0, 8 - length)}|  "


_FILL_FULL = "              |  "


@dataclass
class _CpuState:
    last_pid: int = -1
    depth: int = 0
    enter_funcs: dict[int, int] = field(default_factory=dict)


class _GraphPrinter:
    """print_graph_function_flags over a merged event list.

    `stateful` is the function_graph tracer's own iterator data (fgraph_data): context-switch
    banners, comment depth and the `} /* func */` check for returns without their entry.
    Without it (graph events in another tracer's output) those are skipped, as in the kernel.
    """

    def __init__(self, events: Sequence[TraceEvent], ctx: TraceContext, stateful: bool) -> None:
        self.events = events
        self.ctx = ctx
        self.stateful = stateful
        self.consumed = [False] * len(events)
        self.next_on_cpu: list[int | None] = [None] * len(events)
        last: dict[int, int] = {}
        for i in range(len(events) - 1, -1, -1):
            cpu = events[i].cpu
            self.next_on_cpu[i] = last.get(cpu)
            last[cpu] = i
        self.cpu_width = len(str(max(ctx.ncpus - 1, 0)))  # max_bytes_for_cpu
        self.cpus: dict[int, _CpuState] = {}

    def state(self, cpu: int) -> _CpuState:
        st = self.cpus.get(cpu)
        if st is None:
            st = self.cpus[cpu] = _CpuState()
        return st

    def cpu_col(self, cpu: int) -> str:
        return f" {cpu:>{self.cpu_width}d}) "

    def proc(self, pid: int) -> str:
        text = f"{self.ctx.task(pid)[:7]}-{pid}"
        spaces = max(0, TRACE_GRAPH_PROCINFO_LENGTH - len(text))
        return " " * (spaces // 2) + text + " " * (spaces - spaces // 2)

    def prologue(self, ev: TraceEvent) -> str:
        """print_graph_prologue: verif_pid's context-switch banner, then the CPU column."""
        text = ""
        if self.stateful:
            st = self.state(ev.cpu)
            if st.last_pid != ev.pid:
                prev, st.last_pid = st.last_pid, ev.pid
                if prev != -1:
                    text = (
                        " ------------------------------------------\n"
                        + self.cpu_col(ev.cpu) + self.proc(prev) + " => " + self.proc(ev.pid)
                        + "\n ------------------------------------------\n\n"
                    )
        return text + self.cpu_col(ev.cpu)

    def leaf_return(self, i: int) -> int | None:
        """get_return_for_leaf: the next event of this CPU's buffer, if it returns from here."""
        j = self.next_on_cpu[i]
        if j is None:
            return None
        ent, nxt = self.events[i], self.events[j]
        if isinstance(nxt, GraphExitEvent) and nxt.pid == ent.pid and nxt.func == ent.func:
            return j
        return None

    def line(self, i: int) -> str:
        ev = self.events[i]
        sym = self.ctx.sym
        if isinstance(ev, GraphEntryEvent):
            text = self.prologue(ev)
            indent = " " * (ev.depth * TRACE_GRAPH_INDENT)
            j = self.leaf_return(i)
            st = self.state(ev.cpu)
            if j is not None:
                self.consumed[j] = True
                st.depth = ev.depth - 1
                st.enter_funcs.pop(ev.depth, None)
                ret = self.events[j]
                assert isinstance(ret, GraphExitEvent)
                return text + graph_duration(ret.duration) + f"{indent}{sym(ev.func)}();\n"
            st.depth = ev.depth
            st.enter_funcs[ev.depth] = ev.func
            return text + _FILL_FULL + f"{indent}{sym(ev.func)}() {{\n"
        if isinstance(ev, GraphExitEvent):
            func_match = True
            if self.stateful:
                st = self.state(ev.cpu)
                st.depth = ev.depth - 1
                func_match = st.enter_funcs.pop(ev.depth, 0) == ev.func
            text = self.prologue(ev) + graph_duration(ev.duration)
            text += " " * (ev.depth * TRACE_GRAPH_INDENT)
            return text + ("}\n" if func_match else f"}} /* {sym(ev.func)} */\n")
        if isinstance(ev, BprintEvent | PrintEvent):
            depth = self.state(ev.cpu).depth if self.stateful else 0
            text = self.prologue(ev) + _FILL_FULL
            if depth > 0:
                text += " " * ((depth + 1) * TRACE_GRAPH_INDENT)
            msg = _message(self.ctx, ev)
            if msg.endswith("\n"):
                msg = msg[:-1]
            return text + f"/* {msg} */\n"
        raise TypeError(f"not a function_graph line: {ev!r}")


def format_graph_trace(events: Sequence[TraceEvent], ctx: TraceContext) -> str:
    """The `trace` file of the function_graph tracer."""
    out = ["# tracer: function_graph\n#\n", GRAPH_HEADER]
    printer = _GraphPrinter(events, ctx, stateful=True)
    annotate = _Annotate(ctx)
    idx = 0
    for i, ev in enumerate(events):
        if printer.consumed[i]:
            continue
        if isinstance(ev, GraphEntryEvent | GraphExitEvent | BprintEvent | PrintEvent):
            out.append(printer.line(i))
        else:
            # TRACE_FN, TRACE_STACK and unknown types are TRACE_TYPE_UNHANDLED by the graph
            # tracer: print_trace_line falls back to the default format
            out.append(annotate(ev.cpu, idx))
            out.append(format_context(ctx, ev) + event_body(ctx, ev))
        idx += 1
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# JSON Lines and Chrome trace-event JSON


def _json_type(ev: TraceEvent) -> str:
    if isinstance(ev, BprintEvent | PrintEvent):
        return "printk"
    return ev.type


def _msg(ctx: TraceContext, ev: BprintEvent | PrintEvent) -> str:
    msg = _message(ctx, ev)
    return msg[:-1] if msg.endswith("\n") else msg


def _frames(ctx: TraceContext, ev: StackEvent) -> list[str]:
    frames = []
    for addr in ev.frames:
        if addr == ULONG_MAX:
            break
        frames.append(ctx.frame(addr))
    return frames


def event_record(ev: TraceEvent, ctx: TraceContext) -> dict:
    """One event as a JSON-ready dict (the JSON Lines schema)."""
    rec: dict = {
        "type": _json_type(ev), "cpu": ev.cpu, "pid": ev.pid, "comm": ctx.task(ev.pid),
        "ts": ev.ts, "func": None, "parent": None,
    }
    if isinstance(ev, FuncEvent):
        rec["func"] = ctx.ip_sym(ev.ip)
        rec["parent"] = ctx.ip_sym(ev.parent_ip) if ev.parent_ip else None
    elif isinstance(ev, GraphEntryEvent):
        rec["func"] = ctx.sym(ev.func)
        rec["depth"] = ev.depth
    elif isinstance(ev, GraphExitEvent):
        rec["func"] = ctx.sym(ev.func)
        rec["duration"] = ev.duration
        rec["depth"] = ev.depth
    elif isinstance(ev, BprintEvent):
        rec["func"] = ctx.ip_sym(ev.ip)
        rec["msg"] = _msg(ctx, ev)
    elif isinstance(ev, PrintEvent):
        rec["func"] = _marker_text(ctx, ev)
        rec["msg"] = _msg(ctx, ev)
    elif isinstance(ev, StackEvent):
        rec["frames"] = _frames(ctx, ev)
    elif isinstance(ev, UnknownEvent):
        rec["type_id"] = ev.type_id
    return rec


def format_json(events: Iterable[TraceEvent], ctx: TraceContext) -> str:
    """JSON Lines: one object per event, in the given order."""
    return "".join(json.dumps(event_record(ev, ctx)) + "\n" for ev in events)


def format_chrome(events: Sequence[TraceEvent], ctx: TraceContext) -> str:
    """Chrome trace-event JSON (opens in Perfetto / chrome://tracing).

    pid and tid are the guest pid, named by comm with metadata events. Function and printk
    events are thread-scoped instants; each graph return becomes a complete ('X') slice from its
    calltime; an entry whose return is not in the trace stays open ('B', shown as not ended),
    unless a later return on that task skipped over it (then it is an instant). Timestamps are
    microseconds: ns / 1000 for nanosecond clocks, one unit = 1 us for raw clocks (counter).
    """
    scale = 1000.0 if ctx.in_ns else 1.0

    def us(t: int) -> float | int:
        v = t / scale
        return int(v) if v == int(v) else v

    out: list[dict] = []
    pids: dict[int, None] = {}
    open_entries: dict[int, list[GraphEntryEvent]] = {}

    def instant(ev: TraceEvent, name: str, cat: str, args: dict) -> dict:
        return {
            "name": name, "cat": cat, "ph": "i", "s": "t", "ts": us(ev.ts),
            "pid": ev.pid, "tid": ev.pid, "args": {"cpu": ev.cpu, **args},
        }

    for ev in events:
        pids.setdefault(ev.pid)
        if isinstance(ev, FuncEvent):
            parent = ctx.ip_sym(ev.parent_ip) if ev.parent_ip else None
            out.append(instant(ev, ctx.ip_sym(ev.ip), "function", {"parent": parent}))
        elif isinstance(ev, GraphEntryEvent):
            open_entries.setdefault(ev.pid, []).append(ev)
        elif isinstance(ev, GraphExitEvent):
            stack = open_entries.get(ev.pid, [])
            for k in range(len(stack) - 1, -1, -1):
                if stack[k].func == ev.func and stack[k].depth == ev.depth:
                    for lost in stack[k + 1:]:  # entries whose return never came
                        out.append(instant(lost, ctx.sym(lost.func), "function_graph",
                                           {"depth": lost.depth, "unterminated": True}))
                    del stack[k:]
                    break
            out.append({
                "name": ctx.sym(ev.func), "cat": "function_graph", "ph": "X",
                "ts": us(ev.calltime), "dur": us(ev.duration), "pid": ev.pid, "tid": ev.pid,
                "args": {"cpu": ev.cpu, "depth": ev.depth},
            })
        elif isinstance(ev, BprintEvent | PrintEvent):
            msg = _msg(ctx, ev)
            func = _marker_text(ctx, ev) if isinstance(ev, PrintEvent) else ctx.ip_sym(ev.ip)
            out.append(instant(ev, msg or "printk", "printk", {"msg": msg, "func": func}))
        elif isinstance(ev, StackEvent):
            out.append(instant(ev, "<stack trace>", "stack", {"frames": _frames(ctx, ev)}))
        else:
            out.append(instant(ev, f"unknown type {ev.type_id}", "unknown", {}))
    for stack in open_entries.values():
        for ent in stack:
            out.append({
                "name": ctx.sym(ent.func), "cat": "function_graph", "ph": "B", "ts": us(ent.ts),
                "pid": ent.pid, "tid": ent.pid, "args": {"cpu": ent.cpu, "depth": ent.depth},
            })
    meta: list[dict] = []
    for pid in pids:
        name = ctx.task(pid)
        meta.append({"name": "process_name", "ph": "M", "pid": pid, "tid": pid,
                     "args": {"name": f"{name}-{pid}"}})
        meta.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": pid,
                     "args": {"name": name}})
    doc = {
        "traceEvents": meta + out,
        "displayTimeUnit": "ns",
        "otherData": {"clock": ctx.clock},
    }
    return json.dumps(doc)
