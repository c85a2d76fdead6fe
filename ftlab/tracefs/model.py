"""The tracefs file tree over a Lab, in pure Python: open, read, write, release, mkdir, rmdir,
with the kernel's names, semantics and errnos (kernel/trace/trace.c, ftrace.c,
trace_functions_graph.c). Failures raise OSError(errno).

Writes take effect when they are written (the kernel applies filter files at release; FUSE
releases asynchronously, so a following `cat` could otherwise still see the old value).
`>` (O_TRUNC) starts a filter file from an empty set, `>>` (O_APPEND) or plain O_WRONLY from
the current one; `!glob` removes; a glob that matches nothing fails that write with EINVAL,
after the tokens before it (and the truncation) took effect, as in the kernel.
"""

from __future__ import annotations

import errno
import fnmatch
import itertools
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ftlab.errors import FtlabError
from ftlab.ftrace.filter import apply_filter
from ftlab.ftrace.tracers import OPTIONS, TRACERS, clocks
from ftlab.trace.events import TraceEvent, merge_cpus
from ftlab.trace.output import RAW_CLOCKS, TraceContext, message_text
from ftlab.tracefs import events as tev
from ftlab.tracefs.lab import PAGE_SIZE, Lab, LabInstance, shown_kb
from ftlab.tracefs.render import (
    EventFilter,
    PipeState,
    ViewSettings,
    filter_events,
    pipe_lines,
    render_trace,
)
from ftlab.tracing import symbolizers

# file name -> mode, in the top-level directory and in every instance
INSTANCE_FILES = {
    "available_tracers": 0o440,
    "current_tracer": 0o640,
    "tracing_on": 0o640,
    "trace": 0o640,
    "trace_pipe": 0o440,
    "trace_marker": 0o220,
    "trace_clock": 0o640,
    "trace_options": 0o640,
    "buffer_size_kb": 0o640,
    "buffer_total_size_kb": 0o440,
    "set_ftrace_filter": 0o640,
    "set_ftrace_notrace": 0o640,
    "set_ftrace_pid": 0o640,
    "set_ftrace_notrace_pid": 0o640,
    "set_event": 0o640,
    "set_event_pid": 0o640,
    "available_events": 0o440,
    "tracing_cpumask": 0o640,
    "snapshot": 0o640,
    "error_log": 0o640,
    "buffer_subbuf_size_kb": 0o640,
}
TOP_FILES = {
    "README": 0o440,
    "available_filter_functions": 0o440,
    "available_filter_functions_addrs": 0o440,
    "enabled_functions": 0o440,
    "set_graph_function": 0o640,
    "set_graph_notrace": 0o640,
    "max_graph_depth": 0o640,
    "saved_cmdlines": 0o440,
    "function_profile_enabled": 0o640,
}
CPU_FILES = {"trace": 0o640, "trace_pipe": 0o440, "trace_pipe_raw": 0o440,
             "buffer_size_kb": 0o640, "stats": 0o440}
EVENTS_TOP_FILES = {"enable": 0o640, "header_page": 0o440, "header_event": 0o440}
EVENT_FILES = {"enable": 0o640, "filter": 0o640, "trigger": 0o640, "format": 0o440,
               "id": 0o440}
FTRACE_EVENT_FILES = {"format": 0o440, "id": 0o440, "trigger": 0o640}
# options/: the guest's (trace_array flags) and those tracefs applies itself
FLAG_OPTIONS = ("function-fork", "markers", "print-parent")
ALL_OPTIONS = tuple(sorted((*OPTIONS, *FLAG_OPTIONS)))
FILTER_FILES = ("set_ftrace_filter", "set_ftrace_notrace", "set_graph_function",
                "set_graph_notrace")
DIR_MODE = stat.S_IFDIR | 0o750
PIPE_BATCH = 128  # events per CPU a trace_pipe read looks at
BUSY_WAIT = 1.0  # seconds rmdir / current_tracer wait for trace_pipe readers to close

README = """\
tracing mini-HOWTO (ftlab tracefs: ftrace on emulated harts running real guest code):

# echo 0 > tracing_on : quick way to stop recording (the workload keeps running)
# echo 1 > tracing_on : quick way to record again

 Important files:
  trace\t\t\t- The static contents of the buffer
\t\t\t  To clear the buffer write into this file: echo > trace
  trace_pipe\t\t- A consuming read to see the contents of the buffer
  current_tracer\t- function and latency tracers
  available_tracers\t- list of configured tracers for current_tracer
  error_log\t- error log for failed commands (event filters and triggers)
  buffer_size_kb\t- view and modify size of per cpu buffer (4080-byte sub-buffers)
  buffer_total_size_kb  - view total size of all cpu buffers
  buffer_subbuf_size_kb\t- view and modify the size of a sub-buffer (trace_marker splits
\t\t\t  longer writes over several events)

  trace_clock\t\t- change the clock used to order events
       local:     this CPU's guest time: its retired instructions at 1 GHz
       global, uptime, perf, mono, mono_raw, boot, tai and the architecture's own clocks:
                  the same guest time (ftlab has one time source per CPU)
       counter:   Not a clock, but just an increment

  trace_marker\t\t- Writes into this file writes into the kernel buffer
  tracing_cpumask\t- Limit which CPUs to trace
  instances\t\t- Make sub-buffers with: mkdir instances/foo
\t\t\t  Remove sub-buffer with rmdir (EBUSY while a file of it is open)
  trace_options\t\t- Set format or modify how tracing happens
\t\t\t  Disable an option by prefixing 'no' to the
\t\t\t  option name
  options/\t\t- One file per option, 0 or 1
  per_cpu/cpuN/\t\t- trace, trace_pipe, trace_pipe_raw, buffer_size_kb and stats of one CPU
  saved_cmdlines\t- the pid and comm of every task seen

  available_filter_functions - list of functions that can be filtered on
  set_ftrace_filter\t- echo function name in here to only trace these
\t\t\t  functions
\t     accepts: func_full_name or glob-matching-pattern
\t     modules: Can select a group via module (ftlab has none: kept for later)
\t      Format: :mod:<module-name>
\t    triggers: a command to perform when function is hit
\t      Format: <function>:<trigger>[:count]
\t     trigger: traceon, traceoff
\t\t      enable_event:<system>:<event>
\t\t      disable_event:<system>:<event>
\t\t      stacktrace
\t\t      snapshot
\t\t      dump
\t\t      cpudump
\t     example: echo do_empty:traceoff > set_ftrace_filter
\t              echo do_sendfile:traceoff:3 > set_ftrace_filter
\t     A count goes down only when the trigger changed something.
\t     To remove trigger without count:
\t       echo '!<function>:<trigger> > set_ftrace_filter
\t     To remove trigger with a count:
\t       echo '!<function>:<trigger>:0 > set_ftrace_filter
  set_ftrace_notrace\t- echo function name in here to never trace.
\t    accepts: func_full_name, *func_end, func_begin*, *func_middle*
\t    Does not accept triggers
  set_ftrace_pid\t- Write pid(s) to only function trace those pids
\t\t    (function)
  set_ftrace_notrace_pid\t- Write pid(s) to not function trace those pids
\t\t    (listed only)
  enabled_functions\t- the functions whose patch site calls a tracer now
  set_graph_function\t- Trace the nested calls of a function (function_graph)
  set_graph_notrace\t- Do not trace the nested calls of a function (function_graph)
  max_graph_depth\t- Trace a limited depth of nested calls (0 is unlimited)
  function_profile_enabled - Write 1 to count the hits of every function per CPU
  trace_stat/functionN\t- The hits counted on CPU N, most first

  snapshot\t\t- Like 'trace' but shows the content of the static
\t\t\t  snapshot buffer. Read the contents for more
\t\t\t  information
  events/\t\t- Directory containing all trace event subsystems:
      enable\t\t- Write 0/1 to enable/disable tracing of all events
  events/<system>/\t- Directory containing all trace events for <system>:
      enable\t\t- Write 0/1 to enable/disable tracing of all <system>
\t\t\t  events
      filter\t\t- If set, only events passing filter are traced
  events/<system>/<event>/\t- Directory containing control files for
\t\t\t  <event>:
      enable\t\t- Write 0/1 to enable/disable tracing of <event>
      filter\t\t- If set, only events passing filter are traced
      trigger\t\t- If set, a command to perform when event is hit
\t    Format: <trigger>[:count][if <filter>]
\t   trigger: traceon, traceoff
\t            enable_event:<system>:<event>
\t            disable_event:<system>:<event>
\t\t    stacktrace
\t\t    snapshot
\t   example: echo traceoff > events/sched/sched_process_fork/trigger
\t            echo 'enable_event:sched:sched_switch:3 if child_pid > 1000' > \\
\t                  events/sched/sched_process_fork/trigger
\t   To remove a trigger without a count:
\t     echo '!<trigger> > <system>/<event>/trigger
\t   To remove a trigger with a count:
\t     echo '!<trigger>:0 > <system>/<event>/trigger
\t   Filters can be ignored when removing a trigger.
  set_event\t\t- Enables events by name written into it: <system>:<event>,
\t\t\t  globs, '!' disables
  available_events\t- list of events that can be enabled
  set_event_pid\t\t- Write pid(s) to only record events of those pids
"""


def _oserror(code: int, detail: str = "") -> OSError:
    msg = os.strerror(code)
    return OSError(code, f"{msg}: {detail}" if detail else msg)


@dataclass(frozen=True)
class Node:
    kind: str  # "dir" or "file"
    name: str  # the file's name (or the directory's role)
    inst: str = ""  # the instance ("" is the top level)
    cpu: int | None = None
    option: str | None = None
    mode: int = 0o640
    event: str = ""  # events/: the system, or "system:event"

    @property
    def is_dir(self) -> bool:
        return self.kind == "dir"


@dataclass
class Handle:
    path: str
    node: Node
    inst: LabInstance
    flags: int
    pid: int
    content: bytes | None = None  # what reads see (built at the first read)
    names: set[str] | None = None  # filter files: the set being written
    pids: list[int] | None = None  # set_ftrace_pid
    dirty: bool = False  # opened with O_TRUNC and not applied yet
    partial: str = ""  # a token cut by the end of a large write
    pipe: bool = False
    leftover: bytes = b""

    @property
    def writing(self) -> bool:
        return self.flags & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR)

    @property
    def reading(self) -> bool:
        return self.flags & os.O_ACCMODE in (os.O_RDONLY, os.O_RDWR)


class Tracefs:
    """The file tree. Paths are absolute within the mount: "/trace", "/instances/foo/trace",
    "/per_cpu/cpu0/trace", "/options/func_stack_trace"."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.handles: dict[int, Handle] = {}
        self._fh = itertools.count(1)
        self.mounted_at = time.time()
        self.comms: dict[int, str] = {}  # trace_marker writers (host processes)

    # --- the tree ---------------------------------------------------------------------------
    def lookup(self, path: str) -> Node:
        parts = [p for p in path.split("/") if p]
        inst = ""
        if parts[:1] == ["instances"]:
            if len(parts) == 1:
                return Node("dir", "instances")
            inst = parts[1]
            if inst not in self.lab.instances:
                raise _oserror(errno.ENOENT, path)
            parts = parts[2:]
        if not parts:
            return Node("dir", "root", inst)
        head, rest = parts[0], parts[1:]
        if head == "events":
            return self._lookup_events(inst, rest, path)
        if head == "trace_stat" and not inst:
            if not rest:
                return Node("dir", "trace_stat")
            cpu = _cpu_dir(rest[0].replace("function", "cpu", 1), self.lab.ncpus)
            if len(rest) == 1 and rest[0].startswith("function") and cpu is not None:
                return Node("file", "profile", cpu=cpu, mode=0o440)
        if head == "options":
            if not rest:
                return Node("dir", "options", inst)
            if len(rest) == 1 and rest[0] in ALL_OPTIONS:
                return Node("file", "option", inst, option=rest[0], mode=0o640)
        elif head == "per_cpu":
            if not rest:
                return Node("dir", "per_cpu", inst)
            cpu = _cpu_dir(rest[0], self.lab.ncpus)
            if cpu is not None:
                if len(rest) == 1:
                    return Node("dir", "cpu", inst, cpu=cpu)
                if len(rest) == 2 and rest[1] in CPU_FILES:
                    return Node("file", rest[1], inst, cpu=cpu, mode=CPU_FILES[rest[1]])
        elif not rest:
            if head in INSTANCE_FILES:
                return Node("file", head, inst, mode=INSTANCE_FILES[head])
            if not inst and head in TOP_FILES:
                return Node("file", head, inst, mode=TOP_FILES[head])
        raise _oserror(errno.ENOENT, path)

    def _lookup_events(self, inst: str, rest: list[str], path: str) -> Node:
        if not rest:
            return Node("dir", "events", inst)
        if len(rest) == 1 and rest[0] in EVENTS_TOP_FILES:
            return Node("file", f"events_{rest[0]}", inst, mode=EVENTS_TOP_FILES[rest[0]])
        system = tev.BY_SYSTEM.get(rest[0])
        if system is not None:
            has_enable = any(ev.tracepoint for ev in system.values())
            if len(rest) == 1:
                return Node("dir", "event_system", inst, event=rest[0])
            if len(rest) == 2 and rest[1] in ("enable", "filter") and has_enable:
                return Node("file", f"system_{rest[1]}", inst, event=rest[0])
            ev = system.get(rest[1])
            if ev is not None:
                if len(rest) == 2:
                    return Node("dir", "event", inst, event=ev.full)
                files = EVENT_FILES if ev.tracepoint else FTRACE_EVENT_FILES
                if len(rest) == 3 and rest[2] in files:
                    return Node("file", f"event_{rest[2]}", inst, mode=files[rest[2]],
                                event=ev.full)
        raise _oserror(errno.ENOENT, path)

    def listdir(self, path: str) -> list[str]:
        node = self.lookup(path)
        if not node.is_dir:
            raise _oserror(errno.ENOTDIR, path)
        if node.name == "events":
            return sorted([*EVENTS_TOP_FILES, *tev.BY_SYSTEM])
        if node.name == "trace_stat":
            return [f"function{c}" for c in range(self.lab.ncpus)]
        if node.name == "event_system":
            system = tev.BY_SYSTEM[node.event]
            extra = ["enable", "filter"] if any(e.tracepoint for e in system.values()) else []
            return sorted([*extra, *system])
        if node.name == "event":
            ev = _event(node.event)
            return sorted(EVENT_FILES if ev.tracepoint else FTRACE_EVENT_FILES)
        if node.name == "instances":
            return sorted(n for n in list(self.lab.instances) if n)  # mkdir may run now
        if node.name == "options":
            return list(ALL_OPTIONS)
        if node.name == "per_cpu":
            return [f"cpu{c}" for c in range(self.lab.ncpus)]
        if node.name == "cpu":
            return sorted(CPU_FILES)
        names = list(INSTANCE_FILES) + ["options", "per_cpu", "events"]
        if not node.inst:
            names += list(TOP_FILES) + ["instances", "trace_stat"]
        return sorted(names)

    def stat(self, path: str) -> dict:
        node = self.lookup(path)
        if node.is_dir:
            nlink = 2 + (len(self.listdir(path)) if node.name in ("instances", "per_cpu") else 2)
            if node.name in ("events", "event_system"):
                nlink = 2 + len(self.listdir(path))
            mode = DIR_MODE
        else:
            nlink, mode = 1, stat.S_IFREG | node.mode
        t = self.mounted_at
        return {"st_mode": mode, "st_nlink": nlink, "st_size": 0, "st_uid": os.getuid(),
                "st_gid": os.getgid(), "st_atime": t, "st_mtime": t, "st_ctime": t}

    def exists(self, path: str) -> bool:
        try:
            self.lookup(path)
        except OSError:
            return False
        return True

    def mkdir(self, path: str) -> None:
        parts = [p for p in path.split("/") if p]
        if len(parts) != 2 or parts[0] != "instances":
            raise _oserror(errno.EPERM, path)
        name = parts[1]
        with self.lab.lock.fs():
            if name in self.lab.instances:
                raise _oserror(errno.EEXIST, path)
            try:
                self.lab.new_instance(name)
            except FtlabError as err:
                raise _ftlab_errno(err) from None

    def rmdir(self, path: str) -> None:
        parts = [p for p in path.split("/") if p]
        if len(parts) != 2 or parts[0] != "instances":
            raise _oserror(errno.EPERM, path)
        name = parts[1]
        inst = self.lab.instances.get(name)
        if inst is None:
            raise _oserror(errno.ENOENT, path)
        self._wait_no_readers(inst, files=True)
        with self.lab.lock.fs():
            if inst.pipe_readers or inst.open_traces:
                raise _oserror(errno.EBUSY, f"{path}: a file of the instance is open")
            if self.lab.instances.get(name) is not inst:
                raise _oserror(errno.ENOENT, path)
            try:
                self.lab.remove_instance(name)
            except FtlabError as err:
                raise _ftlab_errno(err) from None

    def _wait_no_readers(self, inst: LabInstance, files: bool = False) -> None:
        # a trace_pipe reader that was just killed: FUSE releases its file asynchronously
        deadline = time.monotonic() + BUSY_WAIT
        while ((inst.pipe_readers or (files and inst.open_traces))
               and time.monotonic() < deadline):
            time.sleep(0.02)

    # --- files ----------------------------------------------------------------------------------
    def open(self, path: str, flags: int = os.O_RDONLY, pid: int = 0) -> int:
        node = self.lookup(path)
        if node.is_dir:
            raise _oserror(errno.EISDIR, path)
        with self.lab.lock.fs():
            inst = self.lab.instances.get(node.inst)
            if inst is None:
                raise _oserror(errno.ENOENT, path)
            h = Handle(path, node, inst, flags, pid)
            if h.writing:
                self._open_for_write(h, bool(flags & os.O_TRUNC))
            if node.name in ("trace_pipe", "trace_pipe_raw") and h.reading:
                h.pipe = True
                inst.pipe_readers += 1
            inst.open_traces += 1  # trace_array_get(): rmdir answers EBUSY
            fh = next(self._fh)
            self.handles[fh] = h
            return fh

    def _open_for_write(self, h: Handle, trunc: bool) -> None:
        name, inst = h.node.name, h.inst
        if name == "trace" and trunc:
            self._quiet(lambda: (self.lab.quiesce(), inst.reset(
                None if h.node.cpu is None else [h.node.cpu])))
        elif name in FILTER_FILES:
            h.names = set() if trunc else set(self._filter_set(inst, name))
            h.dirty = trunc
        elif name == "set_ftrace_pid":
            h.pids = [] if trunc else list(inst.pids)
            h.dirty = trunc
        elif trunc and name == "set_event":
            inst.events.reset()
        elif trunc and name == "set_event_pid":
            inst.events.pids.clear()
        elif trunc and name == "set_ftrace_notrace_pid":
            inst.notrace_pids.clear()
        elif trunc and name == "error_log":
            inst.error_log.clear()

    def release(self, fh: int) -> None:
        h = self.handles.pop(fh, None)
        if h is None:
            return
        with self.lab.lock.fs():
            if h.pipe:
                h.inst.pipe_readers -= 1
            h.inst.open_traces -= 1
            if h.partial and not h.inst.removed:
                try:
                    self._write_filter(h, "\n")
                except OSError:
                    pass
            if h.dirty and not h.inst.removed:
                self._apply(h)

    def truncate(self, path: str, length: int = 0) -> None:
        """truncate(2) / O_TRUNC without atomic_o_trunc: clears `trace`, else nothing."""
        node = self.lookup(path)
        if node.is_dir:
            raise _oserror(errno.EISDIR, path)
        if node.name == "trace" and length == 0:
            inst = self.lab.instances[node.inst]
            with self.lab.lock.fs():
                self._quiet(lambda: (self.lab.quiesce(), inst.reset(
                    None if node.cpu is None else [node.cpu])))

    def pread(self, fh: int, size: int, offset: int = 0,
              interrupted: Callable[[], bool] | None = None) -> bytes:
        h = self._handle(fh)
        if not h.reading or not h.node.mode & 0o444:
            raise _oserror(errno.EINVAL if h.reading else errno.EBADF)
        if h.pipe:
            return self._pipe_read(h, size, interrupted)
        if h.content is None:
            h.content = self._render(h).encode()
        return h.content[offset:offset + size]

    def pwrite(self, fh: int, data: bytes, offset: int = 0) -> int:
        h = self._handle(fh)
        if not h.writing:
            raise _oserror(errno.EBADF)
        if not h.node.mode & 0o222:
            raise _oserror(errno.EINVAL, f"{h.node.name} is read-only")
        if h.node.name == "current_tracer" and h.inst.pipe_readers:
            self._wait_no_readers(h.inst)
        with self.lab.lock.fs():
            if h.inst.removed:
                raise _oserror(errno.ENODEV)
            return self._write(h, data)

    def _handle(self, fh: int) -> Handle:
        h = self.handles.get(fh)
        if h is None:
            raise _oserror(errno.EBADF)
        if h.inst.removed:
            raise _oserror(errno.ENODEV)
        return h

    # --- convenience (tests, scripts) ------------------------------------------------------------
    def read(self, path: str, nonblock: bool = False, timeout: float | None = None) -> str:
        """The whole file; for trace_pipe one read (blocking unless nonblock; "" when
        `timeout` seconds pass without data)."""
        flags = os.O_RDONLY | (os.O_NONBLOCK if nonblock else 0)
        fh = self.open(path, flags)
        try:
            if self.handles[fh].pipe:
                deadline = None if timeout is None else time.monotonic() + timeout
                try:
                    return self.pread(fh, PAGE_SIZE, 0, interrupted=None if deadline is None
                                      else lambda: time.monotonic() > deadline).decode()
                except OSError as err:
                    if err.errno == errno.EINTR or (nonblock and err.errno == errno.EAGAIN):
                        return ""
                    raise
            out, off = [], 0
            while chunk := self.pread(fh, 1 << 20, off):
                out.append(chunk)
                off += len(chunk)
            return b"".join(out).decode(errors="replace")
        finally:
            self.release(fh)

    def write(self, path: str, data: str | bytes, append: bool = False,
              pid: int | None = None) -> int:
        """`echo DATA > path` (or `>>` with append), as process `pid` (default: this one)."""
        flags = os.O_WRONLY | (os.O_APPEND if append else os.O_TRUNC)
        fh = self.open(path, flags, pid=os.getpid() if pid is None else pid)
        try:
            return self.pwrite(fh, data.encode() if isinstance(data, str) else data)
        finally:
            self.release(fh)

    # --- reading ---------------------------------------------------------------------------------
    def _render(self, h: Handle) -> str:
        name, inst = h.node.name, h.inst
        if name == "trace":
            return self._trace_text(inst, None if h.node.cpu is None else [h.node.cpu])
        if name == "snapshot":
            with self.lab.lock.fs():
                bufs = self.lab.snapshot_buffers(inst)
            if not any(b.events for b in bufs):
                state = "allocated" if inst.snap_raw is not None else "freed"
                return (f"# tracer: {inst.tracer}\n#\n# * Snapshot is {state} *\n#\n"
                        + SNAPSHOT_HELP)
            return self._trace_text(inst, None, buffers=bufs)
        with self.lab.lock.fs():
            return self._small(h)

    def _events_text(self, h: Handle) -> str | None:
        """The files of events/ and the event, snapshot and misc files (None: not one)."""
        inst, name, node = h.inst, h.node.name, h.node
        evs = inst.events
        if name == "events_enable":
            return evs.system_state(None) + "\n"
        if name == "events_header_page":
            return tev.HEADER_PAGE.format(data=inst.subbuf_kb * 1024 - 16)
        if name == "events_header_event":
            return tev.HEADER_EVENT
        if name == "system_enable":
            return evs.system_state(node.event) + "\n"
        if name == "system_filter":
            texts = {evs.events[e.full].filter_text for e in tev.BY_SYSTEM[node.event].values()
                     if e.tracepoint}
            return (texts.pop() if len(texts) == 1 and "" not in texts else "none") + "\n"
        if name.startswith("event_"):
            ev = _event(node.event)
            what = name[len("event_"):]
            if what == "format":
                return ev.format_text()
            if what == "id":
                return f"{ev.id}\n"
            st = evs.get(ev)
            if what == "enable":
                on = st.enabled and not st.soft_disabled
                return ("1" if on else "0") + ("*" if st.soft_mode else "") + "\n"
            if what == "filter":
                return (st.filter_text or "none") + "\n"
            if what == "trigger":
                return "".join(t.text() for t in st.triggers) or tev.TRIGGER_HEADER
        if name == "set_event":
            return evs.set_event_lines()
        if name == "available_events":
            return "".join(f"{e.full}\n" for e in tev.TRACEPOINTS)
        if name == "set_event_pid":
            return "".join(f"{p}\n" for p in sorted(evs.pids))
        if name == "set_ftrace_notrace_pid":
            return "".join(f"{p}\n" for p in inst.notrace_pids) or "no pid\n"
        if name == "tracing_cpumask":
            return f"{inst.cpumask:x}\n"
        if name == "error_log":
            return "".join(inst.error_log)
        if name == "buffer_subbuf_size_kb":
            return f"{inst.subbuf_kb}\n"
        if name == "function_profile_enabled":
            return f"{int(bool(self.lab.profile_hooks))}\n"
        if name == "profile":
            # function_stat_show without the graph tracer's Time columns, most hits first
            counts = sorted(self.lab.profile[node.cpu or 0].items(), key=lambda kv: -kv[1])
            return ("  Function                               Hit\n"
                    "  --------                               ---\n"
                    + "".join(f"  {f[:30]:<30}  {n:10d}\n" for f, n in counts))
        return None

    def _small(self, h: Handle) -> str:
        lab, inst, name = self.lab, h.inst, h.node.name
        text = self._events_text(h)
        if text is not None:
            return text
        if name == "option":
            return f"{int(self._option(inst, h.node.option or ''))}\n"
        if name == "README":
            return README
        if name == "available_tracers":
            return " ".join(reversed(TRACERS)) + "\n"
        if name == "current_tracer":
            return inst.tracer + "\n"
        if name == "tracing_on":
            return f"{int(inst.tracing_on)}\n"
        if name == "trace_clock":
            return " ".join(f"[{c}]" if c == inst.clock else c
                            for c in clocks(self.lab.machine.arch)) + "\n"
        if name == "trace_options":
            return "".join(f"{'' if self._option(inst, o) else 'no'}{o}\n" for o in ALL_OPTIONS)
        if name == "buffer_size_kb":
            sizes = inst.sizes if h.node.cpu is None else [inst.sizes[h.node.cpu]]
            return f"{shown_kb(sizes[0])}\n" if len(set(sizes)) == 1 else "X\n"
        if name == "buffer_total_size_kb":
            return f"{sum(shown_kb(size) for size in inst.sizes)}\n"
        if name in FILTER_FILES:
            names = self._filter_set(inst, name)
            extra = ""
            if name == "set_ftrace_filter":
                extra = "".join(p.text() for p in inst.probes)
                extra += "".join(m + "\n" for m in inst.mod_filters)
            if not names:
                return ("#### no functions disabled ####\n" if name.endswith("notrace")
                        else "#### all functions enabled ####\n") + extra
            order = {f: i for i, f in enumerate(lab.ftrace.function_names)}
            return "".join(f + "\n" for f in sorted(names, key=lambda f: order.get(f, 0))) + extra
        if name == "set_ftrace_pid":
            return "".join(f"{p}\n" for p in inst.pids) or "no pid\n"
        if name == "max_graph_depth":
            return f"{lab.max_graph_depth}\n"
        if name == "available_filter_functions":
            return "".join(f + "\n" for f in lab.ftrace.function_names)
        if name == "available_filter_functions_addrs":
            return "".join(f"{r.ip:x} {r.func}\n" for r in lab.ftrace.records)
        if name == "enabled_functions":
            return self._enabled_functions()
        if name == "saved_cmdlines":
            cmds = {t.pid: t.comm for t in lab.machine.tasks}
            cmds.update(self.comms)
            return "".join(f"{p} {c}\n" for p, c in sorted(cmds.items()))
        if name == "stats":
            return self._stats(inst, h.node.cpu or 0)
        raise _oserror(errno.EINVAL)

    def _enabled_functions(self) -> str:
        ft = self.lab.ftrace
        call_ops = ft.arch_ops.call_ops
        out = []
        for rec, count in ft.enabled_functions():
            covering = [o for o in ft.ops if o.covers(rec.func)]
            direct = next((o for o in covering if o.direct_call), None)
            unique = call_ops and len(covering) == 1
            line = (f"{rec.func} ({count})    {' D' if direct else '  '}"
                    f"{' O' if unique else '  '}   ")
            if unique:
                ops = covering[0]
                line += f"\tops: {ops.name} ({self._sym(ops.func)})"
            if direct:
                line += f"\n\tdirect-->{self._sym(direct.direct_call)}"
            out.append(line + "\n")
        return "".join(out)

    def _sym(self, addr: int) -> str:
        sym = self.lab.image.func_at(addr)
        return f"{sym.name}+{addr - sym.addr:#x}/{sym.size:#x}" if sym else f"{addr:#x}"

    def _stats(self, inst: LabInstance, cpu: int) -> str:
        (buf,) = self.lab.snapshot(inst, [cpu])
        raw = inst.clock in RAW_CLOCKS

        def ts(value: int) -> str:
            if raw:
                return f"{value}"
            usecs = (self._ns(value) + 500) // 1000
            return f"{usecs // 1_000_000:5d}.{usecs % 1_000_000:06d}"

        oldest = buf.events[0].ts if buf.events else 0
        start = max(buf.tail, buf.read)
        return (f"entries: {buf.in_buffer}\noverrun: {buf.overrun}\ncommit overrun: 0\n"
                f"bytes: {buf.head - start}\noldest event ts: {ts(oldest)}\n"
                f"now ts: {ts(self.lab.now(inst))}\ndropped events: 0\n"
                f"read events: {inst.accounts[cpu].read_events}\n")

    @staticmethod
    def _ns(ticks: int) -> int:
        return ticks  # the guest time is in ns already (ftlab/ftrace/guest_time.py)

    def _settings(self, inst: LabInstance) -> ViewSettings:
        lab = self.lab
        pids = inst.pids if len(inst.pids) > 1 or inst.pids == [0] else []
        return ViewSettings(
            tracer=inst.tracer, graph_funcs=frozenset(lab.graph_funcs),
            graph_notrace=frozenset(lab.graph_notrace),
            max_depth=lab.max_graph_depth if lab.graph_funcs else 0, pids=frozenset(pids),
            print_parent=inst.flags["print-parent"])

    def _context(self, inst: LabInstance, buffers=None) -> TraceContext:
        image = self.lab.image
        comms = {t.pid: t.comm for t in self.lab.machine.tasks}

        def comm(pid: int) -> str:
            return comms.get(pid) or self.comms.get(pid, "<...>")

        sym, symoff = symbolizers(image)

        kwargs = {"comm": comm, "ncpus": self.lab.ncpus, "clock": inst.clock, "symoff": symoff,
                  "event_text": _event_text}
        if buffers is None:
            return TraceContext(sym=sym, **kwargs)
        return TraceContext.from_buffers(buffers, sym, **kwargs)

    def _trace_text(self, inst: LabInstance, cpus: list[int] | None,
                    buffers: list | None = None) -> str:
        with self.lab.lock.fs():
            settings = self._settings(inst)
        if buffers is None:
            buffers = self.lab.snapshot(inst, cpus)
        events = merge_cpus(buffers)
        events = filter_events(events, EventFilter(settings, self.lab.func_name))
        return render_trace(events, self._context(inst, buffers), settings.tracer)

    def _pipe_read(self, h: Handle, size: int,
                   interrupted: Callable[[], bool] | None) -> bytes:
        raw = h.node.name == "trace_pipe_raw"
        # the kernel hands out at most a page a read (trace_pipe_raw: one whole page)
        size = max(1, min(size, h.inst.subbuf_kb * 1024 if raw else PAGE_SIZE - 1))
        if h.leftover:
            out, h.leftover = h.leftover[:size], h.leftover[size:]
            return out
        while True:
            with self.lab.lock.fs():
                if h.inst.removed:
                    return b""
                text = self._raw_fill(h) if raw else self._pipe_fill(h, size).encode()
            if text:
                data = text
                h.leftover = data[size:]
                return data[:size]
            if h.flags & os.O_NONBLOCK:
                raise _oserror(errno.EAGAIN)
            if interrupted is not None and interrupted():
                raise _oserror(errno.EINTR)
            if self.lab.lock.stopped:
                return b""
            self.lab.wait_for_progress(0.05)

    def _raw_fill(self, h: Handle) -> bytes:
        """trace_pipe_raw: consume the oldest events of the CPU that fill one ring-buffer
        page in the kernel's layout (header_page/header_event), unfiltered as the kernel's."""
        from ftlab.trace.dat import one_page  # it reads the formats of ftlab.tracefs.events

        lab, inst, cpu = self.lab, h.inst, h.node.cpu or 0
        lab.quiesce()
        peeked = lab.peek(inst, [cpu], PIPE_BATCH)
        if not peeked or not peeked[0].events:
            return b""
        p = peeked[0]
        evs = p.events
        ctx = self._context(inst)
        page, taken = one_page(evs, lambda ev: message_text(ctx, ev), inst.subbuf_kb * 1024)
        lab.consume(inst, p, taken)
        return page

    def _pipe_fill(self, h: Handle, size: int) -> str:
        """Consume the oldest events that print in `size` bytes (at least one)."""
        lab, inst = self.lab, h.inst
        lab.quiesce()
        cpus = list(range(inst.ncpus)) if h.node.cpu is None else [h.node.cpu]
        batch = min(PIPE_BATCH, size // 48 + 8)  # about what prints in `size` bytes
        peeked = lab.peek(inst, cpus, batch)
        settings = self._settings(inst)
        state = inst.pipe_state
        if not isinstance(state, PipeState):
            state = inst.pipe_state = PipeState(settings, EventFilter(settings, lab.func_name))
        state.settings = state.filter.settings = settings
        lists, owner = [], {}
        for p in peeked:
            evs = list(p.events)
            for e in evs:
                owner[id(e)] = p
            if evs:
                lists.append(evs)
        merged = merge_cpus(lists)
        if not merged:
            return ""
        limit = len(merged)
        for p in peeked:
            # a CPU whose batch was cut short: stop before its last event, so every event
            # taken has its successor at hand (a leaf's return is printed with its entry)
            if len(p.events) >= batch:
                last = max(i for i, e in enumerate(merged) if owner[id(e)] is p)
                limit = min(limit, last)
        ctx = self._context(inst)
        texts, partner = pipe_lines(merged, ctx, state, commit=False)
        # a CPU's [LOST N EVENTS] line comes before its first event and counts in the size,
        # so a read never ends inside it
        lost = {p.cpu: f"CPU:{p.cpu} [LOST {p.lost} EVENTS]\n" for p in peeked if p.lost > 0}
        total = cut = 0
        seen: set[int] = set()
        for i, t in enumerate(texts[:limit]):
            cpu = owner[id(merged[i])].cpu
            need = len(t.encode()) + (len(lost[cpu]) if cpu in lost and cpu not in seen else 0)
            if total and total + need > size:
                break
            total += need
            seen.add(cpu)
            cut = i + 1
        # a leaf's return is printed with its entry: it is taken with it, out of order, as
        # the kernel's iterator consumes the return it peeked at
        extra = sorted(j for i, j in partner.items() if i < cut <= j)
        chosen = merged[:cut] + [merged[j] for j in extra]
        if settings.tracer == "function_graph":  # the printer and filter keep state
            texts, _ = pipe_lines(chosen, ctx, state, commit=True)
        else:
            texts = texts[:cut]
        counts: dict[int, int] = {}
        out = []
        for ev, text in zip(chosen, texts, strict=True):
            p = owner[id(ev)]
            if p.cpu not in counts and p.lost > 0:
                out.append(f"CPU:{p.cpu} [LOST {p.lost} EVENTS]\n")
            counts[p.cpu] = counts.get(p.cpu, 0) + 1
            out.append(text)
        for p in peeked:
            lab.consume(inst, p, counts.get(p.cpu, 0))
        return "".join(out)

    # --- writing ---------------------------------------------------------------------------------
    def _write(self, h: Handle, data: bytes) -> int:
        name, inst, lab = h.node.name, h.inst, self.lab
        if name == "trace_marker":
            if not inst.flags["markers"]:
                raise _oserror(errno.EINVAL, "the markers option is off")
            if not inst.tracing_on:
                raise _oserror(errno.EBADF, "tracing is off")
            if h.pid and h.pid not in self.comms:
                self.comms[h.pid] = _host_comm(h.pid)
            return self._quiet(lambda: lab.write_marker(inst, data, h.pid))
        if name == "trace":
            return len(data)  # tracing_write_stub
        text = data.decode(errors="replace")
        if name in FILTER_FILES:
            self._write_filter(h, text)
            return len(data)
        if self._write_events(h, text):
            return len(data)
        word = text.strip()
        if name == "current_tracer":
            if word not in TRACERS:
                raise _oserror(errno.EINVAL, f"no tracer '{word}'")
            if word != inst.tracer:
                if inst.pipe_readers:
                    raise _oserror(errno.EBUSY, "trace_pipe is open")
                self._quiet(lambda: self._set_tracer(inst, word))
        elif name == "tracing_on":
            on = bool(_uint(word))
            if on and not inst.tracing_on and inst.tracer == "function":
                # rb_simple_write calls the tracer's start(): function_trace_start resets
                # the buffer (kernel/trace/trace_functions.c)
                self._quiet(lambda: (self.lab.quiesce(), inst.reset()))
            inst.set_tracing_on(on)
        elif name == "trace_clock":
            if word not in clocks(lab.machine.arch):
                raise _oserror(errno.EINVAL, f"no trace clock '{word}'")
            self._quiet(lambda: lab.set_clock(inst, word))
        elif name == "trace_options":
            opt, on = (word[2:], False) if word.startswith("no") else (word, True)
            if opt not in ALL_OPTIONS:
                raise _oserror(errno.EINVAL, f"no trace option '{word}'")
            self._set_option(inst, opt, on)
        elif name == "option":
            value = _uint(word)
            if value not in (0, 1):
                raise _oserror(errno.EINVAL)
            self._set_option(inst, h.node.option or "", bool(value))
        elif name == "buffer_size_kb":
            kb = _uint(word)
            if kb == 0:
                raise _oserror(errno.EINVAL)
            cpus = None if h.node.cpu is None else [h.node.cpu]
            self._quiet(lambda: lab.resize(inst, kb, cpus))
        elif name == "max_graph_depth":
            lab.max_graph_depth = _uint(word)
            lab.apply_graph_depth()
        elif name == "set_ftrace_pid":
            assert h.pids is not None
            for tok in text.split():
                pid = _uint(tok)
                if pid not in h.pids:
                    h.pids.append(pid)
            self._apply(h)
        else:
            raise _oserror(errno.EINVAL)
        return len(data)

    def _write_events(self, h: Handle, text: str) -> bool:
        """Writes to events/ and the event, snapshot and misc files; False: not one of them."""
        name, inst, node = h.node.name, h.inst, h.node
        evs = inst.events
        word = text.strip()
        if name in ("events_enable", "system_enable", "event_enable"):
            value = _uint(word)
            if value not in (0, 1):
                raise _oserror(errno.EINVAL)
            targets = (tev.TRACEPOINTS if name == "events_enable"
                       else [e for e in tev.BY_SYSTEM[node.event].values() if e.tracepoint]
                       if name == "system_enable" else [_event(node.event)])
            for ev in targets:
                evs.set_enable(ev, bool(value))
        elif name in ("event_filter", "system_filter"):
            targets = ([_event(node.event)] if name == "event_filter"
                       else [e for e in tev.BY_SYSTEM[node.event].values() if e.tracepoint])
            self._set_filter(inst, targets, word, strict=name == "event_filter")
        elif name == "event_trigger":
            self._write_trigger(inst, _event(node.event), text)
        elif name == "set_event":
            for tok in text.split():
                on = not tok.startswith("!")
                matched = evs.select(tok.lstrip("!"))
                if not matched:
                    raise _oserror(errno.EINVAL, f"no event matches '{tok}'")
                for ev in matched:
                    evs.set_enable(ev, on)
        elif name == "set_event_pid":
            for tok in text.split():
                evs.pids.add(_uint(tok))
        elif name == "set_ftrace_notrace_pid":
            for tok in text.split():
                pid = _uint(tok)
                if pid not in inst.notrace_pids:
                    inst.notrace_pids.append(pid)
        elif name == "tracing_cpumask":
            try:
                mask = int(word.replace(",", ""), 16)
            except ValueError:
                raise _oserror(errno.EINVAL, f"not a CPU mask: '{word}'") from None
            self._quiet(lambda: self.lab.set_cpumask(inst, mask & ((1 << inst.ncpus) - 1)))
        elif name == "snapshot":
            value = _uint(word)
            if h.node.cpu is not None and value == 1:
                raise _oserror(errno.EINVAL)
            if value == 0:
                inst.snap_raw = None
            elif value == 1:
                self._quiet(lambda: self.lab.take_snapshot(inst))
            elif inst.snap_raw is not None:
                self.lab.alloc_snapshot(inst)  # cleared, still allocated
        elif name == "error_log":
            pass  # only truncation clears it
        elif name == "function_profile_enabled":
            value = _uint(word)
            if value not in (0, 1):
                raise _oserror(errno.EINVAL)
            if bool(value) != bool(self.lab.profile_hooks):
                self.lab.set_profiling(bool(value))
        elif name == "buffer_subbuf_size_kb":
            kb = _uint(word)
            if kb < 1 or kb > 1024:
                raise _oserror(errno.EINVAL)
            # the sub-buffer (page) size: a power of two pages, as the kernel rounds it
            inst.subbuf_kb = 1 << max(0, (kb * 1024 - 1).bit_length() - 10) if kb > 4 else 4
        else:
            return False
        return True

    def _log_error(self, inst: LabInstance, loc: str, cmd: str, err: tev.EventError) -> None:
        """error_log (trace.c tracing_log_err): at most 16 entries."""
        ns = self._ns(self.lab.now(inst)) if inst.clock != "counter" else 0
        usecs = ns // 1000
        entry = (f"[{usecs // 1_000_000:5d}.{usecs % 1_000_000:06d}] {loc}: error: "
                 f"{err.message}\n  Command: {cmd}\n" + " " * (err.pos + 11) + "^\n")
        inst.error_log.append(entry)
        del inst.error_log[:-16]

    def _set_filter(self, inst: LabInstance, targets: list, word: str, strict: bool) -> None:
        if word in ("", "0"):
            for ev in targets:
                st = inst.events.get(ev)
                st.filter_text, st.filter = "", None
            return
        applied = 0
        last: tev.EventError | None = None
        for ev in targets:
            try:
                pred = tev.parse_filter(word, ev)
            except tev.EventError as err:
                last = err
                continue
            st = inst.events.get(ev)
            st.filter_text, st.filter = word, pred
            applied += 1
        if not applied and last is not None:
            self._log_error(inst, "event filter parse error", word, last)
            raise _oserror(last.code, last.message)

    def _write_trigger(self, inst: LabInstance, ev: tev.EventType, text: str) -> None:
        st = inst.events.get(ev)
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                remove, trig = tev.parse_trigger(line, ev)
            except tev.EventError as err:
                self._log_error(inst, "event trigger parse error", line.strip(), err)
                raise _oserror(err.code, err.message) from None
            old = next((t for t in st.triggers if t.key == trig.key), None)
            if remove:
                if old is None:
                    raise _oserror(errno.ENOENT, f"no trigger {line.strip()}")
                st.triggers.remove(old)
                self._trigger_target(inst, old, on=False)
                continue
            if old is not None:
                raise _oserror(errno.EEXIST, f"trigger {trig.cmd} exists")
            st.triggers.append(trig)
            self._trigger_target(inst, trig, on=True)
            if trig.cmd == "snapshot" and inst.snap_raw is None:
                self.lab.alloc_snapshot(inst)  # the kernel allocates it with the trigger

    def _trigger_target(self, inst: LabInstance, trig, on: bool) -> None:
        """enable_event/disable_event put their target in soft mode while they exist."""
        if not trig.target:
            return
        sysname, name = trig.target.split(":")
        _soft_mode(inst.events.get(tev.BY_SYSTEM[sysname][name]), trig.cmd, on)

    def _set_tracer(self, inst: LabInstance, tracer: str) -> None:
        self.lab.quiesce(patching=True)
        inst.set_tracer(tracer)
        inst.reset()  # tracer_init resets the buffers

    def _set_option(self, inst: LabInstance, name: str, on: bool) -> None:
        if name in OPTIONS:
            inst.set_option(name, on)
        else:
            inst.flags[name] = on

    def _option(self, inst: LabInstance, name: str) -> bool:
        return inst.option(name) if name in OPTIONS else inst.flags[name]

    def _filter_set(self, inst: LabInstance, name: str) -> set[str]:
        if name == "set_ftrace_filter":
            return set(inst.filter)
        if name == "set_ftrace_notrace":
            return set(inst.notrace)
        return set(self.lab.graph_funcs if name == "set_graph_function"
                   else self.lab.graph_notrace)

    def _write_filter(self, h: Handle, text: str) -> None:
        assert h.names is not None
        text = h.partial + text
        h.partial = ""
        tokens = text.split()
        if tokens and len(text) >= PAGE_SIZE and not text[-1].isspace():
            h.partial = tokens.pop()  # a large write cut mid-name: the rest comes next
        names = self.lab.ftrace.function_names
        try:
            for tok in tokens:
                if ":" in tok and h.node.name == "set_ftrace_filter":
                    self._func_command(h.inst, tok)
                    continue
                new, unmatched = apply_filter(h.names, [tok], names, append=True)
                if unmatched:
                    raise _oserror(errno.EINVAL, f"no function matches '{tok}'")
                h.names = new
        finally:
            self._apply(h)

    def _func_command(self, inst: LabInstance, tok: str) -> None:
        """`[!]glob:cmd[:param]` (ftrace_process_regex): a probe per matching function."""
        remove = tok.startswith("!")
        glob, _, rest = tok.lstrip("!").partition(":")
        cmd, _, param = rest.partition(":")
        if cmd == "mod":
            # no modules in ftlab: the kernel keeps such a filter for a module loaded later
            if not param:
                raise _oserror(errno.EINVAL, "':mod:' needs a module name")
            entry = f"{glob or '*'}:mod:{param}"
            if remove:
                inst.mod_filters = [m for m in inst.mod_filters if m != entry]
            elif entry not in inst.mod_filters:
                inst.mod_filters.append(entry)
            return
        names = self.lab.ftrace.function_names
        funcs = [f for f in names if fnmatch.fnmatchcase(f, glob or "*")]
        if not funcs:
            raise _oserror(errno.EINVAL, f"no function matches '{glob}'")
        if remove:
            if cmd not in tev.FUNC_CMDS:
                raise _oserror(errno.EINVAL, f"unknown function command '{cmd}'")
            target = ":".join(param.split(":")[:2]) if cmd.endswith("_event") else ""
            gone = [p for p in inst.probes
                    if p.func in funcs and p.cmd == cmd and (not target or p.target == target)]
            if not gone:
                raise _oserror(errno.ENOENT, f"no command {tok[1:]}")
            for p in gone:
                inst.probes.remove(p)
                if p.target:
                    self._probe_target(inst, p, on=False)
        else:
            try:
                target, count = tev.parse_func_command(cmd, param)
            except tev.EventError as err:
                raise _oserror(err.code, err.message) from None
            for f in funcs:
                probe = tev.FuncProbe(f, cmd, count, target)
                old = next((p for p in inst.probes if p.key == probe.key), None)
                if old is not None:
                    old.count = count
                    continue
                inst.probes.append(probe)
                if target:
                    self._probe_target(inst, probe, on=True)
        self._quiet(self.lab.sync_probes)

    def _probe_target(self, inst: LabInstance, p: tev.FuncProbe, on: bool) -> None:
        sysname, name = p.target.split(":")
        _soft_mode(inst.events.get(tev.BY_SYSTEM[sysname][name]), p.cmd, on)

    def _apply(self, h: Handle) -> None:
        """Make the handle's set the file's value."""
        name, inst, lab = h.node.name, h.inst, self.lab
        h.dirty = False
        if name == "set_ftrace_pid":
            if h.pids != inst.pids:
                lab.set_pids(inst, h.pids or [])
            return
        names = set(h.names or ())
        if names == self._filter_set(inst, name):
            return
        if name in ("set_ftrace_filter", "set_ftrace_notrace"):
            notrace = name == "set_ftrace_notrace"
            self._quiet(lambda: (lab.quiesce(patching=True),
                                 inst.set_filter(sorted(names), notrace=notrace)))
        elif name == "set_graph_function":
            lab.graph_funcs = names
            lab.apply_graph_depth()
        else:
            lab.graph_notrace = names

    @staticmethod
    def _quiet(fn: Callable):
        """Run a machine operation; ftlab's errors become errnos."""
        try:
            return fn()
        except FtlabError as err:
            raise _ftlab_errno(err) from None


SNAPSHOT_HELP = """\
# Snapshot commands:
# echo 0 > snapshot : Clears and frees snapshot buffer
# echo 1 > snapshot : Allocates snapshot buffer, if not already allocated.
#                      Takes a snapshot of the main buffer.
# echo 2 > snapshot : Clears snapshot buffer (but does not allocate or free)
#                      (Doesn't have to be '2' works with any number that
#                       is not a '0' or '1')
"""


def _soft_mode(st: tev.EventSettings, cmd: str, on: bool) -> None:
    """An enable_event/disable_event command puts its event in soft mode (trace_events.c
    __ftrace_event_enable_disable): enabled, recording only while not soft-disabled."""
    if on:
        st.soft_mode += 1
        if st.soft_mode == 1:
            st.soft_disabled = cmd == "enable_event"
            st.enabled = True
    else:
        st.soft_mode = max(0, st.soft_mode - 1)
        if not st.soft_mode:
            st.enabled = st.soft_disabled = False


def _event(full: str) -> tev.EventType:
    system, _, name = full.partition(":")
    return tev.BY_SYSTEM[system][name]


def _event_text(ev: TraceEvent) -> str | None:
    """A tracepoint's line after the context: `name: fields` (trace_raw_output_*)."""
    et = tev.BY_ID.get(ev.type_id)
    payload = getattr(ev, "payload", None)
    if et is None or payload is None:
        return None
    return f"{et.name}: {et.show(et.unpack(payload))}\n"


def _ftlab_errno(err: FtlabError) -> OSError:
    text = str(err)
    code = errno.EINVAL
    if "heap exhausted" in text:
        code = errno.ENOMEM
    elif "writer is in progress" in text or "does not leave" in text:
        code = errno.EBUSY
    return _oserror(code, text)


def _uint(word: str) -> int:
    """kstrtoul(..., 10): decimal, no sign, a trailing newline allowed."""
    if not word.isdigit():
        raise _oserror(errno.EINVAL, f"not a number: '{word}'")
    return int(word)


def _cpu_dir(name: str, ncpus: int) -> int | None:
    if name.startswith("cpu") and name[3:].isdigit():
        cpu = int(name[3:])
        if cpu < ncpus:
            return cpu
    return None


def _host_comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()[:15] or "<...>"
    except OSError:
        return "<...>"
