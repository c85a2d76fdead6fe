"""trace-cmd's trace.dat, file format version 6 (trace-cmd.dat.v6(5)), and the kernel's binary
ring-buffer pages (per_cpu/cpuN/trace_pipe_raw) it carries.

Each event is laid out as its tracefs `format` file says (ftlab/tracefs/events.py, the one
source of event layouts); pages and record headers follow `events/header_page` and
`events/header_event` (kernel/trace/ring_buffer.c: a 16-byte page header of timestamp and
commit, then records with a 32-bit header of type_len:5 and time_delta:27).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ftlab.trace.events import (
    BprintEvent,
    FuncEvent,
    GraphEntryEvent,
    GraphExitEvent,
    PrintEvent,
    StackEvent,
    TraceEvent,
    UnknownEvent,
)
from ftlab.tracefs.events import (
    BY_ID,
    BY_SYSTEM,
    FTRACE_EVENTS,
    HEADER_EVENT,
    HEADER_PAGE,
    TRACEPOINTS,
    EventType,
)

PAGE_SIZE = 4096
PAGE_HEADER = 16  # u64 timestamp, local_t commit (header_page)
PAGE_DATA = PAGE_SIZE - PAGE_HEADER
# header_event: type_len values
RINGBUF_TYPE_PADDING = 29
RINGBUF_TYPE_TIME_EXTEND = 30
RB_MAX_SMALL_DATA = 28 * 4  # "data max type_len == 28"
TIME_DELTA_BITS = 27
MAGIC = b"\x17\x08\x44tracing"
FILE_VERSION = 6
OPTION_TRACECLOCK = 4  # trace-cmd's TRACECMD_OPTION_TRACECLOCK: the trace_clock file


def header_page_text() -> str:
    return HEADER_PAGE.format(data=PAGE_DATA)


def _ftrace(name: str) -> EventType:
    return BY_SYSTEM["ftrace"][name]


def record_bytes(ev: TraceEvent, message: Callable[[TraceEvent], str]) -> bytes | None:
    """One event as the kernel's ring buffer holds it: the common header (common_type,
    common_flags, common_preempt_count, common_pid) and the fields at their format offsets.
    A binary printk becomes an ftrace:print of its formatted text (ftlab keeps its argument
    words as u64s, not the kernel's vbin_printf buffer). None: no format describes it."""
    if isinstance(ev, FuncEvent):
        et, values = _ftrace("function"), {"ip": ev.ip, "parent_ip": ev.parent_ip}
    elif isinstance(ev, GraphEntryEvent):
        et, values = _ftrace("funcgraph_entry"), {"func": ev.func, "depth": ev.depth}
    elif isinstance(ev, GraphExitEvent):
        et, values = _ftrace("funcgraph_exit"), {
            "func": ev.func, "depth": ev.depth, "calltime": ev.calltime, "rettime": ev.rettime}
    elif isinstance(ev, StackEvent):
        et = _ftrace("kernel_stack")
        frames = list(ev.frames[:8]) + [0] * (8 - min(8, len(ev.frames)))
        payload = struct.pack("<i4x8Q", min(8, len(ev.frames)) * 8, *frames)
        return _common(et, ev) + payload
    elif isinstance(ev, PrintEvent | BprintEvent):
        et = _ftrace("print")
        text = message(ev)
        text = text if text.endswith("\n") else text + "\n"
        return _common(et, ev) + struct.pack("<Q", ev.ip) + text.encode() + b"\0"
    elif isinstance(ev, UnknownEvent) and ev.type_id in BY_ID:
        et = BY_ID[ev.type_id]
        return _common(et, ev) + ev.payload
    else:
        return None
    return _common(et, ev) + et.pack(values)


def _common(et: EventType, ev: TraceEvent) -> bytes:
    return struct.pack("<HBBi", et.id, ev.flags & 0xFF, ev.preempt_count & 0xFF, ev.pid)


@dataclass
class _PageWriter:
    """Fills PAGE_SIZE pages: each starts at the absolute time of its first record; records
    carry 27-bit deltas, with a time-extend record before a larger one."""

    page_size: int = PAGE_SIZE
    pages: list[bytes] = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    base: int = 0
    last: int = 0

    def _flush(self) -> None:
        if self.data:
            page = struct.pack("<Qq", self.base, len(self.data)) + self.data
            self.pages.append(bytes(page.ljust(self.page_size, b"\0")))
        self.data = bytearray()

    def fits(self, ts: int, body: bytes) -> bool:
        """`body` goes on the current page (an empty page takes anything up to its size)."""
        size = (len(body) + 3) // 4 * 4
        need = size + (4 if size <= RB_MAX_SMALL_DATA else 8)
        if ts - self.last >= 1 << TIME_DELTA_BITS:
            need += 8
        return not self.data or len(self.data) + need <= self.page_size - PAGE_HEADER

    def add(self, ts: int, body: bytes) -> None:
        body = body + b"\0" * (-len(body) % 4)
        if len(body) <= RB_MAX_SMALL_DATA:
            rec_len, head = 4 + len(body), len(body) // 4
            rec = body
        else:  # type_len 0: the length (data + this word) in array[0]
            rec_len, head = 8 + len(body), 0
            rec = struct.pack("<I", len(body) + 4) + body
        delta = max(0, ts - self.last)
        extend = delta >= 1 << TIME_DELTA_BITS
        need = rec_len + (8 if extend else 0)
        room = self.page_size - PAGE_HEADER
        if rec_len > room:
            return  # larger than a page: the kernel refuses such a record too
        if not self.data or len(self.data) + need > room:
            self._flush()
            self.base = self.last = max(ts, self.last)
            delta, extend = 0, False
        if extend:
            mask = (1 << TIME_DELTA_BITS) - 1
            self.data += struct.pack("<II", RINGBUF_TYPE_TIME_EXTEND | (delta & mask) << 5,
                                     delta >> TIME_DELTA_BITS)
            delta = 0
        self.data += struct.pack("<I", head | delta << 5) + rec
        self.last = max(ts, self.last)

    def finish(self) -> list[bytes]:
        self._flush()
        return self.pages


def ring_pages(events: Iterable[TraceEvent], message: Callable[[TraceEvent], str]) -> bytes:
    """One CPU's events (in its own order) as consecutive ring-buffer pages."""
    writer = _PageWriter()
    for ev in events:
        body = record_bytes(ev, message)
        if body is not None:
            writer.add(ev.ts, body)
    return b"".join(writer.finish())


def one_page(events: Sequence[TraceEvent], message: Callable[[TraceEvent], str],
             page_size: int = PAGE_SIZE) -> tuple[bytes, int]:
    """What a trace_pipe_raw read hands out: the first events (of one CPU) that fill a page,
    and how many events it took (one at least: an event no format describes is dropped)."""
    writer = _PageWriter(page_size=page_size)
    taken = 0
    for ev in events:
        body = record_bytes(ev, message)
        if body is not None:
            if taken and not writer.fits(ev.ts, body):
                break
            writer.add(ev.ts, body)
        taken += 1
    pages = writer.finish()
    return (pages[0] if pages else b""), taken


@dataclass
class DatInput:
    ncpus: int
    cpu_events: Sequence[Sequence[TraceEvent]]  # per CPU, in buffer order
    symbols: Sequence[tuple[int, str]]  # (address, function name)
    comms: dict[int, str]  # pid -> comm
    clock_file: str  # the trace_clock file's text, the chosen clock in brackets
    message: Callable[[TraceEvent], str]  # a printk event's text
    cpu_pages: Sequence[bytes] | None = None  # ring-buffer pages already made (trace_pipe_raw)


def _sized(data: bytes, width: str) -> bytes:
    return struct.pack("<" + width, len(data)) + data


def _str(s: str) -> bytes:
    return s.encode() + b"\0"


def write_dat(inp: DatInput) -> bytes:
    """The whole trace.dat (version 6, little endian, 64-bit longs)."""
    out = bytearray(MAGIC + _str(str(FILE_VERSION)) + bytes([0, 8]))
    out += struct.pack("<I", PAGE_SIZE)
    out += _str("header_page") + _sized(header_page_text().encode(), "Q")
    out += _str("header_event") + _sized(HEADER_EVENT.encode(), "Q")
    out += struct.pack("<I", len(FTRACE_EVENTS))
    for et in FTRACE_EVENTS:
        out += _sized(et.format_text().encode(), "Q")
    systems: dict[str, list[EventType]] = {}
    for et in TRACEPOINTS:
        systems.setdefault(et.system, []).append(et)
    out += struct.pack("<I", len(systems))
    for system, types in systems.items():
        out += _str(system) + struct.pack("<I", len(types))
        for et in types:
            out += _sized(et.format_text().encode(), "Q")
    kallsyms = "".join(f"{addr:016x} T {name}\n" for addr, name in sorted(inp.symbols))
    out += _sized(kallsyms.encode(), "I")
    out += _sized(b"", "I")  # printk formats: bprint events are written as print
    cmdlines = "".join(f"{pid} {comm}\n" for pid, comm in sorted(inp.comms.items()))
    out += _sized(cmdlines.encode(), "Q")
    out += struct.pack("<I", inp.ncpus)
    out += b"options  \0"
    out += struct.pack("<H", OPTION_TRACECLOCK) + _sized(inp.clock_file.encode(), "I")
    out += struct.pack("<H", 0)
    out += b"flyrecord\0"
    if inp.cpu_pages is not None:
        datas = list(inp.cpu_pages)
    else:
        datas = [ring_pages(inp.cpu_events[cpu] if cpu < len(inp.cpu_events) else (),
                            inp.message) for cpu in range(inp.ncpus)]
    offset = len(out) + 16 * inp.ncpus
    offset += -offset % PAGE_SIZE
    table = bytearray()
    for data in datas:
        table += struct.pack("<QQ", offset, len(data))
        offset += len(data)
    out += table
    out += b"\0" * (-len(out) % PAGE_SIZE)
    for data in datas:
        out += data
    return bytes(out)
