"""ftlab.trace: ring-buffer decoding, merging, and kernel-format / JSON / Chrome output.

Golden files live in tests/golden/trace_output/; FTLAB_REGOLDEN=1 rewrites them.
"""

from __future__ import annotations

import bisect
import json
import os
import struct
from pathlib import Path

import pytest

from ftlab.ftrace.abi import (
    ENTRY_HEADER,
    RB_COMMIT,
    RB_DATA,
    RB_ENTRIES,
    RB_HEAD,
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
from ftlab.trace.events import (
    BprintEvent,
    FuncEvent,
    GraphExitEvent,
    PrintEvent,
    StackEvent,
    TraceFormatError,
    buffer_totals,
    merge_cpus,
    read_cpu_buffer,
    read_trace_array,
)
from ftlab.trace.output import (
    TraceContext,
    format_chrome,
    format_function_trace,
    format_graph_trace,
    format_json,
    graph_duration,
)
from ftlab.trace.printk import format_bprintk, read_cstring

GOLDEN = Path(__file__).parent / "golden" / "trace_output"
BASE = 0x8000_0000


# ---------------------------------------------------------------------------------------------
# a guest memory image and a writer that encodes events exactly as the guest runtime does


class GuestMem:
    def __init__(self, size: int = 0x10000) -> None:
        self.mem = bytearray(size)
        self.brk = BASE

    def read(self, addr: int, n: int) -> bytes:
        off = addr - BASE
        if off < 0 or off + n > len(self.mem):
            raise ValueError(f"read outside guest memory: {addr:#x}+{n}")
        return bytes(self.mem[off:off + n])

    def write(self, addr: int, data: bytes) -> None:
        off = addr - BASE
        self.mem[off:off + len(data)] = data

    def alloc(self, n: int, align: int = 8) -> int:
        self.brk = (self.brk + align - 1) & -align
        addr = self.brk
        self.brk += n
        return addr

    def cstring(self, text: str) -> int:
        raw = text.encode() + b"\0"
        addr = self.alloc(len(raw), 1)
        self.write(addr, raw)
        return addr


class RingWriter:
    """The guest's writer: pad to the end when an event does not fit, drop the oldest when full."""

    def __init__(self, gm: GuestMem, size: int, cpu: int = 0) -> None:
        self.gm = gm
        self.cpu = cpu
        self.size = size
        self.rb = gm.alloc(RB_STRUCT_SIZE)
        self.data = gm.alloc(size)
        self.head = self.tail = self.entries = self.overrun = self.read = 0
        self.sync()

    def sync(self) -> None:
        for off, value in (
            (RB_DATA, self.data), (RB_SIZE, self.size), (RB_HEAD, self.head),
            (RB_COMMIT, self.head),
            (RB_TAIL, self.tail), (RB_ENTRIES, self.entries), (RB_OVERRUN, self.overrun),
            (RB_READ, self.read),
        ):
            self.gm.write(self.rb + off, struct.pack("<Q", value))

    def _make_room(self, n: int) -> None:
        while self.head + n - self.tail > self.size:
            off = self.tail % self.size
            etype, esize = struct.unpack("<HH", self.gm.read(self.data + off, 4))
            if etype == TRACE_PAD:
                self.tail += self.size - off
            else:
                self.tail += esize
                self.overrun += 1

    def emit(self, etype: int, payload: bytes, *, ts: int, pid: int = 1, flags: int = 0,
             pc: int = 0, depth: int = 0) -> None:
        payload += b"\0" * (-len(payload) % 8)
        n = ENTRY_HEADER + len(payload)
        off = self.head % self.size
        if off + n > self.size:
            pad = self.size - off
            self._make_room(pad)
            hdr = struct.pack("<HHBBHIIQ", TRACE_PAD, pad, 0, 0, 0, 0, 0, 0)
            self.gm.write(self.data + off, hdr[:pad] + b"\0" * max(0, pad - len(hdr)))
            self.head += pad
            off = 0
        self._make_room(n)
        hdr = struct.pack("<HHBBHIIQ", etype, n, flags, pc, depth, pid, self.cpu, ts)
        self.gm.write(self.data + off, hdr + payload)
        self.head += n
        self.entries += 1
        self.sync()

    # payload builders
    def fn(self, ip: int, parent: int, **kw) -> None:
        self.emit(TRACE_FN, struct.pack("<QQ", ip, parent), **kw)

    def ent(self, func: int, **kw) -> None:
        self.emit(TRACE_GRAPH_ENT, struct.pack("<Q", func), **kw)

    def ret(self, func: int, calltime: int, rettime: int, **kw) -> None:
        self.emit(TRACE_GRAPH_RET, struct.pack("<QQQ", func, calltime, rettime), ts=rettime, **kw)

    def stack(self, frames: list[int], **kw) -> None:
        self.emit(TRACE_STACK, struct.pack(f"<Q{len(frames)}Q", len(frames), *frames), **kw)

    def bprint(self, ip: int, fmt: str, args: list, **kw) -> None:
        self.emit(TRACE_BPRINT, bprint_payload(self.gm, ip, fmt, args), **kw)

    def marker(self, ip: int, text: str, **kw) -> None:
        raw = text.encode()
        self.emit(TRACE_PRINT, struct.pack("<QQ", ip, len(raw)) + raw, **kw)


def encode_args(args: list) -> list[int]:
    """Argument words: one u64 per conversion; a str is its length then its bytes in words."""
    words: list[int] = []
    for a in args:
        if isinstance(a, str):
            raw = a.encode()
            words.append(len(raw))
            raw += b"\0" * (-len(raw) % 8)
            words += [int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw), 8)]
        else:
            words.append(a & (2**64 - 1))
    return words


def bprint_payload(gm: GuestMem, ip: int, fmt: str, args: list) -> bytes:
    words = encode_args(args)
    return struct.pack(f"<QQQ{len(words)}Q", ip, gm.cstring(fmt), len(words), *words)


class Symbols:
    def __init__(self, table: dict[str, tuple[int, int]]) -> None:
        items = sorted((start, size, name) for name, (start, size) in table.items())
        self.starts = [s for s, _, _ in items]
        self.items = items

    def _find(self, addr: int):
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0:
            start, size, name = self.items[i]
            if addr < start + size:
                return name, addr - start, size
        return None

    def sym(self, addr: int) -> str:
        hit = self._find(addr)
        return hit[0] if hit else f"0x{addr:x}"

    def symoff(self, addr: int) -> str:
        hit = self._find(addr)
        return f"{hit[0]}+{hit[1]:#x}/{hit[2]:#x}" if hit else f"0x{addr:x}"


TEXT = 0xFFFF_8000_0010_0000
FUNCS = [
    "start_kernel", "do_syscall_64", "__x64_sys_openat", "do_sys_open", "getname",
    "kmem_cache_alloc", "__might_sleep", "strncpy_from_user", "rcu_read_lock", "worker_fn",
    "irq_handler", "schedule", "tick_handle", "slow_io", "very_slow", "glacial", "eternal",
    "forever", "timeless", "bpf_prog_hello", "tracing_mark_write",
]
SYMS = Symbols({name: (TEXT + 0x100 * i, 0x100) for i, name in enumerate(FUNCS)})


def A(name: str, off: int = 0) -> int:
    return TEXT + 0x100 * FUNCS.index(name) + off


COMMS = {1: "init", 42: "bash", 77: "kworker/1:1-events_unbound", 1234: "worker"}


def comm(pid: int) -> str:
    return COMMS.get(pid, "<...>")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("FTLAB_REGOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with FTLAB_REGOLDEN=1"
    assert text == path.read_text()


# ---------------------------------------------------------------------------------------------
# ring buffer decoding


def test_wrap_and_overrun_accounting():
    gm = GuestMem()
    w = RingWriter(gm, size=256)
    # each TRACE_FN event is 40 bytes: 6 fit, the 7th pads 16 bytes (less than a header)
    for i in range(20):
        w.fn(A("getname", i), A("do_sys_open"), ts=1000 + i)
    buf = read_cpu_buffer(gm.read, w.rb)
    assert buf.entries == 20 == w.entries
    assert buf.overrun == w.overrun > 0
    assert buf.in_buffer == len(buf.events)
    assert buf.in_buffer + buf.overrun == buf.entries  # nothing was consumed
    # the newest events survive, in order, with no pads among them
    assert [e.ts for e in buf.events] == list(range(1000 + 20 - buf.in_buffer, 1020))
    assert all(isinstance(e, FuncEvent) for e in buf.events)
    assert [e.seq for e in buf.events] == list(range(buf.in_buffer))
    assert buf.head - buf.tail <= 256 and buf.head > 256
    assert buffer_totals([buf]) == (buf.in_buffer, buf.entries)


def test_pad_accounting_exact():
    gm = GuestMem()
    w = RingWriter(gm, size=128)
    w.fn(1, 2, ts=1)  # 0..40
    w.fn(1, 2, ts=2)  # 40..80
    w.fn(1, 2, ts=3)  # 80..120
    assert (w.head, w.tail, w.overrun) == (120, 0, 0)
    w.fn(1, 2, ts=4)  # 8-byte pad at 120, then drops ts=1 to fit at 128..168
    assert (w.head, w.tail, w.overrun) == (168, 40, 1)
    w.emit(TRACE_STACK, struct.pack("<QQQQ", 3, 5, 6, 7), ts=5)  # 56 bytes: drops ts=2, ts=3
    assert (w.tail, w.overrun) == (120, 3)
    buf = read_cpu_buffer(gm.read, w.rb)
    assert [e.ts for e in buf.events] == [4, 5]
    assert isinstance(buf.events[1], StackEvent) and buf.events[1].frames == (5, 6, 7)
    # one more: pads at 96, drops the old pad at 120 (not an overrun) and the ts=4 event
    w.fn(1, 2, ts=6)
    assert (w.head, w.tail, w.overrun) == (296, 168, 4)
    buf = read_cpu_buffer(gm.read, w.rb)
    assert [e.ts for e in buf.events] == [5, 6]
    assert (buf.in_buffer, buf.overrun, buf.entries) == (2, 4, 6)


def test_consume_and_read_position():
    gm = GuestMem()
    w = RingWriter(gm, size=512)
    for i in range(5):
        w.fn(A("getname"), A("do_sys_open"), ts=i)
    first = read_cpu_buffer(gm.read, w.rb, consume=True)
    assert [e.ts for e in first.events] == [0, 1, 2, 3, 4]
    assert first.new_read == w.head and first.lost_events == 0
    assert gm.read(w.rb + RB_READ, 8) == b"\0" * 8  # nothing written back
    w.read = first.new_read  # the caller commits the position
    w.sync()
    for i in range(5, 8):
        w.fn(A("getname"), A("do_sys_open"), ts=i)
    again = read_cpu_buffer(gm.read, w.rb)
    assert [e.ts for e in again.events] == [5, 6, 7]
    assert again.in_buffer == 3
    assert buffer_totals([again]) == (3, 3)  # kernel: written = in buffer + overrun
    # the writer laps the reader: events it had not read are lost
    for i in range(8, 40):
        w.fn(A("getname"), A("do_sys_open"), ts=i)
    lapped = read_cpu_buffer(gm.read, w.rb, consume=True)
    assert lapped.lost_events == -1
    assert lapped.events[-1].ts == 39 and lapped.events[0].pos == w.tail


def test_bad_event_size_is_reported():
    gm = GuestMem()
    w = RingWriter(gm, size=128)
    w.fn(1, 2, ts=1)
    gm.write(w.data + 2, struct.pack("<H", 20))  # not a multiple of 8
    with pytest.raises(TraceFormatError):
        read_cpu_buffer(gm.read, w.rb)


def test_merge_order_across_cpus():
    gm = GuestMem()
    w0, w1, w2 = (RingWriter(gm, 1024, cpu=c) for c in range(3))
    w0.fn(A("getname"), 0, ts=10)
    w0.fn(A("getname"), 0, ts=30)
    w0.fn(A("getname"), 0, ts=30)
    w1.fn(A("getname"), 0, ts=20)
    w1.fn(A("getname"), 0, ts=30)
    w2.fn(A("getname"), 0, ts=5)
    w2.fn(A("getname"), 0, ts=50)
    w2.fn(A("getname"), 0, ts=40)  # out of order within CPU 2: kept after ts=50
    bufs = [read_cpu_buffer(gm.read, w.rb) for w in (w2, w0, w1)]
    merged = merge_cpus(bufs)
    assert [(e.ts, e.cpu, e.seq) for e in merged] == [
        (5, 2, 0), (10, 0, 0), (20, 1, 0), (30, 0, 1), (30, 0, 2), (30, 1, 1), (50, 2, 1),
        (40, 2, 2),
    ]
    assert merge_cpus([b.events for b in bufs]) == merged


def test_read_trace_array():
    gm = GuestMem()
    w0 = RingWriter(gm, 256, cpu=0)
    w3 = RingWriter(gm, 256, cpu=3)
    w0.fn(A("getname"), 0, ts=1)
    w3.fn(A("getname"), 0, ts=2)
    ta = gm.alloc(TA_STRUCT_SIZE)
    gm.write(ta + TA_CLOCK, struct.pack("<Q", TRACE_CLOCK_COUNTER))
    gm.write(ta + TA_BUFFERS, struct.pack("<Q", w0.rb))
    gm.write(ta + TA_BUFFERS + 3 * 8, struct.pack("<Q", w3.rb))
    clock, bufs = read_trace_array(gm.read, ta)
    assert clock == "counter"
    assert [b.cpu for b in bufs] == [0, 3]
    assert [e.ts for e in merge_cpus(bufs)] == [1, 2]


# ---------------------------------------------------------------------------------------------
# function tracer text


def function_scenario(gm: GuestMem) -> list:
    w0 = RingWriter(gm, 2048, cpu=0)
    w1 = RingWriter(gm, 2048, cpu=1)
    w0.fn(A("do_syscall_64", 0x10), A("start_kernel", 0x40), ts=17_284_993_417, pid=42)
    w0.fn(A("__x64_sys_openat", 4), A("do_syscall_64", 0x38), ts=17_284_993_999, pid=42,
          pc=1)
    w1.fn(A("irq_handler"), A("worker_fn", 0x20), ts=17_284_994_000, pid=1234,
          flags=TRACE_FLAG_IRQS_OFF | TRACE_FLAG_HARDIRQ, pc=0x11)
    w0.stack([A("getname", 8), A("do_sys_open", 0x30), A("do_syscall_64", 0x38)],
             ts=17_284_995_500, pid=42, flags=TRACE_FLAG_NEED_RESCHED, pc=2)
    w1.bprint(A("bpf_prog_hello", 0x1C), "hello %s pid=%d ret=%ld\n", ["bash", 42, -22],
              ts=17_284_996_000, pid=0)
    w0.marker(A("tracing_mark_write", 0x2C), "checkpoint one\n", ts=17_284_997_000, pid=1)
    w0.marker(0, "no newline", ts=17_284_998_000, pid=77)
    w1.fn(A("schedule"), 0, ts=1_000_017_284_999_000, pid=0, pc=0x0F)
    return merge_cpus([read_cpu_buffer(gm.read, w.rb) for w in (w0, w1)])


@pytest.mark.parametrize("clock", ["local", "counter"])
def test_function_trace_golden(clock):
    gm = GuestMem()
    events = function_scenario(gm)
    ctx = TraceContext(sym=SYMS.sym, comm=comm, ncpus=2, clock=clock,
                       entries_in_buffer=len(events), entries_written=len(events) + 3)
    text = format_function_trace(events, ctx)
    check_golden(f"function_{clock}.txt", text)
    lines = text.splitlines()
    assert lines[2] == "# entries-in-buffer/entries-written: 8/11   #P:2"
    assert lines[4] == "#                                _-----=> irqs-off/BH-disabled"
    assert lines[10] == "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION"
    assert lines[11] == "#              | |         |   |||||     |         |"
    if clock == "local":
        assert lines[12] == ("            bash-42      [000] .....    17.284993: "
                             "do_syscall_64 <-start_kernel")
        # ns2usecs rounds to the nearest microsecond
        assert "17.284994: __x64_sys_openat <-do_syscall_64" in lines[13]
    else:
        assert lines[12] == ("            bash-42      [000] .....  17284993417: "
                             "do_syscall_64 <-start_kernel")
    assert "[001] d.h11" in lines[14]
    assert lines[15].endswith(": <stack trace>") and "[000] .N.2." in lines[15]
    assert lines[16:19] == [" => getname", " => do_sys_open", " => do_syscall_64"]
    assert lines[19].startswith("          <idle>-0       [001] .....")
    assert lines[19].endswith(": bpf_prog_hello: hello bash pid=42 ret=-22")
    assert lines[20].endswith(": tracing_mark_write: checkpoint one")
    assert "kworker/1:1-eve-77" in lines[21]  # comm cut to TASK_COMM_LEN - 1
    assert lines[21].endswith(": tracing_mark_write: no newline")
    assert lines[22].endswith(": schedule") and "[001] ...f." in lines[22]


def test_function_trace_annotates_cpu_start_after_overrun():
    gm = GuestMem()
    w0 = RingWriter(gm, 128, cpu=0)
    w1 = RingWriter(gm, 128, cpu=1)
    for i in range(5):
        w0.fn(A("getname"), A("do_sys_open"), ts=100 + i, pid=1)
    w1.fn(A("worker_fn"), A("schedule"), ts=200, pid=1234)
    bufs = [read_cpu_buffer(gm.read, w.rb) for w in (w0, w1)]
    ctx = TraceContext.from_buffers(bufs, SYMS.sym, comm=comm, clock="counter")
    assert (ctx.entries_in_buffer, ctx.entries_written, ctx.overrun) == (4, 6, 2)
    text = format_function_trace(merge_cpus(bufs), ctx)
    check_golden("function_overrun.txt", text)
    assert "##### CPU 1 buffer started ####\n" in text
    assert "CPU 0 buffer started" not in text


# ---------------------------------------------------------------------------------------------
# function_graph text


def graph_scenario(gm: GuestMem) -> list:
    w0 = RingWriter(gm, 4096, cpu=0)
    w1 = RingWriter(gm, 4096, cpu=1)
    t = 1_000_000
    # CPU 0, pid 42: nested calls with a leaf, a printk inside, and durations at each mark
    w0.ent(A("do_syscall_64"), ts=t, pid=42, depth=0)
    w0.ent(A("do_sys_open"), ts=t + 100, pid=42, depth=1)
    w0.ent(A("__might_sleep"), ts=t + 200, pid=42, depth=2)
    w0.ret(A("__might_sleep"), t + 200, t + 1582, pid=42, depth=2)  # leaf, 1.382 us
    w0.bprint(A("do_sys_open", 0x10), "opening %s flags=%#x %x\n", ["/etc/passwd", 0x8000],
              ts=t + 1600, pid=42)
    w0.ent(A("getname"), ts=t + 2000, pid=42, depth=2)
    w0.ent(A("kmem_cache_alloc"), ts=t + 2100, pid=42, depth=3)
    w0.ret(A("kmem_cache_alloc"), t + 2100, t + 12_100, pid=42, depth=3)  # exactly 10 us: no mark
    w0.ent(A("strncpy_from_user"), ts=t + 12_200, pid=42, depth=3)
    w0.ret(A("strncpy_from_user"), t + 12_200, t + 22_201, pid=42, depth=3)  # 10.001 us: '+'
    w0.ret(A("getname"), t + 2000, t + 102_001, pid=42, depth=2)  # 100.001 us: '!'
    w0.ret(A("do_sys_open"), t + 100, t + 1_000_101, pid=42, depth=1)  # '#'
    w0.ret(A("do_syscall_64"), t, t + 10_000_001, pid=42, depth=0)  # '*'
    w0.marker(A("tracing_mark_write", 4), "between calls\n", ts=t + 10_000_100, pid=42)
    # a return whose entry was lost (overwritten before the trace was read)
    w0.ret(A("rcu_read_lock"), t - 5000, t + 10_000_200, pid=42, depth=1)
    # context switch on CPU 0 to pid 1234
    w0.ent(A("slow_io"), ts=t + 10_000_300, pid=1234, depth=0)
    w0.ret(A("slow_io"), t + 10_000_300, t + 110_000_301, pid=1234, depth=0)  # '@'
    w0.ent(A("very_slow"), ts=t + 110_000_400, pid=1234, depth=0)
    w0.ret(A("very_slow"), t + 110_000_400, t + 1_110_000_401, pid=1234, depth=0)  # '$'
    # CPU 1: an idle-task interrupt, interleaved with CPU 0 by time
    w1.ent(A("irq_handler"), ts=t + 150, pid=0, depth=0, flags=TRACE_FLAG_HARDIRQ)
    w1.fn(A("tick_handle"), A("irq_handler", 8), ts=t + 160, pid=0, flags=TRACE_FLAG_HARDIRQ)
    w1.ret(A("irq_handler"), t + 150, t + 2_150, pid=0, depth=0)
    w1.ent(A("eternal"), ts=t + 3_000, pid=0, depth=0)
    w1.ret(A("eternal"), t + 3_000, t + 12_345_678_901, pid=0, depth=0)  # 7+ digit usecs
    return merge_cpus([read_cpu_buffer(gm.read, w.rb) for w in (w0, w1)])


def test_graph_trace_golden():
    gm = GuestMem()
    events = graph_scenario(gm)
    ctx = TraceContext(sym=SYMS.sym, comm=comm, ncpus=2, clock="local")
    text = format_graph_trace(events, ctx)
    check_golden("function_graph.txt", text)
    lines = text.splitlines()
    assert lines[:4] == [
        "# tracer: function_graph",
        "#",
        "# CPU  DURATION                  FUNCTION CALLS",
        "# |     |   |                     |   |   |   |",
    ]
    assert lines[4] == " 0)               |  do_syscall_64() {"
    assert " 0)   1.382 us    |      __might_sleep();" in lines
    assert " 0)               |      /* opening /etc/passwd flags=%#x 8000 */" in lines
    assert " 0)   10.000 us   |        kmem_cache_alloc();" in lines
    assert " 0) + 10.001 us   |        strncpy_from_user();" in lines
    assert " 0) ! 100.001 us  |      }" in lines
    assert " 0) # 1000.001 us |    }" in lines
    assert " 0) * 10000.00 us |  }" in lines
    assert " 0) * 10005.20 us |    } /* rcu_read_lock */" in lines
    assert " 0) @ 100000.0 us |  slow_io();" in lines
    assert " 0) $ 1000000 us  |  very_slow();" in lines
    assert " 1) $ 12345675 us |  eternal();" in lines
    i = lines.index(" ------------------------------------------")
    assert lines[i:i + 4] == [
        " ------------------------------------------",
        " 0)    bash-42     =>  worker-1234  ",
        " ------------------------------------------",
        "",
    ]


def test_graph_duration_widths():
    assert graph_duration(1382) == "  1.382 us    |  "
    assert graph_duration(10_000) == "  10.000 us   |  "
    assert graph_duration(10_001) == "+ 10.001 us   |  "
    assert graph_duration(123_456_789) == "@ 123456.7 us |  "
    assert graph_duration(1_234_567_890) == "$ 1234567 us  |  "
    assert graph_duration(98_765_432_100) == "$ 98765432 us |  "
    for d in (1382, 10_001, 123_456_789, 1_234_567_890):
        assert len(graph_duration(d)) == len("              |  ")


def test_graph_events_in_function_output():
    gm = GuestMem()
    w = RingWriter(gm, 1024)
    w.ent(A("getname"), ts=5000, pid=42, depth=0)
    w.ret(A("getname"), 5000, 6500, pid=42, depth=0)
    events = read_cpu_buffer(gm.read, w.rb).events
    ctx = TraceContext(sym=SYMS.sym, comm=comm, entries_in_buffer=2, entries_written=2)
    body = format_function_trace(events, ctx).splitlines()[12:]
    assert body == [
        "            bash-42      [000] .....     0.000005:  0)   1.500 us    |  getname();"
    ]


# ---------------------------------------------------------------------------------------------
# JSON Lines and Chrome


def test_json_lines():
    gm = GuestMem()
    events = function_scenario(gm) + graph_scenario(gm)
    ctx = TraceContext(sym=SYMS.sym, comm=comm, symoff=SYMS.symoff, ncpus=2)
    recs = [json.loads(line) for line in format_json(events, ctx).splitlines()]
    assert len(recs) == len(events)
    common = {"type", "cpu", "pid", "comm", "ts", "func", "parent"}
    for rec in recs:
        assert common <= rec.keys()
    fn = recs[0]
    assert fn == {"type": "func", "cpu": 0, "pid": 42, "comm": "bash", "ts": 17_284_993_417,
                  "func": "do_syscall_64", "parent": "start_kernel"}
    stack = next(r for r in recs if r["type"] == "stack")
    assert stack["frames"] == ["getname+0x8/0x100", "do_sys_open+0x30/0x100",
                               "do_syscall_64+0x38/0x100"]
    assert stack["func"] is None and stack["parent"] is None
    printks = [r for r in recs if r["type"] == "printk"]
    assert printks[0]["msg"] == "hello bash pid=42 ret=-22"
    assert printks[0]["func"] == "bpf_prog_hello" and printks[0]["comm"] == "<idle>"
    assert printks[1]["msg"] == "checkpoint one" and printks[1]["func"] == "tracing_mark_write"
    entry = next(r for r in recs if r["type"] == "graph_entry")
    assert entry["func"] == "do_syscall_64" and entry["depth"] == 0 and entry["parent"] is None
    exits = [r for r in recs if r["type"] == "graph_exit"]
    leaf = next(r for r in exits if r["func"] == "__might_sleep")
    assert leaf["duration"] == 1382 and leaf["depth"] == 2
    assert next(r for r in recs if r["func"] == "schedule")["parent"] is None


def test_chrome_trace():
    gm = GuestMem()
    events = graph_scenario(gm) + function_scenario(gm)
    ctx = TraceContext(sym=SYMS.sym, comm=comm, symoff=SYMS.symoff, ncpus=2)
    doc = json.loads(format_chrome(events, ctx))
    assert doc["displayTimeUnit"] == "ns"
    evs = doc["traceEvents"]
    for e in evs:
        assert {"name", "ph", "pid", "tid"} <= e.keys()
        assert e["pid"] == e["tid"]
        if e["ph"] != "M":
            assert isinstance(e["ts"], int | float)
    names = {(e["pid"], e["args"]["name"]) for e in evs if e["name"] == "thread_name"}
    assert {(42, "bash"), (1234, "worker"), (0, "<idle>")} <= names
    slices = {e["name"]: e for e in evs if e["ph"] == "X"}
    assert slices["__might_sleep"]["ts"] == 1000.2 and slices["__might_sleep"]["dur"] == 1.382
    assert slices["rcu_read_lock"]["ts"] == 995  # its entry was lost, the slice is still whole
    instants = [e for e in evs if e["ph"] == "i"]
    assert all(e["s"] == "t" for e in instants)
    fn = next(e for e in instants if e["name"] == "do_syscall_64")
    assert fn["cat"] == "function" and fn["args"]["parent"] == "start_kernel"
    assert fn["ts"] == 17_284_993.417
    pk = next(e for e in instants if e["cat"] == "printk" and "hello" in e["args"]["msg"])
    assert pk["args"]["msg"] == "hello bash pid=42 ret=-22"
    assert not [e for e in evs if e["ph"] in ("B", "E")]
    # counter clock: one unit is one microsecond; an unfinished entry stays open
    w = RingWriter(gm, 512)
    w.ent(A("forever"), ts=70, pid=1, depth=0)
    ctx = TraceContext(sym=SYMS.sym, comm=comm, clock="counter")
    doc = json.loads(format_chrome(read_cpu_buffer(gm.read, w.rb).events, ctx))
    begin = [e for e in doc["traceEvents"] if e["ph"] == "B"]
    assert begin == [{"name": "forever", "cat": "function_graph", "ph": "B", "ts": 70, "pid": 1,
                      "tid": 1, "args": {"cpu": 0, "depth": 0}}]


# ---------------------------------------------------------------------------------------------
# bprintk formatting


@pytest.mark.parametrize(
    ("fmt", "args", "expected"),
    [
        ("%d", [0xFFFFFFFF], "-1"),
        ("%d", [(1 << 32) | 5], "5"),  # only the low 32 bits without a length modifier
        ("%i|%5d|%-5d|%05d|%+d|% d", [-7, -42, 3, -42, 9, 9], "-7|  -42|3    |-0042|+9| 9"),
        ("%ld", [-(2**40)], "-1099511627776"),
        ("%lld %lli", [-1, -2], "-1 -2"),
        ("%llu", [2**64 - 1], "18446744073709551615"),
        ("%u", [-1], "4294967295"),
        ("%lu", [-1], "18446744073709551615"),
        ("%x %X %lx", [0xDEADBEEFCAFE, 0xabc, 0xDEADBEEFCAFE], "beefcafe ABC deadbeefcafe"),
        ("%08x|%-8x|%8X", [0xBEEF, 0xBEEF, 0xBEEF], "0000beef|beef    |    BEEF"),
        ("%+x", [5], "5"),  # no sign for unsigned conversions
        ("%-5d|", [12], "12   |"),
        ("[%c%c] [%3c] [%-3c]", [ord("o"), ord("k"), ord("x"), ord("y")], "[ok] [  x] [y  ]"),
        ("%s=%s", ["key", "a longer value!"], "key=a longer value!"),
        ("[%8s] [%-8s] [%s]", ["abc", "abc", ""], "[     abc] [abc     ] []"),
        ("%p", [0xFFFF888012345678], "0xffff888012345678"),
        ("%p %d", [0, 1], "0x0 1"),
        ("%pS", [A("getname", 0x10)], "getname+0x10/0x100"),
        ("%ps", [A("getname", 0x10)], "getname"),
        ("100%% done", [], "100% done"),
        ("%o %q %d", [5], "%o %q 5"),  # unknown conversions: literal, no argument taken
        ("%5.2f", [], "%5.2f"),  # no precision support: the spec prints literally...
        ("%d %d", [1], "1 %d"),  # a conversion without an argument word prints literally
        ("trailing %", [], "trailing %"),
        ("%lc", [65], "%lc"),
    ],
)
def test_bprintk(fmt, args, expected):
    assert format_bprintk(fmt, encode_args(args), SYMS.sym, SYMS.symoff) == expected


def test_bprint_event_reads_format_from_guest_memory():
    gm = GuestMem()
    w = RingWriter(gm, 512)
    w.bprint(A("worker_fn"), "n=%d s=%s c=%c\n", [-3, "twelve chars", ord("!")], ts=9)
    (ev,) = read_cpu_buffer(gm.read, w.rb).events
    assert isinstance(ev, BprintEvent)
    assert ev.fmt == "n=%d s=%s c=%c\n"
    assert format_bprintk(ev.fmt, ev.words) == "n=-3 s=twelve chars c=!\n"
    # a format string that ends exactly where readable memory ends
    tail = BASE + len(gm.mem) - 3
    gm.write(tail, b"abc")
    assert read_cstring(gm.read, tail) == "abc"


def test_print_event_text():
    gm = GuestMem()
    w = RingWriter(gm, 512)
    w.marker(A("tracing_mark_write"), "hello\0ignored", ts=1)
    (ev,) = read_cpu_buffer(gm.read, w.rb).events
    assert isinstance(ev, PrintEvent) and ev.text == "hello"
    assert isinstance(GraphExitEvent(cpu=0, pid=0, ts=0, func=0, calltime=5, rettime=3).duration,
                      int)
