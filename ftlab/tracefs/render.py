"""What tracefs shows of the events in a buffer: the filters the guest does not apply itself
(set_graph_function, set_graph_notrace, a max_graph_depth counted from the graph function,
several set_ftrace_pid pids, the print-parent option), and the `trace` / `trace_pipe` text.

The text itself is ftlab.trace.output's (the kernel's formats); trace_pipe keeps the
function_graph printer's per-CPU state between reads, as the kernel's iterator does.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ftlab.trace.events import (
    BprintEvent,
    FuncEvent,
    GraphEntryEvent,
    GraphExitEvent,
    PrintEvent,
    TraceEvent,
)
from ftlab.trace.output import (
    TraceContext,
    _GraphPrinter,
    event_body,
    format_context,
    format_function_trace,
    format_graph_trace,
)


@dataclass
class _Region:
    depth: int  # the recorded depth of the function that opened it
    notrace: bool


@dataclass
class ViewSettings:
    """The read-time filters of one instance."""

    tracer: str = "nop"
    graph_funcs: frozenset[str] = frozenset()
    graph_notrace: frozenset[str] = frozenset()
    max_depth: int = 0  # applied here only with graph_funcs (else the guest applies it)
    pids: frozenset[int] = frozenset()  # filtered here when the guest cannot (several pids)
    print_parent: bool = True

    @property
    def graph_filtering(self) -> bool:
        return bool(self.graph_funcs or self.graph_notrace)


@dataclass
class EventFilter:
    """Turns the recorded events into what the kernel would have recorded. Stateful per pid
    (the set_graph_function / set_graph_notrace regions), so trace_pipe keeps one across
    reads and `trace` starts a fresh one."""

    settings: ViewSettings
    name: Callable[[int], str]
    regions: dict[int, list[_Region]] = field(default_factory=dict)

    def clone(self) -> EventFilter:
        regions = {pid: [dataclasses.replace(r) for r in st] for pid, st in self.regions.items()}
        return EventFilter(self.settings, self.name, regions)

    def __call__(self, ev: TraceEvent) -> TraceEvent | None:
        s = self.settings
        graph = isinstance(ev, GraphEntryEvent | GraphExitEvent)
        # each tracer records only its own kind (a task returning through return_to_handler
        # after function_graph was switched off still logs the return)
        if graph and s.tracer != "function_graph":
            return None
        if isinstance(ev, FuncEvent) and s.tracer != "function":
            return None
        if s.pids and not isinstance(ev, PrintEvent | BprintEvent) and ev.pid not in s.pids:
            return None
        if graph and s.graph_filtering:
            return self._graph(ev)
        if isinstance(ev, FuncEvent) and not s.print_parent and ev.parent_ip:
            return dataclasses.replace(ev, parent_ip=0)
        return ev

    def _graph(self, ev: TraceEvent) -> TraceEvent | None:
        s = self.settings
        stack = self.regions.setdefault(ev.pid, [])
        d = ev.depth
        if isinstance(ev, GraphEntryEvent):
            while stack and stack[-1].depth >= d:  # a region whose return was lost
                stack.pop()
            func = self.name(ev.func)
            if any(r.notrace for r in stack):
                return None
            if func in s.graph_notrace:
                stack.append(_Region(d, notrace=True))
                return None
            if not s.graph_funcs:
                return ev
            if not stack:
                if func not in s.graph_funcs:
                    return None
                stack.append(_Region(d, notrace=False))
                return dataclasses.replace(ev, depth=0)
            rel = d - stack[0].depth
            if s.max_depth and rel >= s.max_depth:
                return None
            return dataclasses.replace(ev, depth=rel)
        # a return
        while stack and stack[-1].depth > d and stack[-1].notrace:
            stack.pop()
        if stack and stack[-1].notrace:
            if stack[-1].depth == d:
                stack.pop()
            return None
        if not s.graph_funcs:
            return ev
        if not stack or d < stack[0].depth:
            stack.clear()
            return None
        rel = d - stack[0].depth
        if rel == 0:
            stack.clear()
        elif s.max_depth and rel >= s.max_depth:
            return None
        return dataclasses.replace(ev, depth=rel)


def filter_events(events: Sequence[TraceEvent], flt: EventFilter) -> list[TraceEvent]:
    out = []
    for ev in events:
        kept = flt(ev)
        if kept is not None:
            out.append(kept)
    return out


def render_trace(events: Sequence[TraceEvent], ctx: TraceContext, tracer: str) -> str:
    """The `trace` file."""
    if tracer == "function_graph":
        text = format_graph_trace(events, ctx)
    else:
        text = format_function_trace(events, ctx, tracer=tracer)
    return text if not text or text.endswith("\n") else text + "\n"


@dataclass
class PipeState:
    """What trace_pipe keeps between reads: the event filter's regions and the graph
    printer's per-CPU state."""

    settings: ViewSettings
    filter: EventFilter
    graph_cpus: dict = field(default_factory=dict)


def pipe_lines(events: Sequence[TraceEvent], ctx: TraceContext, state: PipeState,
               commit: bool) -> tuple[list[str], dict[int, int]]:
    """The trace_pipe text of each event, in order ("" for an event that prints nothing:
    filtered out, or the return of a leaf printed with its entry), and for each such leaf
    entry the index of its return. With `commit` the state advances; without, it is left as
    it was (a trial run to see what fits)."""
    flt = state.filter if commit else state.filter.clone()
    kept: list[TraceEvent] = []
    index: list[int] = []
    for i, ev in enumerate(events):
        out = flt(ev)
        if out is not None:
            kept.append(out)
            index.append(i)
    texts = [""] * len(events)
    graph = state.settings.tracer == "function_graph"
    printer = _GraphPrinter(kept, ctx, stateful=graph)
    if graph:
        printer.cpus = state.graph_cpus if commit else copy.deepcopy(state.graph_cpus)
    partners: dict[int, int] = {}
    for k, ev in enumerate(kept):
        if printer.consumed[k]:
            continue
        if isinstance(ev, GraphEntryEvent):
            j = printer.leaf_return(k)
            if j is not None:
                partners[index[k]] = index[j]
        if isinstance(ev, GraphEntryEvent | GraphExitEvent):
            text = printer.line(k) if graph else format_context(ctx, ev) + printer.line(k)
        elif graph and isinstance(ev, BprintEvent | PrintEvent):
            text = printer.line(k)
        else:
            text = format_context(ctx, ev) + event_body(ctx, ev)
        texts[index[k]] = text
    return texts, partners


__all__ = ["EventFilter", "PipeState", "ViewSettings", "filter_events", "pipe_lines",
           "render_trace"]
