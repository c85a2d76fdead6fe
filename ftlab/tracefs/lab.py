"""The machine side of tracefs: a guest whose entry is re-invoked on every hart, its ftrace,
trace instances with recyclable ring buffers, trace_marker writes and trace_pipe consumption.

Python only touches the machine between scheduler rounds (`SliceLock`): the `Driver` thread
runs `Scheduler.step()` with the lock held, filesystem operations take it in between. Before
guest state is written, `Lab.quiesce()` single-steps any hart that is inside a ring-buffer
writer (struct ring_buffer.nest != 0) or, for code patching, inside a patch site or
ftrace_caller, so Python never races a guest writer or a half-executed site.
"""

from __future__ import annotations

import bisect
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from ftlab.errors import FtlabError
from ftlab.ftrace import abi
from ftlab.ftrace.core import Ftrace
from ftlab.ftrace.guest_time import guest_time
from ftlab.ftrace.schemes import get_scheme
from ftlab.ftrace.tracers import DEFAULT_BUFFER_KB, TraceInstance
from ftlab.guest import abi as gabi
from ftlab.guest.loader import Image
from ftlab.machine.machine import DEFAULT_MAX_INSNS, Machine, Outcome, Scheduler
from ftlab.machine.task import Task, TaskState
from ftlab.session import check_returnable, entry_args, load
from ftlab.trace.events import CpuBuffer, TraceEvent, read_cpu_buffer
from ftlab.tracefs import events as tev

PAGE_SIZE = 4096
TRACE_MARKER_MAX_SIZE = 4096  # kernel/trace/trace.h
MARKER_META = 8 + 16  # the kernel's event header (header_event) and print entry (ip, buf)
FOREVER = 10**9  # iterations of the entry per task: as good as forever
QUIESCE_LIMIT = 1_000_000  # single steps before a hart counts as stuck in a writer
KEEP_MACHINE_EVENTS = 256
FORK_SLOTS = 4  # forked tasks alive at once
TB_FLUSH_ROUNDS = 100  # scheduler rounds between flushes of the translated-code cache

_HEADER = struct.Struct("<HHBBHIIQ")  # struct trace_entry
_U16X2 = struct.Struct("<HH")
_FAKE_RB, _FAKE_DATA = 1 << 63, (1 << 63) + 4096  # read_cpu_buffer view of peeked events


class SliceLock:
    """Filesystem operations run between scheduler rounds, never during emulation.

    `fs()` is re-entrant and wins over the driver: a waiting filesystem operation gets the
    lock at the end of the current round, before the driver starts the next one."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._cv = threading.Condition(threading.Lock())
        self._waiting = 0
        self.rounds = 0
        self.stopped = False

    @contextmanager
    def fs(self) -> Iterator[None]:
        with self._cv:
            self._waiting += 1
        try:
            self._lock.acquire()
        finally:
            with self._cv:
                self._waiting -= 1
                self._cv.notify_all()
        try:
            yield
        finally:
            self._lock.release()

    @contextmanager
    def driver(self) -> Iterator[None]:
        with self._cv:
            while self._waiting and not self.stopped:
                self._cv.wait()
        with self._lock:
            yield

    def round_done(self) -> None:
        with self._cv:
            self.rounds += 1
            self._cv.notify_all()

    def wait_round(self, after: int, timeout: float) -> bool:
        """Wait until a round after `after` completed (or the lock stopped)."""
        with self._cv:
            return self._cv.wait_for(lambda: self.rounds > after or self.stopped, timeout)

    def stop(self) -> None:
        with self._cv:
            self.stopped = True
            self._cv.notify_all()


@dataclass
class CpuAccount:
    """What tracefs adds to one CPU buffer's counters so they count as the kernel counts.

    The guest writer counts every overwritten event as an overrun, also events trace_pipe
    already consumed; the kernel's consumed events sit on the reader page and are never
    overwritten. Consumed positions are kept until the writer's tail passes them."""

    consumed: deque[int] = field(default_factory=deque)
    overwritten_consumed: int = 0
    read_events: int = 0
    lost_reported: int = 0

    def overrun(self, guest_overrun: int, tail: int) -> int:
        while self.consumed and self.consumed[0] < tail:
            self.consumed.popleft()
            self.overwritten_consumed += 1
        return max(0, guest_overrun - self.overwritten_consumed)

    def clear(self) -> None:
        self.consumed.clear()
        self.overwritten_consumed = self.read_events = self.lost_reported = 0


@dataclass
class _Retired:
    ta: int
    rbs: list[int]
    data: list[tuple[int, int]]
    round: int


class BufferPool:
    """Guest memory for trace arrays and ring buffers. The machine's heap never frees, so
    tracefs recycles what a resize or an rmdir gave back."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.free: dict[int, list[int]] = {}
        self.retired: list[_Retired] = []

    def alloc_data(self, size: int) -> int:
        free = self.free.get(size)
        if free:
            return free.pop()
        return self.machine.heap.alloc(size, align=64)

    def free_data(self, addr: int, size: int) -> None:
        self.free.setdefault(size, []).append(addr)


class LabInstance(TraceInstance):
    """A trace instance whose trace_array and ring buffers come from the BufferPool, with
    buffers for the online CPUs only (offline CPUs' slots stay NULL: the writer skips them)."""

    def __init__(self, lab: Lab, name: str, ta: int, rbs: list[int], size: int,
                 clock: str = "counter") -> None:
        # the fields TraceInstance.__init__ sets, over recycled guest memory
        self.ftrace = lab.ftrace
        self.machine = lab.machine
        self.name = name
        self.tracer = "nop"
        self.ops = None
        self.filter = []
        self.notrace = []
        self.addr = ta
        self.buffers = list(rbs)
        mem = self.machine.mem
        self.sizes: list[int] = []
        for cpu, rb in enumerate(rbs):
            mem.set_u64(rb + abi.RB_DATA, lab.pool.alloc_data(size))
            mem.set_u64(rb + abi.RB_SIZE, size)
            mem.set_u64(ta + abi.TA_BUFFERS + 8 * cpu, rb)
            self.sizes.append(size)
        self.buffer_kb = size // 1024
        self.set_clock(clock)
        self.set_tracing_on(True)
        # tracefs state
        self.pids: list[int] = []
        self.flags = {"print-parent": True, "markers": True, "function-fork": False}
        self.pipe_readers = 0
        self.accounts = [CpuAccount() for _ in rbs]
        self.pipe_state: object | None = None  # the trace_pipe printer's state (render.py)
        self.removed = False
        self.events = tev.InstanceEvents()
        # the snapshot buffer: per CPU, a ring (struct ring_buffer and data) swapped with the
        # live one; None: not allocated
        self.snap_raw: list[tuple[bytes, bytes]] | None = None
        self.cpumask = (1 << len(rbs)) - 1
        self.open_traces = 0  # files of the instance open (rmdir answers EBUSY)
        self.error_log: list[str] = []
        self.probes: list[tev.FuncProbe] = []  # set_ftrace_filter's function commands
        self.notrace_pids: list[int] = []
        self.mod_filters: list[str] = []
        self.subbuf_kb = PAGE_SIZE // 1024

    @property
    def ncpus(self) -> int:
        return len(self.buffers)

    def rb_field(self, cpu: int, off: int) -> int:
        return self.machine.mem.u64(self.buffers[cpu] + off)

    def reset(self, cpus: Iterable[int] | None = None) -> None:  # type: ignore[override]
        """Clear buffers (all, or the given CPUs'): opening `trace` with O_TRUNC."""
        mem = self.machine.mem
        for cpu in range(self.ncpus) if cpus is None else cpus:
            rb = self.buffers[cpu]
            if mem.u64(rb + abi.RB_NEST):
                raise FtlabError(f"cpu {cpu}: a ring-buffer writer is in progress")
            head = mem.u64(rb + abi.RB_HEAD)
            for off in (abi.RB_TAIL, abi.RB_READ, abi.RB_COMMIT):
                mem.set_u64(rb + off, head)
            mem.set_u64(rb + abi.RB_ENTRIES, 0)
            mem.set_u64(rb + abi.RB_OVERRUN, 0)
            self.accounts[cpu].clear()
        self.pipe_state = None


IDLE_PRIO = 120  # the prio sched events show for ftlab's tasks (nice 0)


class LabScheduler(Scheduler):
    """ftlab's scheduler, telling the Lab each context switch and wakeup (the sched events),
    and, every `io_period` rounds, parking the task of one hart for `io_rounds` rounds as a
    task blocked on I/O would be: the hart idles, the task is woken and switched back in."""

    def __init__(self, machine: Machine, seed: int, lab: Lab, io_period: int = 0,
                 io_rounds: int = 2) -> None:
        super().__init__(machine, seed=seed)
        self.lab = lab
        self.io_period = io_period
        self.io_rounds = io_rounds
        self.rounds = 0
        self.asleep: list[tuple[int, Task]] = []
        self.last: dict[int, Task | None] = {}  # per hart: the task that ran last (None: idle)

    def _switch_in(self, hart, task: Task) -> None:
        self.machine.switch_in(hart, task)
        prev = self.last.get(hart.id)
        if prev is not task:
            self.lab.sched_switch(hart.id, prev, task, prev_state=tev.PREEMPTED if (
                prev is not None and prev.state == TaskState.RUNNABLE) else 0)
        self.last[hart.id] = task

    def _update_need_resched(self) -> None:
        # a hart is asked to reschedule only for a task that may run on it
        for hart in self.machine.harts:
            waiting = any(t.last_hart in (None, hart.id) for t in self.runq)
            self.machine.mem.set_u64(hart.percpu + gabi.PERCPU_NEED_RESCHED, int(waiting))

    def _pick(self, hart) -> None:
        """The first waiting task that last ran on this hart (or never ran): tasks do not
        migrate, as guest code may hold a per-CPU pointer where the kernel would have
        preemption off (ftlab's guest runtime does not disable it everywhere)."""
        for task in self.runq:
            if task.last_hart is None or task.last_hart == hart.id:
                self.runq.remove(task)
                self._switch_in(hart, task)
                return

    def _went_idle(self, hart, state: int) -> None:
        prev = self.last.get(hart.id)
        if prev is not None:
            self.lab.sched_switch(hart.id, prev, None, prev_state=state)
        self.last[hart.id] = None

    def step(self) -> bool:
        m = self.machine
        self.rounds += 1
        for due, task in list(self.asleep):
            if due <= self.rounds:
                self.asleep.remove((due, task))
                m.wake(task)
                self.runq.append(task)
                self.lab.sched_wakeup(task)
        busy = bool(self.asleep)
        for hart in m.harts:
            if hart.task is None:
                self._pick(hart)
        for hart in m.harts:
            if hart.task is None:
                self._pick(hart)
            if hart.task is None:
                continue
            busy = True
            self._update_need_resched()
            task = hart.task
            outcome = m.run_slice(hart, self.rng.randint(*self.slice_range))
            self.slices += 1
            # never preempted inside a ring-buffer writer: the kernel's writers run with
            # preemption off, and the buffer's nesting count is per CPU
            if outcome == Outcome.YIELD or (outcome == Outcome.SLICE and self.runq
                                             and m.preemptible(hart)
                                             and not self.lab.writing(hart.id)):
                self.runq.append(m.switch_out(hart))
            elif (outcome in (Outcome.SLICE, Outcome.CONTINUE) and self.io_period
                  and not self.runq
                  and self.rounds % self.io_period == 0
                  and hart.id == (self.rounds // self.io_period) % len(m.harts)
                  and m.preemptible(hart) and not self.lab.writing(hart.id)):
                m.sleep(m.switch_out(hart))
                self.asleep.append((self.rounds + self.io_rounds, task))
                self._went_idle(hart, 1)  # TASK_INTERRUPTIBLE: "S"
                continue
            if hart.task is None:
                if task.finished:
                    self.lab.sched_exit(task, hart.id)
                # EXIT_DEAD ("X") or preempted ("R+")
                self._went_idle(hart, 0x10 if task.finished else tev.PREEMPTED)
        if m.deferred:
            m.poll_deferred()
        return busy or bool(self.runq)


@dataclass
class _Pending:
    inst: LabInstance
    cpu: int
    etype: int
    payload: bytes
    pid: int
    ts: int


@dataclass
class Peeked:
    """The oldest unconsumed events of one CPU buffer, for trace_pipe."""

    cpu: int
    events: list[TraceEvent]
    spans: list[tuple[int, int]]  # each event's byte positions in the buffer: start, end
    lost: int  # events overwritten unread since the last [LOST EVENTS] report
    overrun: int


class Lab:
    """An ftlab machine running `entry` in a loop on every hart, with ftrace booted and the
    top-level trace instance (name "") created."""

    def __init__(self, image: Image, scheme: str | None = None, harts: int = 1, seed: int = 0,
                 max_insns: int = DEFAULT_MAX_INSNS, io_period: int = 0,
                 fork_period: int = 0) -> None:
        self.image = image
        self.fork_period = fork_period
        self.workers: list[Task | None] = [None] * FORK_SLOTS  # forked tasks (slots reused)
        self.next_pid = 1000
        # the scheme the image was built for (session.load records it) unless one is named
        self.scheme = get_scheme(image.arch.name, scheme or getattr(image, "scheme", None))
        self.machine = Machine(image, harts=harts, max_insns=max_insns)
        self.ftrace = Ftrace(self.machine, self.scheme)
        self.ftrace.boot()
        self.ncpus = harts
        self.sched = LabScheduler(self.machine, seed, self, io_period=io_period)
        self.lock = SliceLock()
        self.pool = BufferPool(self.machine)
        self.instances: dict[str, LabInstance] = {}
        self.top = self.new_instance("")
        self.top.make_printk_target()
        self.max_graph_depth = 0
        self.graph_funcs: set[str] = set()
        self.graph_notrace: set[str] = set()
        self.tasks: list[Task] = []
        self.faults: list[object] = []
        self.on_fault: Callable[[Task], None] | None = None
        self.driver_running = False
        self._done: dict[int, int] = {}
        self._counter = image.addr("trace_clock_counter")
        windows = [(r.site.start, r.site.start + r.site.size) for r in self.ftrace.records]
        caller = image.function("ftrace_caller")
        windows.append((caller.addr, caller.addr + caller.size))
        windows.sort()
        self._win_lo = [w[0] for w in windows]
        self._win = windows
        self._names: dict[int, str] = {}
        self.pending: list[_Pending] = []  # events for a buffer whose guest writer is busy
        self.probe_hits: list[tuple[str, int, int]] = []
        self.profile: list[dict[str, int]] = [{} for _ in range(harts)]
        self.profile_hooks: list[tuple[object, int]] = []
        self.on_dump: Callable[[LabInstance, int | None], None] | None = None
        self.on_traceoff: Callable[[LabInstance], None] | None = None

    @classmethod
    def build(cls, sources: Sequence[str], arch: str, entry: str, args: Sequence[int] = (),
              harts: int = 1, scheme: str | None = None, seed: int = 0,
              max_insns: int = DEFAULT_MAX_INSNS, iterations: int = FOREVER,
              io_period: int = 0, fork_period: int = 0) -> Lab:
        chosen = get_scheme(arch, scheme)
        image = load(sources, arch, scheme=chosen.name)
        lab = cls(image, chosen.name, harts=harts, seed=seed, max_insns=max_insns,
                  io_period=io_period, fork_period=fork_period)
        lab.start(entry, args, iterations)
        return lab

    # --- the workload -----------------------------------------------------------------------
    def start(self, entry: str, args: Sequence[int] = (), iterations: int = FOREVER) -> None:
        """One task per hart, each calling `entry(*args)` `iterations` times."""
        model = self.image.model(entry)
        check_returnable(model)
        raw = entry_args(self.image, model, args)
        self._entry = (entry, raw)
        for hart in self.machine.harts:
            task = self.machine.spawn(entry, raw, iterations=iterations)
            task.last_hart = hart.id  # one task per hart, kept there (LabScheduler._pick)
            self.sched.enqueue(task)
            self.tasks.append(task)
            self.emit_all(tev.SCHED_PROCESS_FORK, {
                "parent_comm": "swapper/0", "parent_pid": 0, "child_comm": task.comm,
                "child_pid": task.pid}, pid=0, cpu=0)
            self.sched_wakeup(task, new=True)

    def step(self, rounds: int = 1) -> bool:
        """Run scheduler rounds (each between filesystem operations). False: all done."""
        busy = True
        for _ in range(rounds):
            with self.lock.driver():
                busy = self._round()
            self.lock.round_done()
            if not busy:
                break
        return busy

    def _round(self) -> bool:
        if self.pending:
            self._flush_pending()
        if self.fork_period and self.tasks and self.lock.rounds % self.fork_period == 0:
            for parent in self.tasks:  # each of the entry's tasks forks on its own hart
                self._fork(parent)
        if self.lock.rounds % TB_FLUSH_ROUNDS == TB_FLUSH_ROUNDS - 1:
            # Unicorn's translated-code cache fills page by page up to 1 GiB before it
            # flushes itself; a mount re-patches code for hours: flush it here, between
            # slices, so the resident memory stays bounded
            for hart in self.machine.harts:
                hart.uc.ctl_flush_tb()
        busy = self.sched.step()
        if self.probe_hits:
            self._run_probes()
        m = self.machine
        if len(m.events) > 4 * KEEP_MACHINE_EVENTS:  # dump_stack() output of a looping entry
            del m.events[:-KEEP_MACHINE_EVENTS]
        for task in self.tasks:
            # --max-insns is a budget per invocation here: the entry runs forever
            done = m.mem.u64(task.struct_addr + gabi.TASK_DONE_ITERS)
            if done != self._done.get(task.index):
                self._done[task.index] = done
                task.insns = 0
            if task.state == TaskState.FAULTED and task.fault not in self.faults:
                self.faults.append(task.fault)
                if self.on_fault:
                    self.on_fault(task)
        return busy

    def wait_for_progress(self, timeout: float = 0.1) -> None:
        """Let the workload run a little: wait for the driver's next round, or (no driver)
        run one round here."""
        if self.driver_running:
            self.lock.wait_round(self.lock.rounds, timeout)
        elif not self.step():
            time.sleep(timeout)

    # --- between slices ---------------------------------------------------------------------
    def _in_window(self, pc: int) -> bool:
        i = bisect.bisect_right(self._win_lo, pc) - 1
        return i >= 0 and self._win[i][0] <= pc < self._win[i][1]

    def writing(self, cpu: int) -> bool:
        """A guest ring-buffer writer is in progress on this CPU."""
        return self._writing(cpu)

    def _writing(self, cpu: int) -> bool:
        mem = self.machine.mem
        arrays = [inst.buffers for inst in self.instances.values()]
        arrays += [r.rbs for r in self.pool.retired]
        return any(cpu < len(rbs) and mem.u64(rbs[cpu] + abi.RB_NEST) for rbs in arrays)

    def quiesce(self, patching: bool = False) -> None:
        """Step harts out of ring-buffer writers (and, for patching, out of patch sites and
        ftrace_caller), as the test suite's live-refilter test does."""
        for hart in self.machine.harts:
            for _ in range(QUIESCE_LIMIT):
                if hart.task is None:
                    break
                if not (self._writing(hart.id) or (patching and self._in_window(hart.pc))):
                    break
                self.machine.run_slice(hart, 1)
            else:
                raise FtlabError(f"hart {hart.id} does not leave its ring-buffer writer")

    # --- instances ----------------------------------------------------------------------------
    def new_instance(self, name: str, buffer_kb: int = DEFAULT_BUFFER_KB) -> LabInstance:
        if name in self.instances:
            raise FtlabError(f"instance '{name}' exists")
        size = round_size(buffer_kb)
        rec = self._recyclable()
        mem = self.machine.mem
        if rec is not None:
            self.pool.retired.remove(rec)
            for addr, sz in rec.data:
                self.pool.free_data(addr, sz)
            ta, rbs = rec.ta, rec.rbs
            mem.write(ta, bytes(abi.TA_STRUCT_SIZE))
            for rb in rbs:
                mem.write(rb, bytes(abi.RB_STRUCT_SIZE))
        else:
            heap = self.machine.heap
            ta = heap.alloc(abi.TA_STRUCT_SIZE)
            rbs = [heap.alloc(abi.RB_STRUCT_SIZE) for _ in range(self.ncpus)]
        inst = LabInstance(self, name, ta, rbs, size)
        if name:
            mem.set_u64(ta + abi.TA_MAX_GRAPH_DEPTH, self._guest_depth())
        self.instances[name] = inst
        return inst

    def remove_instance(self, name: str) -> None:
        inst = self.instances[name]
        self.quiesce(patching=True)
        inst.set_tracer("nop")
        inst.set_tracing_on(False)
        guest_time(self.machine).use(inst, False)  # its clock no longer needs the guest time
        inst.removed = True
        del self.instances[name]
        data = [(inst.rb_field(cpu, abi.RB_DATA), inst.sizes[cpu]) for cpu in range(inst.ncpus)]
        self.pool.retired.append(_Retired(inst.addr, inst.buffers, data, self.lock.rounds))

    def _recyclable(self) -> _Retired | None:
        """A removed instance's memory nobody can still write: no hart in its writer, no
        task's function_graph return stack pointing at it, two rounds since the rmdir."""
        if not self.pool.retired:
            return None
        mem = self.machine.mem
        referenced: set[int] = set()
        for task in self.machine.tasks:
            if task.finished:
                continue
            base = mem.u64(task.struct_addr + gabi.TASK_TRACER + 8 * abi.TASK_TR_RET_STACK)
            depth = mem.u64(task.struct_addr + gabi.TASK_TRACER + 8 * abi.TASK_TR_CURR_RET)
            for i in range(min(depth, 64)):
                referenced.add(mem.u64(base + abi.RET_STACK_ENTRY * i + 24))
        for rec in self.pool.retired:
            if rec.round + 2 > self.lock.rounds or rec.ta in referenced:
                continue
            if any(mem.u64(rb + abi.RB_NEST) for rb in rec.rbs):
                continue
            return rec
        return None

    # --- settings that span instances ------------------------------------------------------------
    def _guest_depth(self) -> int:
        # with set_graph_function the depth counts from the graph function: tracefs applies it
        return 0 if self.graph_funcs else self.max_graph_depth

    def apply_graph_depth(self) -> None:
        for inst in self.instances.values():
            inst.set_max_graph_depth(self._guest_depth())

    def set_pids(self, inst: LabInstance, pids: list[int]) -> None:
        """set_ftrace_pid: one pid is the guest's own filter; several (or pid 0, the idle
        task) are filtered when read."""
        inst.pids = list(pids)
        inst.set_pid_filter(pids[0] if len(pids) == 1 and pids[0] else 0)

    def func_name(self, addr: int) -> str:
        name = self._names.get(addr)
        if name is None:
            sym = self.image.func_at(addr)
            name = self._names[addr] = sym.name if sym else f"{addr:#x}"
        return name

    # --- clocks -------------------------------------------------------------------------------
    def set_clock(self, inst: LabInstance, clock: str) -> None:
        self.quiesce()
        inst.set_clock(clock)
        inst.reset()  # tracing_set_clock resets the buffers

    def now(self, inst: LabInstance, cpu: int | None = None) -> int:
        """The instance's trace clock as the guest would read it now (between slices): the
        counter, or the guest time of `cpu` (default: the latest of the harts)."""
        if inst.clock == "counter":
            return self.machine.mem.u64(self._counter)
        gt = guest_time(self.machine)
        if cpu is not None:
            return gt.now(cpu)
        return max(gt.now(h.id) for h in self.machine.harts)

    def _clock_tick(self, inst: LabInstance, cpu: int | None = None) -> int:
        if inst.clock == "counter":
            value = self.machine.mem.u64(self._counter) + 1
            self.machine.mem.set_u64(self._counter, value)
            return value
        return self.now(inst, cpu)

    def _fork(self, parent: Task) -> None:
        """`parent` forks a task that calls the entry once and exits. The forked tasks'
        slots (task struct and stack) are reused once they have exited."""
        free = next((i for i, w in enumerate(self.workers) if w is None or w.finished), None)
        if parent.finished or free is None:
            return
        entry, raw = self._entry
        w = self.workers[free]
        if w is None:
            w = self.machine.spawn(entry, raw, iterations=1)
        else:
            mem = self.machine.mem
            fresh = Task(w.index, w.pid, w.comm, w.entry, w.struct_addr, w.stack_top)
            fresh.context = self.machine._initial_context(self.machine._task_main, w.stack_top)
            for off in (gabi.TASK_DONE_ITERS, gabi.TASK_RESULT, gabi.TASK_TRACER + 8 * 2):
                mem.set_u64(w.struct_addr + off, 0)
            self.machine.tasks[w.index] = w = fresh
        self.workers[free] = w
        w.pid = self.next_pid
        self.next_pid = self.next_pid + 1 if self.next_pid < 32767 else 1000
        self.machine.mem.set_u64(w.struct_addr + gabi.TASK_PID, w.pid)
        cpu = parent.last_hart or 0
        w.last_hart = cpu
        self.emit_all(tev.SCHED_PROCESS_FORK, {
            "parent_comm": parent.comm, "parent_pid": parent.pid, "child_comm": w.comm,
            "child_pid": w.pid}, pid=parent.pid, cpu=cpu)
        self.sched_wakeup(w, new=True)
        self.sched.runq.appendleft(w)  # the child runs next (wakeup preemption)

    # --- trace events written by ftlab itself -------------------------------------------------
    def sched_switch(self, cpu: int, prev: Task | None, nxt: Task | None,
                     prev_state: int) -> None:
        def who(t: Task | None) -> tuple[str, int]:
            return (t.comm, t.pid) if t is not None else (f"swapper/{cpu}", 0)
        (pc, pp), (nc, np_) = who(prev), who(nxt)
        self.emit_all(tev.SCHED_SWITCH, {
            "prev_comm": pc, "prev_pid": pp, "prev_prio": IDLE_PRIO, "prev_state": prev_state,
            "next_comm": nc, "next_pid": np_, "next_prio": IDLE_PRIO}, pid=pp, cpu=cpu)

    def sched_wakeup(self, task: Task, new: bool = False) -> None:
        cpu = task.last_hart or 0
        values = {"comm": task.comm, "pid": task.pid, "prio": IDLE_PRIO, "target_cpu": cpu}
        if not new:
            self.emit_all(tev.SCHED_WAKING, values, pid=0, cpu=cpu)
        self.emit_all(tev.SCHED_WAKEUP_NEW if new else tev.SCHED_WAKEUP, values, pid=0, cpu=cpu)

    def sched_exit(self, task: Task, cpu: int) -> None:
        self.emit_all(tev.SCHED_PROCESS_EXIT, {"comm": task.comm, "pid": task.pid,
                                               "prio": IDLE_PRIO}, pid=task.pid, cpu=cpu)

    def emit_all(self, ev: tev.EventType, values: dict, pid: int, cpu: int) -> None:
        for inst in list(self.instances.values()):
            if inst.events.active():
                self.emit(inst, ev, values, pid, cpu)

    def emit(self, inst: LabInstance, ev: tev.EventType, values: dict, pid: int,
             cpu: int) -> bool:
        """A tracepoint hit on `cpu`: run its triggers, record it when enabled, not filtered
        and tracing is on (trace_event_buffer_commit; triggers as event_triggers_call)."""
        st = inst.events.get(ev)
        full = {**values, "common_pid": pid, "common_type": ev.id, "common_flags": 0,
                "common_preempt_count": 0}
        record = st.enabled and not st.soft_disabled
        if record and inst.events.pids and not (_event_pids(ev, values, pid)
                                                & inst.events.pids):
            record = False
        if record and st.filter is not None and not st.filter(full):
            record = False
        self._triggers(inst, st, full, cpu, pid)
        if not record or not inst.tracing_on or not (inst.cpumask >> cpu) & 1:
            return False
        self._write_event(inst, cpu, ev.id, ev.pack(values), pid)
        return True

    def _triggers(self, inst: LabInstance, st: tev.EventSettings, values: dict, cpu: int,
                  pid: int) -> None:
        for trig in list(st.triggers):
            if trig.count == 0 or (trig.filter is not None and not trig.filter(values)):
                continue
            # traceon/traceoff count only the hits that change something (traceon_count_trigger)
            if trig.cmd in ("traceon", "traceoff") and inst.tracing_on == (trig.cmd == "traceon"):
                continue
            if trig.count > 0:
                trig.count -= 1
            self._fire(inst, trig, cpu, pid)

    def _fire(self, inst: LabInstance, trig: tev.Trigger, cpu: int, pid: int) -> None:
        if trig.cmd == "traceon":
            inst.set_tracing_on(True)
        elif trig.cmd == "traceoff":
            inst.set_tracing_on(False)
        elif trig.cmd == "snapshot":
            self.take_snapshot(inst)
        elif trig.cmd == "stacktrace":
            hart = self.machine.harts[cpu] if cpu < len(self.machine.harts) else None
            frames = [hart.pc] if hart is not None and hart.task is not None else []
            payload = struct.pack(f"<Q{len(frames) + 1}Q", len(frames) + 1, *frames,
                                  0xFFFFFFFFFFFFFFFF)
            if inst.tracing_on:
                self._write_event(inst, cpu, abi.TRACE_STACK, payload, pid)
        elif trig.cmd in ("enable_event", "disable_event"):
            sysname, name = trig.target.split(":")
            target = inst.events.get(tev.BY_SYSTEM[sysname][name])
            target.soft_disabled = trig.cmd == "disable_event"
            if trig.cmd == "enable_event":
                target.enabled = True

    # --- function commands (probes on function entries) ---------------------------------------
    def sync_probes(self) -> None:
        """One code hook per probed function entry on every hart (the kernel's probe ops);
        hits are acted on at the end of the round."""
        from unicorn import UC_HOOK_CODE

        wanted = {p.func for inst in self.instances.values() for p in inst.probes}
        hooks = self.__dict__.setdefault("_probe_hooks", {})
        for func in list(hooks):
            if func not in wanted:
                for hart, handle in hooks.pop(func):
                    hart.uc.hook_del(handle)
        for func in wanted - set(hooks):
            addr = self.image.function(func).addr
            hooks[func] = [(hart, hart.uc.hook_add(
                UC_HOOK_CODE, self._probe_hit, (func, hart), begin=addr, end=addr))
                for hart in self.machine.harts]
            for hart in self.machine.harts:  # code translated before the hook skips it
                hart.flush_code(addr, addr + 1)

    # --- the function profiler (function_profile_enabled, trace_stat/functionN) -------------
    def set_profiling(self, on: bool) -> None:
        """Count every hit of every traceable function per CPU (kernel/trace/ftrace.c's
        function profiler; hits only: its Time columns need the graph return, which a
        code hook on the entry does not see). Enabling starts from zero."""
        from unicorn import UC_HOOK_CODE

        for hart, handle in self.profile_hooks:
            hart.uc.hook_del(handle)
        self.profile_hooks = []
        if not on:
            return
        self.profile = [dict() for _ in self.machine.harts]
        addrs = {self.image.function(r.func).addr: r.func
                 for r in self.ftrace.records}
        for hart in self.machine.harts:
            counts = self.profile[hart.id]
            for addr, func in addrs.items():
                self.profile_hooks.append((hart, hart.uc.hook_add(
                    UC_HOOK_CODE, _count_hit, (counts, func), begin=addr, end=addr)))
            for addr in addrs:
                hart.flush_code(addr, addr + 1)

    def _probe_hit(self, uc, address, size, data) -> None:  # noqa: ARG002  (unicorn's hook)
        func, hart = data
        task = hart.task
        self.probe_hits.append((func, hart.id, task.pid if task is not None else 0))

    def _run_probes(self) -> None:
        hits, self.probe_hits = self.probe_hits, []
        for func, cpu, pid in hits:
            for inst in list(self.instances.values()):
                for p in inst.probes:
                    if p.func == func and p.count != 0:
                        self._probe_action(inst, p, cpu, pid)

    def _probe_action(self, inst: LabInstance, p: tev.FuncProbe, cpu: int, pid: int) -> None:
        # counts go down only when the command changes something (ftrace_traceon_count)
        if p.cmd in ("traceon", "traceoff"):
            on = p.cmd == "traceon"
            if inst.tracing_on == on:
                return
            inst.set_tracing_on(on)
        elif p.cmd == "stacktrace":
            if not inst.tracing_on:
                return
            addr = self.image.function(p.func).addr
            payload = struct.pack("<QQQ", 2, addr, 0xFFFFFFFFFFFFFFFF)
            self._write_event(inst, cpu, abi.TRACE_STACK, payload, pid)
        elif p.cmd == "snapshot":
            self.take_snapshot(inst)
        elif p.cmd in ("enable_event", "disable_event"):
            sysname, name = p.target.split(":")
            st = inst.events.get(tev.BY_SYSTEM[sysname][name])
            soft_off = p.cmd == "disable_event"
            if st.soft_disabled == soft_off:
                return
            st.soft_disabled = soft_off
        elif p.cmd in ("dump", "cpudump") and self.on_dump is not None:
            self.on_dump(inst, None if p.cmd == "dump" else cpu)
        if p.count > 0:
            p.count -= 1

    def set_cpumask(self, inst: LabInstance, mask: int) -> None:
        """tracing_cpumask: a CPU outside the mask gets a NULL buffer slot in the guest's
        trace_array, so its writers skip it (as for an offline CPU); reads still show what
        it recorded before."""
        self.quiesce()
        for cpu, rb in enumerate(inst.buffers):
            self.machine.mem.set_u64(inst.addr + abi.TA_BUFFERS + 8 * cpu,
                                     rb if (mask >> cpu) & 1 else 0)
        inst.cpumask = mask

    def take_snapshot(self, inst: LabInstance) -> None:
        """`echo 1 > snapshot` (update_max_tr): the live buffers and the snapshot buffers
        swap; a snapshot buffer allocated now starts empty."""
        self.quiesce()
        mem = self.machine.mem
        if inst.snap_raw is None:
            self.alloc_snapshot(inst)
        assert inst.snap_raw is not None
        swapped = []
        for cpu, rb in enumerate(inst.buffers):
            data, size = inst.rb_field(cpu, abi.RB_DATA), inst.rb_field(cpu, abi.RB_SIZE)
            live = (mem.read(rb, abi.RB_STRUCT_SIZE), mem.read(data, size))
            snap_rb, snap_data = inst.snap_raw[cpu]
            if len(snap_data) == size:
                mem.write(data, snap_data)
                for off in (abi.RB_HEAD, abi.RB_TAIL, abi.RB_ENTRIES, abi.RB_OVERRUN,
                            abi.RB_READ, abi.RB_COMMIT):
                    mem.set_u64(rb + off, _u64(snap_rb, off))
            else:  # resized since: an empty buffer
                inst.reset([cpu])
            inst.accounts[cpu].clear()
            swapped.append(live)
        inst.snap_raw = swapped
        inst.pipe_state = None

    def alloc_snapshot(self, inst: LabInstance) -> None:
        """An empty snapshot buffer of the live buffers' sizes."""
        out = []
        for cpu, rb in enumerate(inst.buffers):
            raw = bytearray(self.machine.mem.read(rb, abi.RB_STRUCT_SIZE))
            for off in (abi.RB_HEAD, abi.RB_TAIL, abi.RB_ENTRIES, abi.RB_OVERRUN, abi.RB_READ,
                        abi.RB_COMMIT, abi.RB_NEST):
                struct.pack_into("<Q", raw, off, 0)
            out.append((bytes(raw), bytes(inst.rb_field(cpu, abi.RB_SIZE))))
        inst.snap_raw = out

    def snapshot_buffers(self, inst: LabInstance) -> list[CpuBuffer]:
        """The snapshot buffer's events, per CPU."""
        out = []
        for cpu, (raw, data) in enumerate(inst.snap_raw or []):
            fake = bytearray(raw)
            struct.pack_into("<Q", fake, abi.RB_DATA, _FAKE_DATA)
            read_mem = _reader({_FAKE_RB: bytes(fake), _FAKE_DATA: data}, self.machine.mem.read)
            out.append(read_cpu_buffer(read_mem, _FAKE_RB, cpu=cpu))
        return out

    def _write_event(self, inst: LabInstance, cpu: int, etype: int, payload: bytes,
                     pid: int) -> None:
        ts = self._clock_tick(inst, cpu)
        if self._writing(cpu) or self.pending:
            self.pending.append(_Pending(inst, cpu, etype, payload, pid, ts))
            return
        self._put(inst, cpu, etype, payload, pid, ts)

    def _put(self, inst: LabInstance, cpu: int, etype: int, payload: bytes, pid: int,
             ts: int) -> None:
        if cpu >= inst.ncpus or inst.removed:
            return
        rb = inst.buffers[cpu]
        length = (abi.ENTRY_HEADER + len(payload) + 7) & ~7
        if length > inst.rb_field(cpu, abi.RB_SIZE) // 4:
            return
        e = self._rb_reserve(rb, length)
        body = payload.ljust(length - abi.ENTRY_HEADER, b"\0")
        self.machine.mem.write(e, _HEADER.pack(etype, length, 0, 0, 0, pid & 0xFFFFFFFF, cpu,
                                               ts) + body)
        self._rb_commit(rb)

    def _flush_pending(self) -> None:
        keep: list[_Pending] = []
        for p in self.pending:
            if keep or self._writing(p.cpu):
                keep.append(p)
            else:
                self._put(p.inst, p.cpu, p.etype, p.payload, p.pid, p.ts)
        self.pending = keep

    # --- ring buffers ----------------------------------------------------------------------------
    def resize(self, inst: LabInstance, kb: int, cpus: Iterable[int] | None = None) -> None:
        """buffer_size_kb: new data arrays, keeping the newest events that fit."""
        size = round_size(kb)
        self.quiesce()
        mem = self.machine.mem
        for cpu in range(inst.ncpus) if cpus is None else cpus:
            rb = inst.buffers[cpu]
            old, old_size = mem.u64(rb + abi.RB_DATA), mem.u64(rb + abi.RB_SIZE)
            if old_size == size:
                continue
            new = self.pool.alloc_data(size)
            head, tail, read = (mem.u64(rb + o) for o in (abi.RB_COMMIT, abi.RB_TAIL,
                                                          abi.RB_READ))
            blob = mem.read(old, old_size)
            spans = _walk(lambda off, b=blob: b[off:off + 4], max(tail, read), head, old_size)
            kept: list[bytes] = []
            total = 0
            for pos, end in reversed(spans):
                if total + end - pos > size:
                    break
                off = pos % old_size
                kept.append(mem.read(old + off, end - pos))
                total += end - pos
            blob = b"".join(reversed(kept))
            mem.write(new, blob)
            dropped = len(spans) - len(kept)
            mem.set_u64(rb + abi.RB_OVERRUN, mem.u64(rb + abi.RB_OVERRUN) + dropped)
            for off, value in ((abi.RB_DATA, new), (abi.RB_SIZE, size), (abi.RB_TAIL, 0),
                               (abi.RB_READ, 0), (abi.RB_HEAD, total), (abi.RB_COMMIT, total)):
                mem.set_u64(rb + off, value)
            inst.accounts[cpu].consumed.clear()
            inst.sizes[cpu] = size
            self.pool.free_data(old, old_size)
        inst.buffer_kb = inst.sizes[0] // 1024

    def write_marker(self, inst: LabInstance, data: bytes, pid: int) -> int:
        """trace_marker: TRACE_PRINT events written as rb_reserve()/rb_commit() do, into the
        first online CPU's buffer that no guest writer is using. A write longer than what
        one sub-buffer holds is split over several events, as the kernel (6.12) does.
        Returns the bytes taken."""
        self.quiesce()
        mem = self.machine.mem
        cpu = next((c for c in range(inst.ncpus) if not inst.rb_field(c, abi.RB_NEST)), None)
        if cpu is None:
            raise FtlabError("every ring buffer has a writer in progress")
        rb = inst.buffers[cpu]
        size = mem.u64(rb + abi.RB_SIZE)
        # one event: a sub-buffer's data less the event header, the print entry's ip and
        # length, and the newline and NUL the marker adds
        per_event = inst.subbuf_kb * 1024 - 16 - MARKER_META - 2
        room = ((size // 4) & ~7) - abi.ENTRY_HEADER - 16 - 2  # a quarter of the buffer
        chunk = min(per_event, room)
        if chunk <= 0:
            raise FtlabError("the ring buffer is too small for a marker")
        cnt = min(len(data), max(TRACE_MARKER_MAX_SIZE, per_event))
        for start in range(0, cnt, chunk):
            self._put_marker(inst, rb, cpu, data[start:min(cnt, start + chunk)], pid)
        st = inst.events.events[tev.PRINT_FULL]
        if st.triggers:  # after the commit, as tracing_mark_write calls them
            self._triggers(inst, st, {"ip": 0, "buf": data[:cnt].decode(errors="replace"),
                                      "common_pid": pid}, cpu, pid)
        return cnt

    def _put_marker(self, inst: LabInstance, rb: int, cpu: int, text: bytes, pid: int) -> None:
        mem = self.machine.mem
        if not text.endswith(b"\n"):
            text += b"\n"
        payload = 16 + len(text) + 1
        length = (abi.ENTRY_HEADER + payload + 7) & ~7
        ts = self._clock_tick(inst, cpu)
        if inst.clock != "counter":
            # a marker written now is never older than what the guest already recorded
            latest = [e.ts for c in range(inst.ncpus)
                      for e in read_cpu_buffer(mem.read, inst.buffers[c]).events[-1:]]
            ts = max([ts, *(t + 1 for t in latest)])
        e = self._rb_reserve(rb, length)
        body = struct.pack("<QQ", 0, len(text)) + text
        body = body.ljust(length - abi.ENTRY_HEADER, b"\0")
        mem.write(e, _HEADER.pack(abi.TRACE_PRINT, length, 0, 0, 0, pid & 0xFFFFFFFF, cpu,
                                  ts) + body)
        self._rb_commit(rb)

    def _rb_reserve(self, rb: int, length: int) -> int:
        mem = self.machine.mem
        size, data = mem.u64(rb + abi.RB_SIZE), mem.u64(rb + abi.RB_DATA)
        mem.set_u64(rb + abi.RB_NEST, mem.u64(rb + abi.RB_NEST) + 1)
        head = mem.u64(rb + abi.RB_HEAD)
        off = head % size
        if off + length > size:
            pad = size - off
            self._make_room(rb, pad)
            mem.write(data + off, _U16X2.pack(abi.TRACE_PAD, pad))
            head += pad
            mem.set_u64(rb + abi.RB_HEAD, head)
        self._make_room(rb, length)
        entry = data + head % size
        mem.set_u64(rb + abi.RB_HEAD, head + length)
        mem.set_u64(rb + abi.RB_ENTRIES, mem.u64(rb + abi.RB_ENTRIES) + 1)
        return entry

    def _make_room(self, rb: int, length: int) -> None:
        mem = self.machine.mem
        size, data = mem.u64(rb + abi.RB_SIZE), mem.u64(rb + abi.RB_DATA)
        head, tail = mem.u64(rb + abi.RB_HEAD), mem.u64(rb + abi.RB_TAIL)
        overrun = mem.u64(rb + abi.RB_OVERRUN)
        while head + length - tail > size:
            etype, esize = _U16X2.unpack(mem.read(data + tail % size, 4))
            if esize == 0:
                raise FtlabError(f"ring buffer {rb:#x}: zero-sized event at {tail}")
            if etype != abi.TRACE_PAD:
                overrun += 1
            tail += esize
        mem.set_u64(rb + abi.RB_TAIL, tail)
        mem.set_u64(rb + abi.RB_OVERRUN, overrun)
        if mem.u64(rb + abi.RB_READ) < tail:
            mem.set_u64(rb + abi.RB_READ, tail)

    def _rb_commit(self, rb: int) -> None:
        mem = self.machine.mem
        nest = mem.u64(rb + abi.RB_NEST) - 1
        mem.set_u64(rb + abi.RB_NEST, nest)
        if nest == 0:
            mem.set_u64(rb + abi.RB_COMMIT, mem.u64(rb + abi.RB_HEAD))

    # --- reading --------------------------------------------------------------------------------
    def snapshot(self, inst: LabInstance, cpus: Iterable[int] | None = None) -> list[CpuBuffer]:
        """The events present in the buffers (not consumed, not overwritten), with overrun
        counted as the kernel counts it. Guest memory is copied under the lock and decoded
        after."""
        cpus = list(range(inst.ncpus) if cpus is None else cpus)
        mem = self.machine.mem
        regions: dict[int, bytes] = {}
        overruns = {}
        with self.lock.fs():
            for cpu in cpus:
                rb = inst.buffers[cpu]
                raw = mem.read(rb, abi.RB_STRUCT_SIZE)
                data, size, tail, overrun = (_u64(raw, o) for o in (
                    abi.RB_DATA, abi.RB_SIZE, abi.RB_TAIL, abi.RB_OVERRUN))
                regions[rb] = raw
                regions[data] = mem.read(data, size)
                overruns[cpu] = inst.accounts[cpu].overrun(overrun, tail)
        read_mem = _reader(regions, mem.read)
        out = []
        for cpu in cpus:
            buf = read_cpu_buffer(read_mem, inst.buffers[cpu], cpu=cpu)
            buf.overrun = overruns[cpu]
            out.append(buf)
        return out

    def peek(self, inst: LabInstance, cpus: Iterable[int], limit: int) -> list[Peeked]:
        """Up to `limit` of the oldest unconsumed events per CPU (hold the lock, quiesced)."""
        mem = self.machine.mem
        out = []
        for cpu in cpus:
            rb = inst.buffers[cpu]
            raw = bytearray(mem.read(rb, abi.RB_STRUCT_SIZE))
            data, size, commit, tail, read, nest, overrun = (_u64(raw, o) for o in (
                abi.RB_DATA, abi.RB_SIZE, abi.RB_COMMIT, abi.RB_TAIL, abi.RB_READ,
                abi.RB_NEST, abi.RB_OVERRUN))
            acct = inst.accounts[cpu]
            total_overrun = acct.overrun(overrun, tail)
            lost = total_overrun - acct.lost_reported
            if nest:  # a writer the quiesce could not finish (a faulted task): skip
                continue
            start = max(tail, read)
            spans = _walk(lambda off, d=data: mem.read(d + off, 4), start, commit, size, limit)
            if not spans:
                out.append(Peeked(cpu, [], [], lost, total_overrun))
                continue
            # the events taken, laid out linearly in a buffer of their own
            parts, lo, hi = [], spans[0][0], spans[0][0]
            for pos, end in spans:
                if pos != hi or pos // size != lo // size:
                    parts.append(mem.read(data + lo % size, hi - lo))
                    lo = pos
                hi = end
            parts.append(mem.read(data + lo % size, hi - lo))
            blob = b"".join(parts)
            fake = bytearray(abi.RB_STRUCT_SIZE)
            for off, value in ((abi.RB_DATA, _FAKE_DATA), (abi.RB_SIZE, len(blob)),
                               (abi.RB_HEAD, len(blob)), (abi.RB_COMMIT, len(blob))):
                struct.pack_into("<Q", fake, off, value)
            read_mem = _reader({_FAKE_RB: bytes(fake), _FAKE_DATA: blob}, mem.read)
            buf = read_cpu_buffer(read_mem, _FAKE_RB, cpu=cpu)
            out.append(Peeked(cpu, buf.events, spans, lost, total_overrun))
        return out

    def consume(self, inst: LabInstance, peeked: Peeked, count: int) -> None:
        """Mark the first `count` peeked events of a CPU read (struct ring_buffer.read)."""
        if count <= 0:
            return
        mem = self.machine.mem
        rb = inst.buffers[peeked.cpu]
        end = peeked.spans[count - 1][1]
        if end > mem.u64(rb + abi.RB_READ):
            mem.set_u64(rb + abi.RB_READ, end)
        acct = inst.accounts[peeked.cpu]
        acct.consumed.extend(pos for pos, _ in peeked.spans[:count])
        acct.read_events += count
        acct.lost_reported = peeked.overrun


SUBBUF_DATA = PAGE_SIZE - 16  # a sub-buffer's data (header_page: 16 bytes of header)


def _event_pids(ev: tev.EventType, values: dict, pid: int) -> set[int]:
    """The tasks set_event_pid is checked against (trace_events.c: a switch is kept when
    either side is followed, a wakeup when the woken task is, a fork when either is)."""
    if ev is tev.SCHED_SWITCH:
        return {values["prev_pid"], values["next_pid"]}
    if ev in (tev.SCHED_WAKEUP, tev.SCHED_WAKEUP_NEW, tev.SCHED_WAKING):
        return {values["pid"]}
    if ev is tev.SCHED_PROCESS_FORK:
        return {values["parent_pid"], values["child_pid"]}
    return {pid}


def _count_hit(uc, address, size, data) -> None:  # noqa: ARG001  (unicorn's hook)
    counts, func = data
    counts[func] = counts.get(func, 0) + 1


def round_size(kb: int) -> int:
    """buffer_size_kb in bytes of ftlab's ring: the kernel's number of sub-buffers (enough
    4080-byte data areas for `kb`, at least 2: ring_buffer_resize) times a page."""
    pages = max(2, -(-kb * 1024 // SUBBUF_DATA))
    return pages * PAGE_SIZE


def shown_kb(size: int) -> int:
    """What buffer_size_kb shows for a ring of `size` bytes: its sub-buffers' data in KiB
    (tracing_entries_read: nr_pages * BUF_PAGE_SIZE >> 10), so 4 reads back as 7."""
    return size // PAGE_SIZE * SUBBUF_DATA >> 10


def _u64(raw: bytes | bytearray, off: int) -> int:
    return struct.unpack_from("<Q", raw, off)[0]


def _reader(regions: dict[int, bytes], fallback: Callable[[int, int], bytes]):
    def read(addr: int, n: int) -> bytes:
        blob = regions.get(addr)
        if blob is not None and len(blob) >= n:
            return blob[:n]
        return fallback(addr, n)
    return read


def _walk(header: Callable[[int], bytes], start: int, end: int, size: int,
          limit: int | None = None) -> list[tuple[int, int]]:
    """(position, end) of the non-pad events between monotonic positions start and end;
    `header(offset)` gives the 4 bytes (type, size) of the event at a data offset."""
    spans = []
    pos = start
    while pos < end and (limit is None or len(spans) < limit):
        off = pos % size
        left = size - off
        etype, esize = _U16X2.unpack(header(off))
        if etype == abi.TRACE_PAD:
            pos += left
            continue
        if esize < abi.ENTRY_HEADER or esize > left:
            raise FtlabError(f"ring buffer: bad event size {esize} at {pos}")
        spans.append((pos, pos + esize))
        pos += esize
    return spans


class Driver:
    """Runs the lab's scheduler rounds in a background thread until stopped."""

    def __init__(self, lab: Lab, idle_sleep: float = 0.05) -> None:
        self.lab = lab
        self.idle_sleep = idle_sleep
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Driver:
        self.lab.driver_running = True
        self._thread = threading.Thread(target=self._run, name="ftlab-tracefs-driver",
                                        daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if not self.lab.step():
                    self._stop.wait(self.idle_sleep)  # every task finished or faulted
        except BaseException as err:  # reported by stop(); the filesystem keeps serving
            self.error = err
        finally:
            self.lab.driver_running = False

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.lab.driver_running = False
        self.lab.lock.stop()

    def __enter__(self) -> Driver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
