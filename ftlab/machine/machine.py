"""The machine: guest RAM, harts, tasks, machine calls, interrupts, stop_machine, text patching.

Python is the control plane: it runs between time slices and at machine calls, never per traced
call. Every code write goes through `text_poke`, which drops translated blocks on every hart
(Unicorn's translation cache is not coherent with memory writes).
"""

from __future__ import annotations

import enum
import random
import re
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from unicorn import UC_ERR_EXCEPTION, UcError

from ftlab.arch.unwind import Frame, disassembler, unwind
from ftlab.errors import FtlabError
from ftlab.guest import abi
from ftlab.guest.loader import Image
from ftlab.machine.fault import GuestFault
from ftlab.machine.hart import Hart, Stop, StopKind
from ftlab.machine.memory import Memory
from ftlab.machine.task import Task, TaskState

DEFAULT_MAX_INSNS = 2_000_000_000
U64 = 2**64 - 1


class Outcome(enum.Enum):
    """Why a slice ended, as the scheduler needs to know."""

    SLICE = "slice"  # its instruction count ran out
    YIELD = "yield"  # a voluntary switch point with need_resched set
    CONTINUE = "continue"  # a machine call was served; the task may go on
    EXIT = "exit"
    FAULT = "fault"


@dataclass
class MachineEvent:
    """Something the control plane saw: console output, a yield, an IRQ return."""

    hart: int
    task: str
    kind: str
    text: str = ""
    frames: list[Frame] = field(default_factory=list)


class GuestHeap:
    """A bump allocator for control-plane data in guest RAM. Nothing is freed: a task may
    still read an old hash or ops (the kernel frees those after an RCU grace period)."""

    def __init__(self, base: int, size: int) -> None:
        self.base = base
        self.end = base + size
        self.next = base

    def alloc(self, size: int, align: int = 16) -> int:
        addr = (self.next + align - 1) & ~(align - 1)
        if addr + size > self.end:
            raise FtlabError(f"guest heap exhausted ({size} bytes wanted)")
        self.next = addr + size
        return addr


class Machine:
    def __init__(self, image: Image, harts: int = 1, max_insns: int = DEFAULT_MAX_INSNS) -> None:
        if not 1 <= harts <= abi.MAX_CPUS:
            raise FtlabError(f"--harts must be between 1 and {abi.MAX_CPUS}")
        if image.end > image.arch.ram_base + abi.TRAMP_GUARDS[0]:
            raise FtlabError(f"guest image is too large ({image.end - image.arch.ram_base} bytes)")
        self.image = image
        self.arch = image.arch
        self.max_insns = max_insns
        self.mem = Memory(self.arch.ram_base, abi.RAM_SIZE, abi.guard_pages(), abi.PAGE,
                          self.arch.endian, self.arch.word)
        for seg in image.segments:
            self.mem.write(seg.addr, seg.data)
        self.mcall_addr = image.addr("ftlab_mcall")
        self._percpu_base = image.addr("ftlab_percpu")
        self._tasks_base = image.addr("ftlab_tasks")
        self._task_main = image.addr("ftlab_task_main")
        self._irq_entry = image.addr("ftlab_irq_entry")
        self.harts: list[Hart] = []
        self.tasks: list[Task] = []
        self.events: list[MachineEvent] = []
        self.code_flushes = 0
        self.deferred: list[tuple[object, dict, object, object]] = []  # waiting update paths
        self.freed: list[tuple[int, int]] = []  # poisoned generated code
        self.heap = GuestHeap(self.arch.ram_base + abi.HEAP_AREA, abi.RAM_SIZE - abi.HEAP_AREA)
        # generated code (trampolines) goes here, within reach of the image's branches
        self.text_heap = GuestHeap(self.arch.ram_base + abi.TRAMP_AREA,
                                   abi.TRAMP_GUARDS[1] - abi.TRAMP_AREA)
        for _ in range(harts):
            self.add_hart()

    # --- harts -------------------------------------------------------------------------------
    def add_hart(self) -> Hart:
        """Bring a hart online (also later: CPU hotplug)."""
        hid = len(self.harts)
        if hid >= abi.MAX_CPUS:
            raise FtlabError(f"at most {abi.MAX_CPUS} harts")
        percpu = self._percpu_base + hid * abi.PERCPU_SIZE
        self.mem.set_u64(percpu + abi.PERCPU_SELF, percpu)
        self.mem.set_u64(percpu + abi.PERCPU_CPU, hid)
        hart = Hart(self, hid, percpu)
        self.harts.append(hart)
        self.mem.set_u64(percpu + abi.PERCPU_ONLINE, 1)
        return hart

    # --- tasks -------------------------------------------------------------------------------
    def spawn(self, entry: str, args: Sequence[int] = (), iterations: int = 1,
              comm: str | None = None) -> Task:
        """A task that calls `entry(*args)` `iterations` times (raw 64-bit argument values)."""
        if len(args) > 6:
            raise FtlabError("at most 6 arguments can be passed to the entry")
        idx = len(self.tasks)
        if idx >= abi.MAX_TASKS:
            raise FtlabError(f"at most {abi.MAX_TASKS} tasks")
        func = self.image.function(entry)
        addr = self._tasks_base + idx * abi.TASK_SIZE
        stack_top = self.stack_slot(idx) + abi.STACK_SIZE - 64
        comm = (comm or entry)[:15]
        task = Task(idx, 100 + idx, comm, entry, addr, stack_top)
        m = self.mem
        m.set_u64(addr + abi.TASK_PID, task.pid)
        m.write(addr + abi.TASK_COMM, comm.encode().ljust(16, b"\0")[:16])
        m.set_u64(addr + abi.TASK_ENTRY, func.addr)
        model = self.image.models.get(entry)
        params = model.params if model is not None else []
        sizes = [params[i].type.size if i < len(params) else self.arch.word
                 for i in range(len(args))]
        words = self.arch.entry_words(list(args), sizes)
        room = abi.TASK_ARGS_SIZE // self.arch.word  # runtime.c passes args[] as words
        if len(words) > room:
            raise FtlabError(f"the arguments of '{entry}' take {len(words)} words, more than "
                             f"the {room} an entry gets")
        for i in range(room):
            m.set_word(addr + abi.TASK_ARGS + self.arch.word * i,
                       words[i] if i < len(words) else 0)
        m.set_u64(addr + abi.TASK_ITERATIONS, iterations)
        m.set_u64(addr + abi.TASK_STACK_TOP, stack_top)
        # the function_graph return stack lives at the bottom of the task's stack area,
        # between two guard pages
        m.set_u64(addr + abi.TASK_TRACER + 8, self.stack_slot(idx) + abi.RET_STACK_OFFSET)
        task.context = self._initial_context(self._task_main, stack_top)
        self.tasks.append(task)
        return task

    def stack_slot(self, idx: int) -> int:
        """The lowest address of task `idx`'s stack slot (a guard page)."""
        return self.arch.ram_base + abi.STACK_AREA + idx * abi.STACK_SIZE

    def _initial_context(self, pc: int, stack_top: int) -> list[int]:
        """Registers for a fresh call of `pc` on an empty stack: fp 0 ends every backtrace."""
        arch = self.arch
        values = dict.fromkeys(arch.context_regs, 0)
        values[arch.pc] = pc
        values[arch.sp] = stack_top & ~0xF
        # entered as if called from address 0 (a call that pushes leaves sp % 16 == 16 - word)
        values.update(arch.enter_with_return(values, self.mem.set_word, 0))
        return [values[n] for n in arch.context_regs]

    def switch_in(self, hart: Hart, task: Task) -> None:
        assert hart.task is None and task.state == TaskState.RUNNABLE
        hart.restore_context(task.context)
        self.mem.set_u64(hart.percpu + abi.PERCPU_CURRENT, task.struct_addr)
        self.mem.set_u64(task.struct_addr + abi.TASK_CPU, hart.id)
        hart.task = task
        task.state = TaskState.RUNNING
        task.voluntary = False
        task.last_hart = hart.id

    def switch_out(self, hart: Hart) -> Task:
        """Park the hart's task off the hart, at whatever instruction boundary it reached."""
        task = hart.task
        assert task is not None
        task.context = hart.save_context()
        if task.state == TaskState.RUNNING:
            task.state = TaskState.RUNNABLE
        hart.task = None
        self.mem.set_u64(hart.percpu + abi.PERCPU_CURRENT, 0)
        return task

    def sleep(self, task: Task) -> None:
        """Block a parked task (it waits, say, for I/O); the scheduler skips it until woken."""
        if task.state != TaskState.RUNNABLE:
            raise FtlabError(f"task {task.name} is not parked")
        task.state = TaskState.SLEEPING

    def wake(self, task: Task) -> None:
        if task.state == TaskState.SLEEPING:
            task.state = TaskState.RUNNABLE

    # --- running -------------------------------------------------------------------------------
    def run_slice(self, hart: Hart, count: int, exact: bool = True) -> Outcome:
        """Run the hart's task for up to `count` instructions, serving machine calls until the
        task yields, exits, faults or the count runs out. Returns why it stopped. A slice that
        is not `exact` may end a few instructions past `count`, at a block boundary (the same
        one in every run): the Scheduler's time slices, not single steps."""
        task = hart.task
        assert task is not None
        budget = self.max_insns - task.insns
        if budget <= 0:
            self._fault(hart, f"instruction budget (--max-insns {self.max_insns}) exceeded")
            return Outcome.FAULT
        count = min(count, budget)
        stop = hart.run(count, exact)
        try:
            return self._after_run(hart, task, stop, count)
        except FtlabError as err:  # a machine call with a bad guest pointer, say
            if hart.task is not task:
                raise
            self._fault(hart, f"bad machine call: {err}", at_caller=True)
            return Outcome.FAULT

    def _after_run(self, hart: Hart, task: Task, stop, count: int) -> Outcome:
        ran = stop.insns if stop.insns is not None else 0
        task.insns += ran
        hart.insns += ran
        if stop.kind == StopKind.SLICE:
            return Outcome.SLICE
        if stop.kind == StopKind.FAULT:
            reason = self._guard_reason(hart, stop.address)
            if reason is None:
                at = f" at {stop.address:#x}" if stop.address is not None else ""
                reason = _uc_reason(stop) + at
            if self.arch.imprecise_illegal_pc and stop.error is not None and (
                    stop.error.errno == UC_ERR_EXCEPTION):
                hart.set_reg(self.arch.pc, self._locate_illegal(hart.pc))
                reason = "illegal instruction (CPU exception)"
            self._fault(hart, reason)
            return Outcome.FAULT
        return self._mcall(hart)

    def _guard_reason(self, hart: Hart, addr: int | None) -> str | None:
        """Name what a guard page hit means: a stack overflow, or a run off the trampolines."""
        guard = self.mem.guard_at(addr) if addr is not None else None
        if guard is None:
            return None
        off = guard - self.arch.ram_base
        if off in abi.TRAMP_GUARDS:
            side = "below" if off == abi.TRAMP_GUARDS[0] else "above"
            return f"access to {addr:#x}, the guard page {side} the trampoline area"
        idx = (off - abi.STACK_AREA) // abi.STACK_SIZE
        owner = self.tasks[idx].name if idx < len(self.tasks) else f"(unused slot {idx})"
        task = hart.task
        sp = hart.reg(self.arch.sp)
        if task is not None and task.index == idx and sp - (64 << 10) <= addr <= sp + abi.PAGE:
            return (f"stack overflow: task {owner} ran past the bottom of its "
                    f"{abi.STACK_SIZE // 1024} KiB stack (guard page hit at {addr:#x}, "
                    f"sp {sp:#x})")
        return f"access to {addr:#x}, a guard page of task {owner}'s stack"

    def _mcall(self, hart: Hart) -> Outcome:
        arch = self.arch
        task = hart.task
        assert task is not None
        nr, a0, a1 = (hart.reg(r) for r in arch.arg_regs[:3])
        if nr == abi.MCALL_EXIT:
            task.result = self.mem.u64(task.struct_addr + abi.TASK_RESULT)
            task.state = TaskState.DONE
            task.context = hart.save_context()
            hart.task = None
            self.mem.set_u64(hart.percpu + abi.PERCPU_CURRENT, 0)
            return Outcome.EXIT
        if nr == abi.MCALL_BUG:
            self._fault(hart, f"BUG: {self.mem.read(a0, a1).decode(errors='replace')}",
                        at_caller=True)
            return Outcome.FAULT
        if nr == abi.MCALL_IRQ_RETURN:
            if not task.interrupted:
                self._fault(hart, "IRQ return without an interrupt to return from",
                            at_caller=True)
                return Outcome.FAULT
            hart.restore_context(task.interrupted.pop())
            self.events.append(MachineEvent(hart.id, task.name, "irq-return"))
            return Outcome.CONTINUE
        if nr == abi.MCALL_PUTS:
            self.events.append(MachineEvent(hart.id, task.name, "puts",
                                            self.mem.read(a0, a1).decode(errors="replace")))
            self._return_from_mcall(hart, 0)
            return Outcome.CONTINUE
        if nr == abi.MCALL_DUMP_STACK:
            frames = self.backtrace(hart)[2:]  # drop ftlab_mcall and dump_stack themselves
            self.events.append(MachineEvent(hart.id, task.name, "stack",
                                            "\n".join(f.text for f in frames), frames))
            self._return_from_mcall(hart, 0)
            return Outcome.CONTINUE
        if nr == abi.MCALL_YIELD:
            self._return_from_mcall(hart, 0)
            task.voluntary = True
            return Outcome.YIELD
        self._fault(hart, f"unknown machine call {nr}", at_caller=True)
        return Outcome.FAULT

    def _return_from_mcall(self, hart: Hart, value: int) -> None:
        arch = self.arch
        hart.set_reg(arch.ret_reg, value)
        regs = {arch.sp: hart.reg(arch.sp), arch.pc: hart.pc}
        if arch.ra is not None:
            regs[arch.ra] = hart.reg(arch.ra)
        for name, v in arch.leave_to_return(regs, self.mem.word).items():
            hart.set_reg(name, v)

    # --- interrupts, IPIs, stop_machine ---------------------------------------------------------
    def preemptible(self, hart: Hart) -> bool:
        return self.mem.u64(hart.percpu + abi.PERCPU_PREEMPT_COUNT) == 0

    def irqs_enabled(self, hart: Hart) -> bool:
        return self.mem.u64(hart.percpu + abi.PERCPU_IRQS_OFF) == 0

    def interrupt(self, hart: Hart, handler: str, arg: int = 0) -> None:
        """Deliver an interrupt now: save the running task's context, run `handler(arg)` on its
        stack through ftlab_irq_entry, and resume the task where it was once the handler returns.
        The handler runs when the hart next runs."""
        task = hart.task
        if task is None:
            raise FtlabError(f"hart {hart.id} is idle: no task to interrupt")
        if not self.irqs_enabled(hart):
            raise FtlabError(f"hart {hart.id} has interrupts off (local_irq_save): deliver later")
        arch = self.arch
        saved = hart.save_context()
        task.interrupted.append(saved)
        pc = hart.pc
        sp = (hart.reg(arch.sp) - 256) & ~0xF  # below anything the interrupted code may use
        regs = dict(zip(arch.context_regs, saved, strict=True))
        hart.set_reg(arch.arg_regs[0], self.image.function(handler).addr)
        hart.set_reg(arch.arg_regs[1], arg)
        # link the IRQ frame to the interrupted code so backtraces cross it
        hart.set_reg(arch.sp, sp)
        for name, v in arch.enter_with_return({arch.sp: sp}, self.mem.set_word, pc).items():
            hart.set_reg(name, v)
        hart.set_reg(arch.fp, regs[arch.fp])
        hart.set_reg(arch.pc, self._irq_entry)

    def ipi(self, handler: str, arg: int = 0, harts: Iterable[Hart] | None = None) -> list[Hart]:
        """Send an IPI to every busy hart given (default: all); returns the harts interrupted."""
        hit = []
        for hart in harts if harts is not None else self.harts:
            if hart.task is not None:
                self.interrupt(hart, handler, arg)
                hit.append(hart)
        return hit

    def stop_machine(self, fn: Callable[[], None]) -> None:
        """Run `fn` while no hart executes guest code. Tasks running on harts are held at the
        instruction boundary they reached (they are not drained), as the kernel's stop_machine
        preempts them: a task parked mid-sequence resumes there afterwards."""
        fn()

    # --- code patching -------------------------------------------------------------------------
    def text_poke(self, writes: Sequence[tuple[int, bytes]]) -> None:
        """Write code, then drop stale translations on every hart: one flush per batch."""
        if not writes:
            return
        lo = min(a for a, _ in writes)
        hi = max(a + len(d) for a, d in writes)
        for addr, data in writes:
            self.mem.write(addr, data)
        for hart in self.harts:
            hart.flush_code(lo, hi)
        self.code_flushes += 1

    # --- grace periods and deferred update paths -----------------------------------------------
    def rcu_snapshot(self) -> dict[int, int]:
        """The tasks a new RCU-tasks grace period waits for, with their quiescent counts: every
        unfinished task but those parked at a voluntary switch point."""
        holdouts = {}
        for t in self.tasks:
            if t.finished or (t.state in (TaskState.RUNNABLE, TaskState.SLEEPING)
                              and t.voluntary):
                continue
            holdouts[t.index] = self.mem.u64(t.struct_addr + abi.TASK_RCU_QS)
        return holdouts

    def rcu_done(self, snapshot: dict[int, int]) -> bool:
        for idx, qs in snapshot.items():
            t = self.tasks[idx]  # a task asleep after a voluntary switch was quiescent
            if not t.finished and self.mem.u64(t.struct_addr + abi.TASK_RCU_QS) == qs:
                return False
        return True

    def wait_satisfied(self, wait, state: dict) -> bool:
        from ftlab.ftrace.steps import WaitRcuTasks

        if isinstance(wait, WaitRcuTasks):
            if "snapshot" not in state:
                state["snapshot"] = self.rcu_snapshot()
            return self.rcu_done(state["snapshot"])
        return self.mem.u64(wait.addr) == 0

    def defer(self, wait, rest, executor) -> None:
        """Hold an update path at a wait; it resumes between time slices once satisfied."""
        state: dict = {}
        if self.wait_satisfied(wait, state):
            executor.run(rest)
        else:
            self.deferred.append((wait, state, rest, executor))

    def poll_deferred(self) -> None:
        """Advance update paths whose wait is over (called between time slices)."""
        pending, self.deferred = self.deferred, []
        for wait, state, rest, executor in pending:
            if self.wait_satisfied(wait, state):
                executor.run(rest)  # may wait again: that lands in self.deferred
            else:
                self.deferred.append((wait, state, rest, executor))

    def free_text(self, addr: int, size: int) -> None:
        """Free generated code: fill it with the ISA's undefined instruction so a task that
        still runs it faults at once (and the report says so)."""
        bad = self.arch.undefined_insn or b"\0"
        self.text_poke([(addr, (bad * (size // len(bad) + 1))[:size])])
        self.freed.append((addr, size))

    def in_freed_text(self, pc: int) -> bool:
        return any(a <= pc < a + n for a, n in self.freed)

    # --- faults --------------------------------------------------------------------------------
    def _fault(self, hart: Hart, reason: str, at_caller: bool = False) -> None:
        task = hart.task
        assert task is not None
        regs = hart.registers()
        try:
            fault = self.describe_fault(hart.id, task.name, regs, reason,
                                        skip=2 if at_caller else 0)
        except FtlabError as err:  # a stack too broken to walk: the registers still help
            fault = GuestFault(hart.id, task.name, regs[self.arch.pc],
                               self.image.symbolize(regs[self.arch.pc]), reason,
                               f"<no backtrace: {err}>",
                               {n: v for n, v in regs.items() if n in self.arch.context_regs})
        task.fault = fault
        task.state = TaskState.FAULTED
        task.context = hart.save_context()
        hart.task = None
        self.mem.set_u64(hart.percpu + abi.PERCPU_CURRENT, 0)

    def _locate_illegal(self, reported: int) -> int:
        """The last undecodable instruction before `reported` in its function: where Unicorn's
        imprecise exception pc points past the illegal instruction."""
        sym = self.image.func_at(reported - 4)  # Unicorn steps 4 bytes whatever the length
        if sym is None:
            return reported
        cs = disassembler(self.arch)
        illegal = re.compile(self.arch.insns.illegal)
        addr, end, found = sym.addr, min(reported, sym.addr + sym.size), reported
        while addr < end:
            insn = next(cs.disasm(self.mem.read(addr, 16), addr, 1), None)
            if insn is None or illegal.fullmatch(f"{insn.mnemonic} {insn.op_str}".strip()):
                found = addr
            addr += insn.size if insn is not None else self.arch.insn_align // 2 or 1
        return found

    def graph_returns(self, task: Task) -> list[int]:
        """The task's function_graph return stack (original return addresses), innermost
        first."""
        base = self.mem.u64(task.struct_addr + abi.TASK_TRACER + 8)
        depth = self.mem.u64(task.struct_addr + abi.TASK_TRACER + 16)
        # the guest can overwrite both: read only what lies in guest RAM
        return [self.mem.u64(base + 32 * i) for i in reversed(range(min(depth, 128)))
                if self.mem.contains(base + 32 * i, 8)]

    def backtrace(self, hart: Hart) -> list[Frame]:
        rets = self.graph_returns(hart.task) if hart.task else None
        return unwind(self.arch, self.image, self.mem, hart.registers(), graph_rets=rets)

    def task_backtrace(self, task: Task) -> list[Frame]:
        """The backtrace of a parked task, from its saved context."""
        regs = dict(zip(self.arch.context_regs, task.context, strict=True))
        return unwind(self.arch, self.image, self.mem, regs, graph_rets=self.graph_returns(task))

    def describe_fault(self, hid: int, task: str, regs: dict[str, int], reason: str,
                       skip: int = 0) -> GuestFault:
        """A fault report; `skip` drops runtime frames (ftlab_mcall, ftlab_bug) so a BUG names
        the guest code that raised it."""
        arch = self.arch
        task_obj = next((t for t in self.tasks if t.name == task), None)
        rets = self.graph_returns(task_obj) if task_obj else None
        frames = unwind(arch, self.image, self.mem, regs, graph_rets=rets)[skip:]
        if skip and frames:
            ret = frames[0].pc
            shown = {n: v for n, v in regs.items() if n in arch.context_regs}
            return GuestFault(hid, task, ret, frames[0].text, reason, "(returns from ftlab_bug)",
                              shown, [f.text for f in frames])
        pc = regs[arch.pc]
        insn = "<unreadable>"
        if self.mem.contains(pc, 16):
            decoded = list(disassembler(arch).disasm(self.mem.read(pc, 16), pc, 1))
            insn = (f"{decoded[0].mnemonic} {decoded[0].op_str}".strip() if decoded
                    else "(undecodable) " + self.mem.read(pc, 4).hex())
        shown = {n: v for n, v in regs.items() if n in arch.context_regs}
        return GuestFault(hid, task, pc, self.image.symbolize(pc), reason, insn, shown,
                          [f.text for f in frames])


def _uc_reason(stop: Stop) -> str:
    err = stop.error
    return str(err) if err is not None else "fault"


class Scheduler:
    """Deterministic round-robin over harts with seeded time-slice lengths.

    The harts run one after another, each for one slice; a task leaves its hart when it exits,
    faults, yields (cond_resched with need_resched set), or its slice ends while others wait.
    Same image, same seed: the same instructions run in the same order."""

    def __init__(self, machine: Machine, seed: int = 0, slice_range: tuple[int, int] = (
            5_000, 50_000), exact: bool = False) -> None:
        self.machine = machine
        # exact: slices end at their instruction (count=); otherwise at the first block
        # boundary past it (the budget hook), equally deterministic and much cheaper
        self.exact = exact
        self.rng = random.Random(seed)
        self.slice_range = slice_range
        self.runq: deque[Task] = deque()
        self.slices = 0

    def enqueue(self, task: Task) -> None:
        self.runq.append(task)

    def _update_need_resched(self) -> None:
        flag = 1 if self.runq else 0
        for hart in self.machine.harts:
            self.machine.mem.set_u64(hart.percpu + abi.PERCPU_NEED_RESCHED, flag)

    def step(self) -> bool:
        """One round: every hart runs one slice. False when nothing is left to run."""
        m = self.machine
        busy = False
        for hart in m.harts:  # fill idle harts first: need_resched means someone waits
            if hart.task is None and self.runq:
                m.switch_in(hart, self.runq.popleft())
        for hart in m.harts:
            if hart.task is None and self.runq:
                m.switch_in(hart, self.runq.popleft())
            if hart.task is None:
                continue
            busy = True
            self._update_need_resched()
            outcome = m.run_slice(hart, self.rng.randint(*self.slice_range),
                                   exact=self.exact)
            self.slices += 1
            # as the kernel, never preempt a task inside preempt_disable()
            if outcome == Outcome.YIELD or (outcome == Outcome.SLICE and self.runq
                                             and m.preemptible(hart)):
                self.runq.append(m.switch_out(hart))
        if m.deferred:
            m.poll_deferred()
        return busy or bool(self.runq)

    def run(self) -> None:
        for task in self.machine.tasks:
            if task.state == TaskState.RUNNABLE and task not in self.runq and all(
                    h.task is not task for h in self.machine.harts):
                self.runq.append(task)
        while self.step() or self.machine.deferred:
            if not any(h.task for h in self.machine.harts) and not self.runq:
                self.machine.poll_deferred()
                if self.machine.deferred:  # nothing left to run: no grace period can end
                    break


__all__ = ["Machine", "Scheduler", "GuestFault", "UcError"]
