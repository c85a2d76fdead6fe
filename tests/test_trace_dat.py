"""`ftlab trace --format dat`: trace-cmd's file format (v6), read back by Debian's real
`trace-cmd report`, which must print the events ftlab's own text output shows."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import guest
from ftlab.cli import main
from ftlab.trace.dat import PAGE_SIZE, DatInput, write_dat
from ftlab.trace.events import FuncEvent

TRACE_CMD = shutil.which("trace-cmd")
needs_trace_cmd = pytest.mark.skipif(
    TRACE_CMD is None, reason="Debian's trace-cmd is not installed (apt-get install trace-cmd)")
DEMO = str(Path(__file__).parent.parent / "ftlab" / "examples" / "demo.c")
DEMO_ARGS = ["--entry", "sys_sendfile64", "--args", "1,3,4096", "--harts", "2"]

# "  comm-pid  [cpu]  ts: function:   name <-- parent" (trace-cmd report -N: the format's print fmt)
REPORT_FN = re.compile(r"^\s*(\S+)-(\d+)\s+\[(\d+)\]\s+(\d+): function:\s+(\S+) <-- (\S+)$")
# "  comm-pid  [cpu] .....  ts: name <-parent" (ftlab's kernel-format text)
TEXT_FN = re.compile(r"^\s*(\S+)-(\d+)\s+\[(\d+)\] \S+\s+(\d+): (\S+) <-(\S+)$")


def report(path: Path) -> str:
    done = subprocess.run([TRACE_CMD, "report", "-N", "-i", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def ftlab_trace(capsys, *argv: str) -> str:
    assert main(["trace", *argv]) == 0
    return capsys.readouterr().out


@needs_trace_cmd
@pytest.mark.parametrize("arch", ["x86_64", "riscv64"])
def test_report_matches_text(capsys, tmp_path, arch):
    text = ftlab_trace(capsys, DEMO, "--arch", arch, *DEMO_ARGS)
    dat = tmp_path / "trace.dat"
    ftlab_trace(capsys, DEMO, "--arch", arch, *DEMO_ARGS, "--format", "dat", "-o", str(dat))
    ours = [m.groups() for line in text.splitlines() if (m := TEXT_FN.match(line))]
    theirs = [m.groups() for line in report(dat).splitlines() if (m := REPORT_FN.match(line))]
    assert len(ours) >= 20 and {o[2] for o in ours} == {"000", "001"}
    assert theirs == ours  # comm, pid, cpu, counter timestamp, function, parent


@needs_trace_cmd
def test_report_printk_and_stack(capsys, tmp_path):
    dat = tmp_path / "p.dat"
    ftlab_trace(capsys, str(guest("printk.c")), "--arch", "arm64", "--entry", "printk_entry",
                "--args", "7", "--filter", "outer", "--option", "stacktrace", "--format", "dat",
                "-o", str(dat))
    out = report(dat)
    assert "print:                inner: inner x=7 hex=000006f9 name=ftlab neg=-5" in out
    assert re.search(r"kernel_stack:\s+\t=> inner\n\t=> outer\n\t=> printk_entry\n", out)


@needs_trace_cmd
def test_pages_and_time_extends(tmp_path):
    """Many events over several pages, deltas past the 27-bit field: trace-cmd decodes every
    timestamp (counter clock: printed raw) and every pid as written."""
    ts, events = 5, []
    for i in range(500):
        ts += (1 << 27) + 3 if i % 7 == 0 else i
        events.append(FuncEvent(cpu=1, pid=200 + i % 3, ts=ts, ip=0x1000, parent_ip=0x2000))
    data = write_dat(DatInput(
        ncpus=2, cpu_events=[[], events], symbols=[(0x1000, "callee"), (0x2000, "caller")],
        comms={200: "a", 201: "b", 202: "c"}, clock_file="[counter] local\n",
        message=lambda ev: ""))
    assert len(data) % PAGE_SIZE == 0 and len(data) > 3 * PAGE_SIZE
    path = tmp_path / "x.dat"
    path.write_bytes(data)
    got = [m.groups() for line in report(path).splitlines() if (m := REPORT_FN.match(line))]
    want = [("abc"[e.pid - 200], str(e.pid), "001", str(e.ts), "callee", "caller")
            for e in events]
    assert got == want


def test_dat_to_terminal_refused(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    code = main(["trace", DEMO, "--arch", "x86_64", "--entry", "sys_sendfile64", "--args",
                 "1,3,4096", "--format", "dat"])
    err = capsys.readouterr().err
    assert code == 2 and "needs -o FILE" in err


@needs_trace_cmd
def test_trace_pipe_raw_pages(tmp_path):
    """per_cpu/cpuN/trace_pipe_raw hands out the kernel's ring-buffer pages: put them in a
    trace.dat as they are and trace-cmd prints what the trace file showed, then they are
    consumed."""
    import errno
    import os

    from ftlab.ftrace.schemes import get_scheme
    from ftlab.session import load
    from ftlab.tracefs import Lab, Tracefs

    image = load([DEMO], "x86_64", scheme=get_scheme("x86_64", None).name)
    lab = Lab(image, harts=2)
    lab.start("sys_sendfile64", [1, 3, 4096])
    fs = Tracefs(lab)
    fs.write("/trace_clock", "counter")
    fs.write("/buffer_size_kb", "64")
    fs.write("/current_tracer", "function")
    lab.step(20)
    fs.write("/tracing_on", "0")
    text = fs.read("/trace")
    pages = []
    for cpu in range(2):
        fh = fs.open(f"/per_cpu/cpu{cpu}/trace_pipe_raw", os.O_RDONLY | os.O_NONBLOCK)
        data = b""
        while True:
            try:
                page = fs.pread(fh, PAGE_SIZE)
            except OSError as err:
                assert err.errno == errno.EAGAIN
                break
            assert len(page) == PAGE_SIZE
            data += page
        fs.release(fh)
        pages.append(data)
    assert len(pages[0]) >= 2 * PAGE_SIZE and pages[1]
    dat = tmp_path / "raw.dat"
    dat.write_bytes(write_dat(DatInput(
        ncpus=2, cpu_events=[], symbols=[(s.addr, s.name) for s in image.symbols.values()
                                         if s.is_func],
        comms={t.pid: t.comm for t in lab.machine.tasks}, clock_file="[counter] local\n",
        message=lambda ev: "", cpu_pages=pages)))
    ours = [m.groups() for line in text.splitlines() if (m := TEXT_FN.match(line))]
    theirs = [m.groups() for line in report(dat).splitlines() if (m := REPORT_FN.match(line))]
    assert len(ours) > 50 and theirs == ours
    assert "entries-in-buffer/entries-written: 0/" in fs.read("/trace")  # consumed
