"""Decode the guest's per-CPU trace ring buffers (struct ring_buffer in ftlab/trace.h).

A buffer holds `size` bytes at `data`; `head`, `tail` and `read` are monotonic byte positions.
Events never straddle the end of the array: the writer pads the rest with a TRACE_PAD event and
continues at offset 0. The events present run from max(tail, read) to head. This module only
reads guest memory through a `read_mem(addr, n) -> bytes` callable (Memory.read fits).
"""

from __future__ import annotations

import heapq
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ftlab.errors import FtlabError
from ftlab.ftrace.abi import (
    ENTRY_HEADER,
    RB_COMMIT,
    RB_DATA,
    RB_ENTRIES,
    RB_OVERRUN,
    RB_READ,
    RB_SIZE,
    RB_STRUCT_SIZE,
    RB_TAIL,
    TA_BUFFERS,
    TA_CLOCK,
    TA_STRUCT_SIZE,
    TRACE_BPRINT,
    TRACE_CLOCK_COUNTER,
    TRACE_CLOCK_LOCAL,
    TRACE_FLAG_HARDIRQ,
    TRACE_FLAG_IRQS_OFF,
    TRACE_FLAG_NEED_RESCHED,
    TRACE_FN,
    TRACE_GRAPH_ENT,
    TRACE_GRAPH_RET,
    TRACE_PAD,
    TRACE_PRINT,
    TRACE_STACK,
)
from ftlab.trace.printk import read_cstring

ReadMem = Callable[[int, int], bytes]

_HEADER = struct.Struct("<HHBBHIIQ")  # type, size, flags, preempt_count, depth, pid, cpu, ts
MAX_CPUS = (TA_STRUCT_SIZE - TA_BUFFERS) // 8  # struct trace_array: buffers[FTLAB_MAX_CPUS]
CLOCK_NAMES = {TRACE_CLOCK_COUNTER: "counter", TRACE_CLOCK_LOCAL: "local"}


class TraceFormatError(FtlabError):
    """The ring buffer's bookkeeping or an event header is inconsistent."""


@dataclass(frozen=True, kw_only=True)
class TraceEvent:
    """Fields common to every event (struct trace_entry), plus where it was found."""

    type: str = "unknown"
    type_id: int = -1
    cpu: int
    pid: int
    ts: int
    flags: int = 0
    preempt_count: int = 0
    depth: int = 0
    seq: int = 0  # index among the events read from this CPU's buffer
    pos: int = 0  # monotonic byte position in the buffer

    @property
    def irqs_off(self) -> bool:
        return bool(self.flags & TRACE_FLAG_IRQS_OFF)

    @property
    def need_resched(self) -> bool:
        return bool(self.flags & TRACE_FLAG_NEED_RESCHED)

    @property
    def hardirq(self) -> bool:
        return bool(self.flags & TRACE_FLAG_HARDIRQ)


@dataclass(frozen=True, kw_only=True)
class FuncEvent(TraceEvent):
    """TRACE_FN: the function tracer."""

    type: str = field(default="func", init=False)
    type_id: int = field(default=TRACE_FN, init=False)
    ip: int
    parent_ip: int


@dataclass(frozen=True, kw_only=True)
class GraphEntryEvent(TraceEvent):
    """TRACE_GRAPH_ENT: function_graph entry (depth in the common header)."""

    type: str = field(default="graph_entry", init=False)
    type_id: int = field(default=TRACE_GRAPH_ENT, init=False)
    func: int


@dataclass(frozen=True, kw_only=True)
class GraphExitEvent(TraceEvent):
    """TRACE_GRAPH_RET: function_graph return."""

    type: str = field(default="graph_exit", init=False)
    type_id: int = field(default=TRACE_GRAPH_RET, init=False)
    func: int
    calltime: int
    rettime: int

    @property
    def duration(self) -> int:
        """rettime - calltime as the kernel's unsigned long long."""
        return (self.rettime - self.calltime) & 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True, kw_only=True)
class BprintEvent(TraceEvent):
    """TRACE_BPRINT: binary printk; `fmt` is read from guest memory (None when unreadable)."""

    type: str = field(default="printk", init=False)
    type_id: int = field(default=TRACE_BPRINT, init=False)
    ip: int
    fmt_addr: int
    fmt: str | None
    words: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class StackEvent(TraceEvent):
    """TRACE_STACK: return addresses, innermost first."""

    type: str = field(default="stack", init=False)
    type_id: int = field(default=TRACE_STACK, init=False)
    frames: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class PrintEvent(TraceEvent):
    """TRACE_PRINT: trace_marker text."""

    type: str = field(default="print", init=False)
    type_id: int = field(default=TRACE_PRINT, init=False)
    ip: int
    text: str


@dataclass(frozen=True, kw_only=True)
class UnknownEvent(TraceEvent):
    """An event type this reader does not know; the payload is kept raw."""

    payload: bytes = b""


@dataclass
class CpuBuffer:
    """One CPU's buffer as read: its events in buffer order and its counters."""

    cpu: int
    events: list[TraceEvent]
    entries: int  # events written in all (struct ring_buffer.entries)
    overrun: int  # events dropped by the writer before being read
    in_buffer: int  # events present (non-pad, from max(tail, read) to head)
    head: int
    tail: int
    read: int
    size: int
    new_read: int | None = None  # consume=True: the read position after taking every event
    lost_events: int = 0  # consume=True: -1 when events were dropped since `read` (count unknown)


def _u64s(buf: bytes, off: int, n: int) -> tuple[int, ...]:
    return struct.unpack_from(f"<{n}Q", buf, off)


def _decode(
    buf: bytes, off: int, hdr: tuple[int, ...], seq: int, pos: int, read_mem: ReadMem,
    fmt_cache: dict[int, str | None],
) -> TraceEvent:
    etype, esize, flags, pc, depth, pid, cpu, ts = hdr
    common = dict(
        cpu=cpu, pid=pid, ts=ts, flags=flags, preempt_count=pc, depth=depth, seq=seq, pos=pos
    )
    body = off + ENTRY_HEADER
    nwords = (esize - ENTRY_HEADER) // 8

    def need(n: int) -> None:
        if n > nwords:
            raise TraceFormatError(
                f"trace event type {etype} at position {pos} is too short ({esize} bytes)"
            )

    if etype == TRACE_FN:
        need(2)
        ip, parent = _u64s(buf, body, 2)
        return FuncEvent(ip=ip, parent_ip=parent, **common)
    if etype == TRACE_GRAPH_ENT:
        need(1)
        return GraphEntryEvent(func=_u64s(buf, body, 1)[0], **common)
    if etype == TRACE_GRAPH_RET:
        need(3)
        func, calltime, rettime = _u64s(buf, body, 3)
        return GraphExitEvent(func=func, calltime=calltime, rettime=rettime, **common)
    if etype == TRACE_BPRINT:
        need(3)
        ip, fmt_addr, n = _u64s(buf, body, 3)
        need(3 + n)
        words = _u64s(buf, body + 24, n)
        if fmt_addr not in fmt_cache:
            try:
                fmt_cache[fmt_addr] = read_cstring(read_mem, fmt_addr)
            except Exception:  # any guest read failure: keep the event, without its format
                fmt_cache[fmt_addr] = None
        return BprintEvent(ip=ip, fmt_addr=fmt_addr, fmt=fmt_cache[fmt_addr], words=words, **common)
    if etype == TRACE_STACK:
        need(1)
        nr = _u64s(buf, body, 1)[0]
        need(1 + nr)
        return StackEvent(frames=_u64s(buf, body + 8, nr), **common)
    if etype == TRACE_PRINT:
        need(2)
        ip, n = _u64s(buf, body, 2)
        if 16 + n > esize - ENTRY_HEADER:
            raise TraceFormatError(f"trace_marker event at position {pos} overflows its size")
        raw = buf[body + 16:body + 16 + n].split(b"\0", 1)[0]  # the kernel prints it with %s
        return PrintEvent(ip=ip, text=raw.decode(errors="replace"), **common)
    return UnknownEvent(
        type_id=etype, payload=bytes(buf[body:off + esize]), **common
    )


def read_cpu_buffer(
    read_mem: ReadMem, rb_addr: int, *, consume: bool = False, cpu: int | None = None
) -> CpuBuffer:
    """Decode the events of the struct ring_buffer at `rb_addr`, oldest first.

    Events are taken from max(tail, read) to head. With `consume` the result also gives the read
    position after taking them all (`new_read`, i.e. head) and `lost_events` (-1: the writer
    dropped events the reader had not read, count unknown, as trace_pipe's "[LOST EVENTS]");
    guest memory is never written. `cpu` names the buffer's CPU; by default the CPU recorded in
    its first event (0 when empty).
    """
    raw = read_mem(rb_addr, RB_STRUCT_SIZE)

    def u64(off: int) -> int:
        return struct.unpack_from("<Q", raw, off)[0]

    # events up to `commit` are complete; a writer may be filling the ones after it
    data, size, head, tail = u64(RB_DATA), u64(RB_SIZE), u64(RB_COMMIT), u64(RB_TAIL)
    entries, overrun, read = u64(RB_ENTRIES), u64(RB_OVERRUN), u64(RB_READ)
    start = max(tail, read)
    if head < start:
        raise TraceFormatError(
            f"ring buffer {rb_addr:#x}: head {head} is behind tail {tail} / read {read}"
        )
    if head - start > size:
        raise TraceFormatError(
            f"ring buffer {rb_addr:#x}: {head - start} bytes live in a {size}-byte buffer"
        )
    events: list[TraceEvent] = []
    fmt_cache: dict[int, str | None] = {}
    buf = read_mem(data, size) if head > start else b""
    pos = start
    while pos < head:
        off = pos % size
        left = size - off
        if left < 4:
            raise TraceFormatError(f"ring buffer {rb_addr:#x}: event at {pos} has no header room")
        etype, esize = struct.unpack_from("<HH", buf, off)
        if etype == TRACE_PAD:
            pos += left  # the pad always runs to the end of the data array
            continue
        if esize < ENTRY_HEADER or esize % 8 or esize > left:
            raise TraceFormatError(
                f"ring buffer {rb_addr:#x}: bad event size {esize} (type {etype}) at {pos}"
            )
        hdr = _HEADER.unpack_from(buf, off)
        events.append(_decode(buf, off, hdr, len(events), pos, read_mem, fmt_cache))
        pos += esize
    if pos != head:
        raise TraceFormatError(f"ring buffer {rb_addr:#x}: last event runs past head {head}")
    if cpu is None:
        cpu = events[0].cpu if events else 0
    result = CpuBuffer(
        cpu=cpu, events=events, entries=entries, overrun=overrun, in_buffer=len(events),
        head=head, tail=tail, read=read, size=size,
    )
    if consume:
        result.new_read = head
        result.lost_events = -1 if read < tail else 0
    return result


def read_trace_array(
    read_mem: ReadMem, ta_addr: int, ncpus: int = MAX_CPUS, *, consume: bool = False
) -> tuple[str, list[CpuBuffer]]:
    """Read every CPU buffer of the struct trace_array at `ta_addr`: (clock name, buffers)."""
    raw = read_mem(ta_addr, TA_STRUCT_SIZE)
    clock_id = struct.unpack_from("<Q", raw, TA_CLOCK)[0]
    buffers = []
    for cpu in range(min(ncpus, MAX_CPUS)):
        rb = struct.unpack_from("<Q", raw, TA_BUFFERS + 8 * cpu)[0]
        if rb:
            buffers.append(read_cpu_buffer(read_mem, rb, consume=consume, cpu=cpu))
    return CLOCK_NAMES.get(clock_id, f"clock{clock_id}"), buffers


def buffer_totals(buffers: Iterable[CpuBuffer]) -> tuple[int, int]:
    """(entries-in-buffer, entries-written) as the kernel's get_total_entries() computes them.

    kernel/trace/trace.c get_total_entries_cpu: written = entries in the buffer + overrun, so
    events already consumed through trace_pipe are not counted (CpuBuffer.entries counts them).
    """
    in_buffer = written = 0
    for b in buffers:
        in_buffer += b.in_buffer
        written += b.in_buffer + b.overrun
    return in_buffer, written


def merge_cpus(buffers: Sequence[CpuBuffer] | Sequence[Sequence[TraceEvent]]) -> list[TraceEvent]:
    """Interleave the CPUs' events as the kernel's trace iterator does.

    kernel/trace/trace.c __find_next_entry: look at the next unread event of every CPU (in CPU
    order) and take the one with the smallest timestamp; on a tie the lower CPU wins. Each CPU's
    own order is kept, so for CPUs whose timestamps increase this is a sort by (ts, cpu, seq).
    """
    queues: list[tuple[int, Sequence[TraceEvent]]] = []
    for b in buffers:
        if isinstance(b, CpuBuffer):
            queues.append((b.cpu, b.events))
        elif b:
            queues.append((b[0].cpu, b))
    queues.sort(key=lambda q: q[0])
    # a heap of each CPU's next event only: (ts, queue index) picks the oldest, lower CPU on ties
    heads = [(evs[0].ts, i, 0) for i, (_cpu, evs) in enumerate(queues) if evs]
    heapq.heapify(heads)
    out: list[TraceEvent] = []
    while heads:
        _ts, i, k = heapq.heappop(heads)
        evs = queues[i][1]
        out.append(evs[k])
        if k + 1 < len(evs):
            heapq.heappush(heads, (evs[k + 1].ts, i, k + 1))
    return out
