"""The tracefs model without FUSE: files, semantics and errnos over a lab running the bundled
demo guest (sys_sendfile64(1, 3, 4096) in a loop on 2 harts), driven round by round."""

from __future__ import annotations

import errno
import os
import re
import threading
import time
from pathlib import Path

import pytest

from conftest import ARCH_NAMES
from ftlab.errors import FtlabError
from ftlab.ftrace import abi
from ftlab.ftrace.schemes import get_scheme
from ftlab.ftrace.tracers import TraceInstance
from ftlab.machine.task import TaskState
from ftlab.session import load
from ftlab.tracefs import Driver, Lab, Tracefs
from ftlab.tracefs.model import ALL_OPTIONS

DEMO = Path(__file__).parent.parent / "ftlab" / "examples" / "demo.c"
FUNCS = ["do_empty", "meminfo_proc_show", "seq_read_iter", "proc_reg_read_iter",
         "copy_splice_read", "vfs_splice_read", "splice_direct_to_actor", "do_splice_direct",
         "do_sendfile", "sys_sendfile64"]
_images: dict[str, object] = {}


def make_lab(arch: str = "x86_64", harts: int = 2) -> Lab:
    if arch not in _images:
        _images[arch] = load([DEMO], arch, scheme=get_scheme(arch, None).name)
    lab = Lab(_images[arch], harts=harts)  # type: ignore[arg-type]
    lab.start("sys_sendfile64", [1, 3, 4096])
    return lab


@pytest.fixture
def lab() -> Lab:
    return make_lab()


@pytest.fixture
def fs(lab) -> Tracefs:
    return Tracefs(lab)


def errno_of(fn, *args, **kwargs) -> int:
    with pytest.raises(OSError) as info:
        fn(*args, **kwargs)
    return info.value.errno


def body(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def funcs_in(text: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r": (\w+) <-", text)}


def header_counts(text: str) -> tuple[int, int]:
    m = re.search(r"entries-in-buffer/entries-written: (\d+)/(\d+)", text)
    assert m, text[:300]
    return int(m.group(1)), int(m.group(2))


def drain(fs: Tracefs, path: str = "/trace_pipe") -> str:
    out = []
    while chunk := fs.read(path, nonblock=True):
        out.append(chunk)
    return "".join(out)


# --- the tree ---------------------------------------------------------------------------------
def test_tree_and_lookup_errors(fs):
    top = fs.listdir("/")
    for name in ("README", "trace", "trace_pipe", "current_tracer", "available_tracers",
                 "tracing_on", "trace_marker", "trace_clock", "buffer_size_kb",
                 "buffer_total_size_kb", "set_ftrace_filter", "set_ftrace_notrace",
                 "set_ftrace_pid", "set_graph_function", "set_graph_notrace",
                 "max_graph_depth", "available_filter_functions", "enabled_functions",
                 "options", "per_cpu", "instances"):
        assert name in top
    assert fs.listdir("/per_cpu") == ["cpu0", "cpu1"]
    assert fs.listdir("/per_cpu/cpu1") == ["buffer_size_kb", "stats", "trace", "trace_pipe",
                                           "trace_pipe_raw"]
    assert {"func_stack_trace", "stacktrace", "funcgraph-irqs",
            "function-fork"} <= set(fs.listdir("/options"))
    assert fs.listdir("/instances") == []
    assert errno_of(fs.lookup, "/nosuch") == errno.ENOENT
    assert errno_of(fs.lookup, "/per_cpu/cpu2/trace") == errno.ENOENT
    assert errno_of(fs.lookup, "/options/nosuch") == errno.ENOENT
    assert errno_of(fs.open, "/options") == errno.EISDIR
    assert errno_of(fs.listdir, "/trace") == errno.ENOTDIR
    assert fs.stat("/trace")["st_mode"] & 0o777 == 0o640
    assert fs.stat("/trace_marker")["st_mode"] & 0o777 == 0o220
    assert fs.stat("/instances")["st_mode"] & 0o40000
    assert errno_of(fs.read, "/trace_marker") == errno.EINVAL  # no read op
    assert errno_of(fs.write, "/available_tracers", "x") == errno.EINVAL  # no write op
    assert errno_of(fs.mkdir, "/options/x") == errno.EPERM
    assert errno_of(fs.rmdir, "/instances/nosuch") == errno.ENOENT
    assert "tracing mini-HOWTO" in fs.read("/README")
    assert fs.read("/available_filter_functions").split() == FUNCS
    addrs = fs.read("/available_filter_functions_addrs").splitlines()
    assert [line.split()[1] for line in addrs] == FUNCS


def test_tracers(fs, lab):
    assert fs.read("/available_tracers") == "function_graph function nop\n"
    assert fs.read("/current_tracer") == "nop\n"
    for tracer in ("function", "function_graph", "nop"):
        fs.write("/current_tracer", tracer + "\n")
        assert fs.read("/current_tracer") == tracer + "\n"
        assert fs.read("/trace").startswith(f"# tracer: {tracer}\n")
    assert errno_of(fs.write, "/current_tracer", "wakeup") == errno.EINVAL
    assert errno_of(fs.write, "/current_tracer", "\n") == errno.EINVAL
    fs.write("/current_tracer", "function")
    lab.step(5)
    assert body(fs.read("/trace"))
    fs.write("/current_tracer", "function")  # the same tracer: no reset
    assert body(fs.read("/trace"))
    fs.write("/current_tracer", "function_graph")  # tracer_init resets the buffer
    assert body(fs.read("/trace")) == []


def test_tracing_on_stops_recording_not_the_workload(fs, lab):
    fs.write("/current_tracer", "function")
    fs.write("/tracing_on", "0")
    assert fs.read("/tracing_on") == "0\n"
    done = lab.machine.mem.u64(lab.tasks[0].struct_addr + 112)
    lab.step(10)
    assert body(fs.read("/trace")) == []
    assert lab.machine.mem.u64(lab.tasks[0].struct_addr + 112) > done  # still running
    fs.write("/tracing_on", "1\n")
    lab.step(2)
    assert body(fs.read("/trace"))
    assert errno_of(fs.write, "/tracing_on", "on") == errno.EINVAL
    assert errno_of(fs.write, "/tracing_on", "-1") == errno.EINVAL


# --- filters -------------------------------------------------------------------------------------
def test_filter_replace_append_remove_clear(fs):
    assert fs.read("/set_ftrace_filter") == "#### all functions enabled ####\n"
    fs.write("/set_ftrace_filter", "do_*\n")
    assert fs.read("/set_ftrace_filter").split() == ["do_empty", "do_splice_direct",
                                                     "do_sendfile"]
    fs.write("/set_ftrace_filter", "vfs_splice_read")  # replaces
    assert fs.read("/set_ftrace_filter") == "vfs_splice_read\n"
    fs.write("/set_ftrace_filter", "*splice* sys_sendfile64", append=True)
    assert set(fs.read("/set_ftrace_filter").split()) == {
        "vfs_splice_read", "copy_splice_read", "splice_direct_to_actor", "do_splice_direct",
        "sys_sendfile64"}
    fs.write("/set_ftrace_filter", "!*splice*", append=True)
    assert fs.read("/set_ftrace_filter") == "sys_sendfile64\n"
    # a glob matching nothing: EINVAL; with >> the filter stays
    assert errno_of(fs.write, "/set_ftrace_filter", "nosuch", append=True) == errno.EINVAL
    assert errno_of(fs.write, "/set_ftrace_filter", "!nosuch", append=True) == errno.EINVAL
    assert fs.read("/set_ftrace_filter") == "sys_sendfile64\n"
    # tokens before the bad one take effect, as the kernel's parser does
    assert errno_of(fs.write, "/set_ftrace_filter", "do_empty nosuch",
                    append=True) == errno.EINVAL
    assert fs.read("/set_ftrace_filter").split() == ["do_empty", "sys_sendfile64"]
    # with > the open truncated the filter: it is gone (the kernel applies the empty hash)
    assert errno_of(fs.write, "/set_ftrace_filter", "nosuch") == errno.EINVAL
    assert fs.read("/set_ftrace_filter") == "#### all functions enabled ####\n"
    fs.write("/set_ftrace_filter", "do_empty")
    fs.write("/set_ftrace_filter", "\n")  # echo > set_ftrace_filter
    assert fs.read("/set_ftrace_filter") == "#### all functions enabled ####\n"
    # open with O_TRUNC and close without writing clears too
    fs.write("/set_ftrace_filter", "do_empty")
    fs.release(fs.open("/set_ftrace_filter", os.O_WRONLY | os.O_TRUNC))
    assert fs.read("/set_ftrace_filter") == "#### all functions enabled ####\n"
    # a plain O_WRONLY open appends
    fh = fs.open("/set_ftrace_filter", os.O_WRONLY)
    fs.pwrite(fh, b"do_empty\n")
    fs.pwrite(fh, b"do_sendfile\n")
    fs.release(fh)
    assert fs.read("/set_ftrace_filter").split() == ["do_empty", "do_sendfile"]


def test_filter_token_split_across_large_writes(fs):
    fh = fs.open("/set_ftrace_filter", os.O_WRONLY | os.O_TRUNC)
    first = ("do_empty " * 600 + "do_send").encode()
    assert len(first) > 4096
    fs.pwrite(fh, first)
    fs.pwrite(fh, b"file\n")
    fs.release(fh)
    assert fs.read("/set_ftrace_filter").split() == ["do_empty", "do_sendfile"]


def test_filters_shape_the_trace_and_enabled_functions(fs, lab):
    assert fs.read("/enabled_functions") == ""
    fs.write("/set_ftrace_filter", "do_* *splice*")
    fs.write("/set_ftrace_notrace", "do_splice_direct")
    assert fs.read("/set_ftrace_notrace") == "do_splice_direct\n"
    assert fs.read("/enabled_functions") == ""  # nop: nothing patched
    fs.write("/current_tracer", "function")
    lab.step(5)
    traced = funcs_in(fs.read("/trace"))
    want = {"do_empty", "do_sendfile", "copy_splice_read", "vfs_splice_read",
            "splice_direct_to_actor"}
    assert traced == want
    enabled = {line.split()[0] for line in fs.read("/enabled_functions").splitlines()}
    assert enabled == want
    patched = {r.func for r in lab.ftrace.records if r.call is not None}
    assert patched == want
    assert all("(1)" in line for line in fs.read("/enabled_functions").splitlines())
    fs.write("/set_ftrace_notrace", "")
    assert fs.read("/set_ftrace_notrace") == "#### no functions disabled ####\n"
    fs.write("/current_tracer", "nop")
    assert fs.read("/enabled_functions") == ""
    assert all(r.call is None for r in lab.ftrace.records)


def test_set_ftrace_pid(fs, lab):
    assert fs.read("/set_ftrace_pid") == "no pid\n"
    fs.write("/current_tracer", "function")
    fs.write("/set_ftrace_pid", "101")
    assert fs.read("/set_ftrace_pid") == "101\n"
    assert lab.machine.mem.u64(lab.top.addr + abi.TA_PID_FILTER) == 101  # the guest's filter
    lab.step(5)
    assert {line.split()[0] for line in body(fs.read("/trace"))} == {"sys_sendfile64-101"}
    fs.write("/set_ftrace_pid", "100", append=True)  # two pids: filtered when read
    assert fs.read("/set_ftrace_pid") == "101\n100\n"
    fs.write("/trace", "")
    lab.step(5)
    assert {line.split()[0] for line in body(fs.read("/trace"))} == {
        "sys_sendfile64-100", "sys_sendfile64-101"}
    fs.write("/set_ftrace_pid", "100")
    assert fs.read("/set_ftrace_pid") == "100\n"
    assert errno_of(fs.write, "/set_ftrace_pid", "abc") == errno.EINVAL
    fs.write("/set_ftrace_pid", "")
    assert fs.read("/set_ftrace_pid") == "no pid\n"
    assert lab.machine.mem.u64(lab.top.addr + abi.TA_PID_FILTER) == 0


# --- clocks, markers, options -------------------------------------------------------------------
def test_trace_clock(fs, lab):
    # the kernel's list and order (6.1 x86_64 capture); ftlab starts on counter
    ref = Path("../shared/reference/linux-6.1-x86_64/trace_clock_at_boot.txt")
    if ref.exists():
        assert fs.read("/trace_clock").replace("[", "").replace("]", "") == (
            ref.read_text().replace("[", "").replace("]", ""))
    assert fs.read("/trace_clock") == (
        "local global [counter] uptime perf mono mono_raw boot tai x86-tsc\n")
    assert errno_of(fs.write, "/trace_clock", "jiffies") == errno.EINVAL
    fs.write("/current_tracer", "function")
    fs.write("/trace_clock", "global")
    assert "[global]" in fs.read("/trace_clock")
    fs.write("/trace_clock", "local")
    assert fs.read("/trace_clock").startswith("[local] global counter")
    lab.step(3)
    fs.write("/trace_marker", "after")
    lines = body(fs.read("/trace"))
    assert lines and all(re.search(r" \d+\.\d{6}: ", line) for line in lines)
    assert "tracing_mark_write: after" in lines[-1]  # ordered after the guest's events
    fs.write("/trace_clock", "counter")
    assert body(fs.read("/trace")) == []  # changing the clock resets the buffer
    lab.step(2)
    assert all(re.search(r" \d+: ", line) for line in body(fs.read("/trace")))


def test_guest_time_runs_only_while_used(fs, lab):
    """The guest-time hooks (a Python call per block) are attached only while an instance
    uses a time clock or function_graph; detached, the time stands still."""
    fs.write("/current_tracer", "function_graph")
    gt = lab.machine.guest_time
    assert gt.hooks
    lab.step(2)
    t = gt.now(0)
    assert t > 0
    fs.write("/current_tracer", "function")
    assert not gt.hooks
    lab.step(2)
    assert gt.now(0) == t
    fs.mkdir("/instances/x")
    fs.write("/instances/x/trace_clock", "mono")
    assert gt.hooks
    lab.step(1)
    assert gt.now(0) > t
    fs.rmdir("/instances/x")
    assert not gt.hooks


def test_trace_marker(fs, lab):
    assert fs.write("/trace_marker", "hello", pid=4242) == 5
    fs.comms[4242] = "myshell"
    lines = body(fs.read("/trace"))
    assert len(lines) == 1
    assert re.match(r"\s+myshell-4242\s+\[000\] \.{5}\s+\d+: tracing_mark_write: hello$",
                    lines[0]), lines
    assert fs.write("/trace_marker", "x" * 5000) == 4096  # TRACE_MARKER_MAX_SIZE
    # more than a sub-buffer holds (4080 - 24 - 2 bytes) is split over two events (6.12)
    parts = [line.split("tracing_mark_write: ")[1] for line in body(fs.read("/trace"))[-2:]]
    assert [len(p) for p in parts] == [4054, 42] and "".join(parts) == "x" * 4096
    fs.write("/options/markers", "0")
    assert errno_of(fs.write, "/trace_marker", "no") == errno.EINVAL
    fs.write("/options/markers", "1")
    fs.write("/tracing_on", "0")
    assert errno_of(fs.write, "/trace_marker", "off") == errno.EBADF
    fs.write("/tracing_on", "1")
    # markers interleave with the guest's events in a running buffer
    fs.write("/current_tracer", "function")
    for i in range(20):
        lab.step(1)
        fs.write("/trace_marker", f"m{i}")
    text = fs.read("/trace")
    assert [int(m) for m in re.findall(r"tracing_mark_write: m(\d+)", text)] == list(range(20))
    assert len(funcs_in(text)) == len(FUNCS)
    # a small buffer takes events of a quarter of it at most: the write is split
    fs.write("/buffer_size_kb", "4")
    assert fs.write("/trace_marker", "y" * 3000) == 3000
    last = body(fs.read("/trace"))[-1].split("tracing_mark_write: ")[1]
    assert 0 < len(last) < 1024 and set(last) == {"y"}


def test_options(fs, lab):
    assert set(fs.listdir("/options")) == set(ALL_OPTIONS)
    assert fs.read("/options/func_stack_trace") == "0\n"
    assert fs.read("/options/print-parent") == "1\n"
    fs.write("/set_ftrace_filter", "do_empty")
    fs.write("/current_tracer", "function")
    fs.write("/options/func_stack_trace", "1")
    lab.step(3)
    text = fs.read("/trace")
    assert "<stack trace>" in text and " => meminfo_proc_show" in text
    assert "func_stack_trace\n" in fs.read("/trace_options")
    fs.write("/trace_options", "nofunc_stack_trace")
    assert fs.read("/options/func_stack_trace") == "0\n"
    fs.write("/options/print-parent", "0")
    assert "noprint-parent\n" in fs.read("/trace_options")
    fs.write("/trace", "")
    lab.step(3)
    text = fs.read("/trace")
    assert "<stack trace>" not in text and " <-" not in text and "do_empty" in text
    fs.write("/options/function-fork", "1")
    assert fs.read("/options/function-fork") == "1\n"
    assert errno_of(fs.write, "/options/stacktrace", "2") == errno.EINVAL
    assert errno_of(fs.write, "/trace_options", "nosuch") == errno.EINVAL


# --- buffers -------------------------------------------------------------------------------------
def test_buffer_sizes_and_resize_keeps_the_newest(fs, lab):
    # the kernel's 4080-byte sub-buffers: 1408 reads back as 1410 (reference capture)
    assert fs.read("/buffer_size_kb") == "1410\n"
    assert fs.read("/buffer_total_size_kb") == "2820\n"
    for i in range(300):
        fs.write("/trace_marker", f"marker-{i:03d}")
    fs.write("/buffer_size_kb", "3")  # two sub-buffers at least
    assert fs.read("/buffer_size_kb") == "7\n"
    text = fs.read("/trace")
    kept = [int(m) for m in re.findall(r"marker-(\d+)", text)]
    assert kept == list(range(300 - len(kept), 300)) and 0 < len(kept) < 300
    assert header_counts(text) == (len(kept), 300)  # dropped ones count as overrun
    fs.write("/per_cpu/cpu1/buffer_size_kb", "8")
    assert fs.read("/buffer_size_kb") == "X\n"
    assert fs.read("/per_cpu/cpu1/buffer_size_kb") == "11\n"
    assert fs.read("/buffer_total_size_kb") == "18\n"
    assert errno_of(fs.write, "/buffer_size_kb", "0") == errno.EINVAL
    assert errno_of(fs.write, "/buffer_size_kb", "lots") == errno.EINVAL
    assert errno_of(fs.write, "/buffer_size_kb", str(1 << 30)) == errno.ENOMEM


def test_trace_o_trunc_and_per_cpu(fs, lab):
    fs.write("/current_tracer", "function")
    lab.step(5)
    for cpu in (0, 1):
        lines = body(fs.read(f"/per_cpu/cpu{cpu}/trace"))
        assert lines and all(f"[{cpu:03d}]" in line for line in lines)
    fs.write("/tracing_on", "0")
    fs.write("/per_cpu/cpu0/trace", "")
    assert body(fs.read("/per_cpu/cpu0/trace")) == []
    assert body(fs.read("/per_cpu/cpu1/trace"))
    assert "entries: 0\n" in fs.read("/per_cpu/cpu0/stats")
    fs.release(fs.open("/trace", os.O_WRONLY | os.O_TRUNC))
    assert body(fs.read("/trace")) == []
    fs.truncate("/trace")
    stats = fs.read("/per_cpu/cpu1/stats")
    for key in ("entries:", "overrun:", "commit overrun:", "bytes:", "oldest event ts:",
                "now ts:", "dropped events:", "read events:"):
        assert key in stats


# --- trace_pipe ----------------------------------------------------------------------------------
def test_trace_pipe_consumes_each_record_once(fs, lab):
    """Reads interleaved with the workload and with filter changes: every record the guest
    wrote is read exactly once (the buffer never overflows here)."""
    fs.write("/current_tracer", "function")
    seen = []
    globs = ["do_*", "*splice*", "sys_sendfile64", "!do_sendfile", "meminfo_proc_show"]
    for i in range(40):
        lab.step(2)
        if i % 8 == 0:
            fs.write("/set_ftrace_filter", globs[i // 8], append=True)
            fs.write("/trace_marker", f"mark-{i}")
        seen.append(fs.read("/trace_pipe", nonblock=True))
    seen.append(drain(fs))
    text = "".join(seen)
    lines = text.splitlines()
    assert "LOST" not in text
    stamps = [line.split()[3] for line in lines]
    assert len(stamps) == len(set(stamps)) > 100
    written = sum(lab.machine.mem.u64(rb + abi.RB_ENTRIES) for rb in lab.top.buffers)
    assert len(lines) == written  # nothing lost, nothing twice
    assert [int(m) for m in re.findall(r"mark-(\d+)", text)] == [0, 8, 16, 24, 32]
    assert body(fs.read("/trace")) == []  # consumed records are gone from `trace`
    assert header_counts(fs.read("/trace")) == (0, 0)


def test_trace_pipe_blocks_and_wakes(fs, lab):
    assert fs.read("/trace_pipe", nonblock=True) == ""
    fh = fs.open("/trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    assert errno_of(fs.pread, fh, 4096) == errno.EAGAIN
    fs.release(fh)
    t0 = time.monotonic()
    assert fs.read("/trace_pipe", timeout=0.2) == ""  # blocks (running rounds itself)
    assert time.monotonic() - t0 >= 0.2
    fs.write("/current_tracer", "function")
    assert "sys_sendfile64" in fs.read("/trace_pipe")  # blocks until there is a record
    fh = fs.open("/trace_pipe")
    out = fs.pread(fh, 200)
    assert 0 < len(out) <= 200 and out.endswith(b"\n")  # whole lines that fit
    part = fs.pread(fh, 10)
    assert len(part) == 10  # a line longer than the read: the rest comes next
    rest = fs.pread(fh, 4096)
    assert (part + rest).decode().endswith("\n") and b"\n" not in part
    fs.release(fh)


def test_overrun_counts_as_the_kernel_counts(fs, lab):
    """The guest writer counts consumed-then-overwritten events as overruns; the kernel's
    consumed events are never overwritten. tracefs reports the kernel's numbers."""
    fs.write("/buffer_size_kb", "4")
    fs.write("/current_tracer", "function")
    fs.write("/set_ftrace_pid", "100")  # one task, one CPU's buffer (tasks stay put)
    lab.step(4)
    first = drain(fs)
    consumed = len(body(first)) - first.count("LOST")
    lab.step(60)  # wraps the 4 KB buffer many times
    text = fs.read("/trace")
    in_buffer, written = header_counts(text)
    total = sum(lab.machine.mem.u64(rb + abi.RB_ENTRIES) for rb in lab.top.buffers)
    guest_overrun = sum(lab.machine.mem.u64(rb + abi.RB_OVERRUN) for rb in lab.top.buffers)
    assert guest_overrun > total - in_buffer - consumed  # the guest counted consumed ones
    assert written - in_buffer == total - in_buffer - consumed  # overrun: never read
    pipe = drain(fs)
    lost = sum(int(n) for n in re.findall(r"CPU:\d+ \[LOST (\d+) EVENTS\]", pipe))
    assert lost == written - in_buffer
    assert len(body(pipe)) - pipe.count("LOST") == in_buffer
    assert "[LOST" not in drain(fs)


def test_pipe_reads_with_lost_events_end_on_a_line(fs, lab):
    """A [LOST N EVENTS] line counts in the read's size: no read ends inside a line."""
    fs.write("/buffer_size_kb", "4")
    fs.write("/current_tracer", "function")
    fh = fs.open("/trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    reads = []
    try:
        for size in range(150, 400, 10):
            lab.step(8)  # overwrites unread events: the read starts with a LOST line
            reads.append(fs.pread(fh, size).decode())
    finally:
        fs.release(fh)
    assert sum("LOST" in r for r in reads) > 10
    assert [r for r in reads if not r.endswith("\n")] == []


# --- function_graph -----------------------------------------------------------------------------
def graph_depths(text: str) -> list[int]:
    out = []
    for line in body(text):
        m = re.match(r" \d\) [^|]*\|  ( *)\S", line)
        if m:
            out.append(len(m.group(1)) // 2)
    return out


def test_max_graph_depth(fs, lab):
    fs.write("/max_graph_depth", "3")
    assert fs.read("/max_graph_depth") == "3\n"
    fs.write("/current_tracer", "function_graph")
    lab.step(5)
    text = fs.read("/trace")
    assert max(graph_depths(text)) == 2
    assert "do_splice_direct();" in text
    fs.write("/max_graph_depth", "0")
    fs.write("/trace", "")
    lab.step(5)
    assert max(graph_depths(fs.read("/trace"))) == 9
    assert errno_of(fs.write, "/max_graph_depth", "-2") == errno.EINVAL


def test_set_graph_function_and_notrace(fs, lab):
    assert fs.read("/set_graph_function") == "#### all functions enabled ####\n"
    assert fs.read("/set_graph_notrace") == "#### no functions disabled ####\n"
    fs.write("/set_graph_function", "vfs_splice_read")
    fs.write("/current_tracer", "function_graph")
    lab.step(5)
    text = fs.read("/trace")
    assert "|  vfs_splice_read() {" in text  # depth 0: counted from the graph function
    assert "sys_sendfile64" not in text and "do_splice_direct" not in text
    assert max(graph_depths(text)) == 5
    fs.write("/set_graph_notrace", "seq_read_iter")
    text = fs.read("/trace")
    assert "seq_read_iter" not in text and "do_empty" not in text
    assert "proc_reg_read_iter();" in text
    fs.write("/set_graph_notrace", "")
    fs.write("/max_graph_depth", "2")
    fs.write("/trace", "")
    lab.step(5)
    text = fs.read("/trace")
    assert max(graph_depths(text)) == 1 and "copy_splice_read();" in text
    # the pipe applies the same view
    pipe = drain(fs)
    assert "sys_sendfile64" not in pipe and "vfs_splice_read() {" in pipe
    assert errno_of(fs.write, "/set_graph_function", "nosuch") == errno.EINVAL


def test_graph_pipe_keeps_state_between_reads(fs, lab):
    """Small reads split the graph often; trace_pipe still prints what `trace` prints."""
    fs.write("/current_tracer", "function_graph")
    lab.step(20)
    whole = body(fs.read("/trace"))
    out = []
    fh = fs.open("/trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    try:
        while True:
            out.append(fs.pread(fh, 300).decode())
    except OSError as err:
        assert err.errno == errno.EAGAIN
    fs.release(fh)
    assert "".join(out).splitlines() == whole
    assert "} /*" not in "".join(out)


# --- instances ----------------------------------------------------------------------------------
def test_instances_are_independent(fs, lab):
    fs.mkdir("/instances/foo")
    assert fs.listdir("/instances") == ["foo"]
    assert errno_of(fs.mkdir, "/instances/foo") == errno.EEXIST
    assert "available_filter_functions" not in fs.listdir("/instances/foo")
    assert errno_of(fs.lookup, "/instances/foo/set_graph_function") == errno.ENOENT
    fs.write("/instances/foo/set_ftrace_filter", "do_empty")
    fs.write("/instances/foo/current_tracer", "function")
    fs.write("/set_ftrace_filter", "do_sendfile")
    fs.write("/current_tracer", "function_graph")
    fs.write("/instances/foo/trace_marker", "in-foo")
    lab.step(5)
    foo, top = fs.read("/instances/foo/trace"), fs.read("/trace")
    assert funcs_in(foo) == {"do_empty"} and "in-foo" in foo
    assert "in-foo" not in top and "do_sendfile();" in top and "do_empty" not in top
    enabled = fs.read("/enabled_functions")
    assert {line.split(" (")[0] for line in enabled.splitlines()} == {"do_empty", "do_sendfile"}
    fs.write("/instances/foo/tracing_on", "0")
    assert fs.read("/tracing_on") == "1\n"
    fs.write("/instances/foo/options/func_stack_trace", "1")
    assert fs.read("/options/func_stack_trace") == "0\n"
    fs.write("/instances/foo/trace_clock", "local")
    assert "[counter]" in fs.read("/trace_clock")
    fs.rmdir("/instances/foo")
    assert fs.listdir("/instances") == []
    assert {line.split()[0] for line in fs.read("/enabled_functions").splitlines()} == {
        "do_sendfile"}


def test_rmdir_busy_with_trace_pipe_open(fs, lab, monkeypatch):
    monkeypatch.setattr("ftlab.tracefs.model.BUSY_WAIT", 0.05)
    fs.mkdir("/instances/busy")
    fh = fs.open("/instances/busy/trace")  # any open file holds the instance (EBUSY)
    assert errno_of(fs.rmdir, "/instances/busy") == errno.EBUSY
    fs.release(fh)
    fh = fs.open("/instances/busy/trace_pipe")
    assert errno_of(fs.rmdir, "/instances/busy") == errno.EBUSY
    assert errno_of(fs.write, "/instances/busy/current_tracer", "function") == errno.EBUSY
    fs.release(fh)
    fs.rmdir("/instances/busy")


def test_instance_memory_is_recycled(fs, lab):
    fs.mkdir("/instances/a")
    lab.step(3)
    fs.rmdir("/instances/a")
    lab.step(3)
    heap = lab.machine.heap.next
    for _ in range(10):
        fs.mkdir("/instances/a")
        fs.write("/instances/a/current_tracer", "function_graph")
        lab.step(3)
        fs.rmdir("/instances/a")
        lab.step(3)
    assert lab.machine.heap.next - heap < 64 << 10  # ops and hashes only, no buffers
    assert all(t.state != TaskState.FAULTED for t in lab.tasks)


def test_lab_instance_has_every_trace_instance_field(lab):
    plain = TraceInstance(lab.ftrace, "plain", buffer_kb=4)
    assert set(vars(plain)) <= set(vars(lab.top))


# --- the driver ----------------------------------------------------------------------------------
def test_driver_runs_between_filesystem_operations(fs, lab):
    fs.write("/current_tracer", "function")
    got: list[str] = []
    with Driver(lab):
        reader = threading.Thread(target=lambda: got.append(fs.read("/trace_pipe")))
        reader.start()
        reader.join(10)
        assert got and "sys_sendfile64" in got[0]
        for glob in ("do_*", "*splice*", "!do_empty", "sys_sendfile64"):
            fs.write("/set_ftrace_filter", glob, append=True)
            time.sleep(0.01)
        rounds = lab.lock.rounds
        time.sleep(0.1)
        assert lab.lock.rounds > rounds  # the workload runs on its own
        fs.write("/trace_marker", "with-driver")
        assert "with-driver" in fs.read("/trace")
    assert not lab.faults
    assert all(t.state == TaskState.RUNNING or t.state == TaskState.RUNNABLE
               for t in lab.tasks)


def test_fault_is_reported(lab):
    seen = []
    lab.on_fault = seen.append
    task = lab.tasks[0]
    lab.step(1)
    lab.machine.harts[0].set_reg(lab.machine.arch.pc, 0)  # jump to nowhere
    lab.step(2)
    assert task.state == TaskState.FAULTED and seen == [task] and lab.faults


# --- every architecture --------------------------------------------------------------------------
@pytest.mark.parametrize("arch", [*ARCH_NAMES, "x86_32"])
def test_every_arch_filters_pipe_and_graph(arch):
    lab = make_lab(arch)
    fs = Tracefs(lab)
    fs.write("/set_ftrace_filter", "do_* *splice*")
    fs.write("/current_tracer", "function")
    seen = []
    for glob in ("!do_empty", "meminfo_proc_show", "!*splice*"):
        lab.step(3)
        seen.append(drain(fs))
        fs.write("/set_ftrace_filter", glob, append=True)
    lab.step(3)
    seen.append(drain(fs))
    text = "".join(seen)
    stamps = [line.split()[3] for line in text.splitlines()]
    assert len(stamps) == len(set(stamps)) > 20
    assert len(text.splitlines()) == sum(lab.machine.mem.u64(rb + abi.RB_ENTRIES)
                                         for rb in lab.top.buffers)
    fs.write("/current_tracer", "function_graph")
    fs.write("/max_graph_depth", "2")
    lab.step(3)
    assert max(graph_depths(fs.read("/trace"))) <= 1
    assert all(t.fault is None for t in lab.tasks)


# --- the command ---------------------------------------------------------------------------------
def test_command_is_registered(capsys):
    from ftlab.cli import main

    with pytest.raises(SystemExit):
        main(["tracefs", "--help"])
    out = capsys.readouterr().out
    assert "MOUNTPOINT" in out and "--scheme" in out and "--entry" in out
    assert main(["tracefs", "/tmp"]) == 2  # usage error: no FILE, --arch, --entry


def test_missing_fusepy_is_a_clear_error(monkeypatch, tmp_path, capsys):
    import sys

    from ftlab.cli import main

    monkeypatch.setitem(sys.modules, "fuse", None)  # import fuse -> ImportError
    code = main(["tracefs", str(tmp_path), str(DEMO), "--arch", "x86_64",
                 "--entry", "sys_sendfile64", "--args", "1,3,4096"])
    err = capsys.readouterr().err
    assert code == 1 and "fusepy" in err and "libfuse2" in err


def test_bad_mountpoint(monkeypatch, tmp_path, capsys):
    from ftlab.tracefs import fuse as tfuse

    with pytest.raises(FtlabError, match="not a directory"):
        tfuse.prepare_mountpoint(str(tmp_path / "nosuch"))
