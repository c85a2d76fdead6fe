"""The race explorer's world: harts running a workload through patch sites while the real
update path of a scheme runs step by step.

What is modelled, and why it is enough:
- The patcher's steps are captured from the real update path (ftlab.ftrace.core) once, then
  applied one at a time. Code writes are split into the ISA's atomic write unit.
- Each hart keeps a stale view of code written since its last context synchronization (an
  overlay of old bytes) until an IPI whose handler synchronizes (fence.i, sync_core, an Arm
  exception return; not riscv's ftrace_sync_ipi) or the end of stop_machine. Executing an
  instruction under an overlay is a choice: the stale bytes, the new ones, or (arm64, outside
  the CMODX-safe set) an undefined instruction; on arm64 a fetch of the new bytes does not end
  the stale view (ESOP 2020).
- Shared data is weak memory (ftlab/explore/weak.py, per-ISA rules in ftlab/arch/<isa>/weak.py):
  the patcher's data stores (and CALL_OPS literals, read by loads) sit in a store buffer until
  drained (in order on TSO, in any order within a barrier epoch on arm64/riscv); a hart's load
  of shared data may return any write its views allow. smp_call_function() reads the online
  mask and IPIs only the harts it saw online; the IPI drains the buffer (llist_add).
- Harts are preempted only at visible operations: before each instruction of a patch site,
  before each load of shared data in ftrace_caller and the list function, and at instructions
  a step rewrites. Elsewhere a hart neither fetches patched code nor reads published data, so
  a patcher step commutes with what it executes there: exploring those points adds no
  behaviour. stop_machine holds every hart where it is (tasks are not drained).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import capstone
from unicorn import UC_HOOK_CODE, UC_HOOK_INTR, UC_HOOK_MEM_READ

from ftlab.arch.unwind import disassembler
from ftlab.explore.weak import WeakMemory, rules_for
from ftlab.ftrace.core import Ftrace
from ftlab.ftrace.schemes import get_scheme
from ftlab.ftrace.steps import (
    Barrier,
    CodeWrite,
    DataWrite,
    FreeText,
    FuncRetired,
    Step,
    StopMachine,
    SyncCore,
    WaitRcuTasks,
    WaitRefZero,
)
from ftlab.ftrace.tracers import TraceInstance
from ftlab.guest import abi
from ftlab.machine.hart import Hart
from ftlab.machine.machine import Machine, Outcome, Scheduler
from ftlab.machine.task import TaskState
from ftlab.session import load
from ftlab.trace.events import FuncEvent, read_trace_array

EXPLORE_C = Path(__file__).parent / "guests" / "explore.c"
TRAMP_C = Path(__file__).parent / "guests" / "tramp.c"
HOT_FUNCS = ("ftrace_caller", "ftrace_ops_list_func")
FREE_RUN_LIMIT = 200_000  # instructions between two visible points before we call it a hang
MAX_ACTIONS = 4_000


class Violation(Exception):
    def __init__(self, invariant: str, detail: str) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.invariant = invariant
        self.detail = detail
        self.action: Action | None = None  # the step during which it happened


@dataclass
class Scenario:
    name: str
    arch: str
    scheme: str
    expect: str  # violation, safe, or find (the verdict is the question)
    description: str
    setup: Callable[[World], None]
    operation: Callable[[World], None]
    harts: int = 2
    calls: int = 2
    guest: Path = EXPLORE_C
    entry: str = "explore_entry"
    traced: tuple[str, ...] = ("target",)
    custom: dict | None = None  # a user's own case: entry, operation, filter (for replay)
    hotplug: bool = False  # one more hart comes online during the update (seed 004)
    invariant: str | None = None  # only this invariant is the question (others end a schedule)


# --variant: listed changes to the kernel's code, for asking which one closes a race
VARIANTS = {
    "smp_mb": "smp_mb() for the smp_wmb() before each sync IPI (ftrace_update_ftrace_func)",
    "online-fence": "a full fence on the incoming hart after set_cpu_online()",
    "relaxed-online": "set_cpu_online() as an unordered AMO (amoor.d, not test_and_set_bit)",
}


BOOT_EFFECTS = ("set_cpu_online", "local_flush_icache_all", "local_irq_enable")


@dataclass(frozen=True)
class OnlineRead:
    """smp_call_function(): the sender reads cpu_online_mask with plain loads (kernel/smp.c,
    smp_call_function_many_cond) and IPIs only the CPUs it saw online (explorer-internal)."""

    what: str


class StepRecorder:
    """Captures an update path's steps without applying them; the patcher's own reads see its
    earlier writes, as they would when it runs."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.steps: list[Step] = []
        self.pending: dict[int, int] = {}

    def read(self, addr: int, n: int) -> bytes:
        data = bytearray(self.machine.mem.read(addr, n))
        for i in range(n):
            if addr + i in self.pending:
                data[i] = self.pending[addr + i]
        return bytes(data)

    def run(self, steps) -> None:
        for step in steps:
            self.steps.append(step)
            if isinstance(step, CodeWrite | DataWrite):
                for i, b in enumerate(step.data):
                    self.pending[step.addr + i] = b


@dataclass
class Action:
    """One scheduling decision as it ran, for the timeline."""

    actor: str
    hart: int | None
    pc: int | None
    text: str


@dataclass
class RunState:
    step: int = 0
    epoch: int = 0
    buffer: list[tuple[int, int, bytes, str]] = field(default_factory=list)  # epoch, addr
    stopped: bool = False  # inside stop_machine
    overlays: list[dict[int, int]] = field(default_factory=list)
    # pid, ip, ret, done, the trace clock when the site ran
    oracle: list[tuple[int, int, int, bool, int]] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    int3: dict[int, bytes] = field(default_factory=dict)  # site -> instruction being written
    waits: dict[int, dict] = field(default_factory=dict)  # step index -> wait state
    freed: list[tuple[int, int]] = field(default_factory=list)
    mem: WeakMemory | None = None  # the shared locations' messages and the actors' views
    seen_online: set[int] | None = None  # what the pending smp_call_function() read
    boot: int = 0  # bring-up steps the incoming hart has done
    retired: dict[int, tuple[int, bytes]] = field(default_factory=dict)  # loc -> step, old


class World:
    def __init__(self, scenario: Scenario, harts: int | None = None,
                 hotplug: bool = False, variants: tuple[str, ...] = ()) -> None:
        self.sc = scenario
        hotplug = hotplug or scenario.hotplug
        self.variants = tuple(variants)
        self.image = load([scenario.guest], scenario.arch, scheme=scenario.scheme)
        self.arch = self.image.arch
        self.rules = rules_for(self.arch.name)
        self._load_address = importlib.import_module(f"ftlab.arch.{self.arch.name}.weak"
                                                     ).load_address
        self.scheme = get_scheme(scenario.arch, scenario.scheme)
        self.nharts = harts if harts is not None else scenario.harts
        self.expected = self._untraced_result()
        m = self.machine = Machine(self.image, harts=self.nharts + (1 if hotplug else 0))
        self.ftrace = Ftrace(m, self.scheme)
        self.ftrace.boot()
        self.instances: dict[str, TraceInstance] = {}
        self.far_tramp = m.text_heap.alloc(64)
        null = self.scheme.null_trampoline(self.far_tramp)
        m.text_poke([(self.far_tramp, null)])
        self.image.add_symbol("ftlab_far_trampoline", self.far_tramp, len(null))
        self.near_tramp = self.image.addr("ftlab_direct_tramp")
        scenario.setup(self)
        self.tasks = [m.spawn(scenario.entry, self._args()) for _ in m.harts]
        for hart, task in zip(m.harts[:self.nharts], self.tasks, strict=False):
            m.switch_in(hart, task)
        # hotplug: one more hart, offline until the ON actor brings it up mid-update
        self.hotplug = m.harts[self.nharts] if hotplug else None
        if self.hotplug is not None:
            m.mem.set_u64(self.hotplug.percpu + abi.PERCPU_ONLINE, 0)
        recorder = StepRecorder(m)
        self.ftrace.run_steps = recorder.run
        self.ftrace.ctx.read = recorder.read
        scenario.operation(self)
        self.steps = self._split(recorder.steps)
        self._final_bytes = dict(recorder.pending)
        self.retired = {i: s for i, s in enumerate(self.steps) if isinstance(s, FuncRetired)}
        self.hot_loads: set[int] = set()
        self.hot = self._hot_points()
        self.hot.update(s.old for s in self.retired.values())
        self.boundaries = self._boundaries()
        self._caller = self.image.function("ftrace_caller")
        self._stale: Violation | None = None
        self._seg_start = [0] * len(m.harts)  # patcher step when each hart's free run began
        self.free = [True] * len(self.machine.harts)
        self.recording = False  # timelines want text for every action; searches do not
        self.state = RunState()
        self._bp: list[int | None] = [None] * len(self.machine.harts)
        for hart in m.harts:
            for addr in sorted(self.hot):
                hart.uc.hook_add(UC_HOOK_CODE, self._on_hot, user_data=hart, begin=addr,
                                 end=addr)
            hart.uc.hook_add(UC_HOOK_INTR, self._on_intr, user_data=hart)
        self._weak_init = self._shared_locations()
        for hart in m.harts:
            for loc in self._weak_init:
                hart.uc.hook_add(UC_HOOK_MEM_READ, self._on_shared_read, user_data=hart,
                                 begin=loc, end=loc + 7)
        self._pick: tuple[int, int] | None = None  # (hart, k): the next read takes message k
        self._unpick: list[tuple[int, bytes]] = []
        self._cs = capstone.Cs(self.arch.cs_arch, self.arch.cs_mode)
        self._cs.detail = True
        self._decoded: dict[int, capstone.CsInsn | None] = {}
        self.rec_by_ip = {r.ip: r for r in self.ftrace.records}
        self._cond_resched = self.image.addr("cond_resched")
        self._clock = self.image.addr("trace_clock_counter")
        self.snapshot = self._snapshot()

    # --- set-up helpers used by scenarios ------------------------------------------------------
    def instance(self, name: str) -> TraceInstance:
        if name not in self.instances:
            self.instances[name] = TraceInstance(self.ftrace, name, buffer_kb=8)
        return self.instances[name]

    def _args(self) -> list[int]:
        return [self.sc.calls] if self.image.model(self.sc.entry).nr_args else []

    def _untraced_result(self) -> int:
        m = Machine(self.image, harts=1)
        t = m.spawn(self.sc.entry, self._args())
        Scheduler(m).run()
        return t.result or 0

    def _split(self, steps: list[Step]) -> list[Step]:
        """Code writes in the ISA's atomic units: each unit is one step."""
        out: list[Step] = []
        unit = self.arch.atomic_write
        for i, s in enumerate(steps):
            if (isinstance(s, Barrier) and s.kind == "smp_wmb" and "smp_mb" in self.variants
                    and i + 1 < len(steps) and isinstance(steps[i + 1], SyncCore)):
                s = Barrier("smp_mb")
            if isinstance(s, SyncCore) and self.hotplug is not None:
                out.append(OnlineRead(s.what))
            if isinstance(s, CodeWrite) and len(s.data) > unit and not self._is_literal(s.addr):
                for off in range(0, len(s.data), unit):
                    out.append(CodeWrite(s.addr + off, s.data[off:off + unit], s.what))
            else:
                out.append(s)
        return out

    def _is_literal(self, addr: int) -> bool:
        """CALL_OPS literals sit in the site's pre-function NOPs and are read by loads."""
        return any(r.site.start <= addr < r.func_addr for r in self.ftrace.records)

    def _hot_points(self) -> set[int]:
        cs = disassembler(self.arch)
        mem = self.machine.mem
        hot: set[int] = set()
        for rec in self.ftrace.records:
            end = rec.site.start + rec.site.size
            for insn in cs.disasm(self._final_view(rec.func_addr, end - rec.func_addr),
                                  rec.func_addr):
                hot.add(insn.address)
            hot.add(rec.func_addr)
        hot.add(self.image.addr("cond_resched"))  # where a task may sleep (RCU-tasks QS)
        load = re.compile(self.arch.shared_load)
        for name in HOT_FUNCS:
            sym = self.image.function(name)
            insns = list(cs.disasm(mem.read(sym.addr, sym.size), sym.addr))
            for insn, nxt in zip(insns, insns[1:] + [None], strict=True):
                if load.fullmatch(f"{insn.mnemonic} {insn.op_str}"):
                    hot.add(insn.address)
                    self.hot_loads.add(insn.address)
                    # a pointer just loaded and called: the task may be held in between
                    if nxt is not None and nxt.mnemonic in ("blr", "jalr", "c.jalr", "call"):
                        hot.add(nxt.address)
        for s in self.steps:
            if isinstance(s, FreeText):  # where a task enters, returns into and leaves it
                insns = list(cs.disasm(mem.read(s.addr, s.size), s.addr))
                for prev, insn in zip(insns, insns[1:], strict=False):
                    if prev.mnemonic in ("call", "blr", "jalr"):
                        hot.add(insn.address)
                if insns:
                    hot.update((insns[0].address, insns[-1].address))
        for s in self.steps:
            if isinstance(s, CodeWrite) and not self._is_literal(s.addr):
                sym = self.image.func_at(s.addr)
                if sym is not None:
                    for insn in cs.disasm(mem.read(sym.addr, sym.size), sym.addr):
                        if insn.address <= s.addr < insn.address + insn.size:
                            hot.add(insn.address)
        return hot

    def _shared_locations(self) -> dict[int, bytes]:
        """The words the patcher writes (data, CALL_OPS literals) and the incoming hart's
        online flag, with their values before the update: the weak-memory layer's locations."""
        words: set[int] = set()
        for s in self.steps:
            if isinstance(s, DataWrite) or (isinstance(s, CodeWrite) and self._is_literal(s.addr)):
                words.update(range(s.addr & ~7, s.addr + len(s.data), 8))
        if self.hotplug is not None:
            words.add((self.hotplug.percpu + abi.PERCPU_ONLINE) & ~7)
        return {w: self.machine.mem.read(w, 8) for w in sorted(words)}

    def _boundaries(self) -> set[int]:
        """Every instruction start of every function and generated trampoline: where a control
        transfer may land."""
        cs = disassembler(self.arch)
        mem = self.machine.mem
        out: set[int] = set()
        for sym in self.image.symbols.values():
            if sym.is_func and sym.size:
                out.update(i.address for i in cs.disasm(mem.read(sym.addr, sym.size), sym.addr))
        return out

    def _final_view(self, addr: int, n: int) -> bytes:
        data = bytearray(self.machine.mem.read(addr, n))
        for i in range(n):
            if addr + i in self._final_bytes:
                data[i] = self._final_bytes[addr + i]
        return bytes(data)

    # --- snapshots -----------------------------------------------------------------------------
    def _regions(self) -> list[tuple[int, int]]:
        m = self.machine
        base = self.arch.ram_base
        regions = [(base, m.image.end), (base + abi.TRAMP_AREA, base + abi.TRAMP_AREA + 4096),
                   (base + abi.HEAP_AREA, m.heap.next)]
        for t in self.tasks:
            regions.append((t.stack_top + 64 - abi.STACK_SIZE, t.stack_top + 64))
        return regions

    def _snapshot(self) -> dict:
        m = self.machine
        return {
            "mem": [(lo, m.mem.read(lo, hi - lo)) for lo, hi in self._regions()],
            "harts": [(h.save_context(), h.task) for h in m.harts],
            "tasks": [(t.state, list(t.context), t.result, t.fault, t.insns) for t in self.tasks],
        }

    def restore(self) -> None:
        m = self.machine
        snap = self.snapshot
        for lo, data in snap["mem"]:
            m.mem.write(lo, data)
        for t, (state, ctx, result, fault, insns) in zip(self.tasks, snap["tasks"], strict=True):
            t.state, t.context, t.result, t.fault, t.insns = state, list(ctx), result, fault, insns
        for h, (ctx, task) in zip(m.harts, snap["harts"], strict=True):
            h.task = task
            h.restore_context(ctx)
            h.uc.ctl_flush_tb()
            self.free[h.id] = True
        self.state = RunState(overlays=[{} for _ in m.harts],
                              mem=WeakMemory(self.rules, self._weak_init))
        self._pick = None
        self._unpick = []
        if self.hotplug is not None:
            self.hotplug.task = None
        self._stale = None

    # --- hooks ---------------------------------------------------------------------------------
    def _on_shared_read(self, uc, access, addr, size, value, hart: Hart) -> None:
        """A hart reads a shared word: the latest message, or the one the explorer chose;
        either way the hart's views move on (coherence, loads in order)."""
        mem = self._mem
        loc = addr & ~7
        me = f"H{hart.id}"
        cands = mem.readable(me, loc)
        k = 0
        if self._pick is not None and self._pick[0] == hart.id:
            k = min(self._pick[1], len(cands) - 1)
            self._pick = None
        ts, data = cands[k]
        if k:
            self._unpick.append((loc, self.machine.mem.read(loc, 8)))
            self.machine.mem.write(loc, data)
        mem.read(me, loc, ts)
        retired = self.state.retired.get(loc)
        if retired is not None and data == retired[1] and self._stale is None:
            self._stale = Violation(
                "stale load", f"hart {hart.id} loaded the old "
                f"{self.image.symbolize(int.from_bytes(data, 'little'))} from "
                f"{self.image.symbolize(loc)} ({loc:#x}) after update_ftrace_func() had "
                "replaced it and returned")

    def _on_hot(self, uc, addr, size, hart: Hart) -> None:
        if self.free[hart.id]:
            uc.emu_stop()
            return
        for index, marker in self.retired.items():
            # the call happened in the free run that stopped here: stale only if that run
            # began after update_ftrace_func() had returned
            if addr == marker.old and self._seg_start[hart.id] > index:
                ret = hart.reg(self.arch.ra) if self.arch.ra else self.machine.mem.u64(
                    hart.reg(self.arch.sp))
                c = self._caller
                if c.addr <= ret < c.addr + c.size:
                    self._stale = Violation(
                        "stale trace function", f"hart {hart.id} called "
                        f"{self.image.symbolize(addr)} through ftrace_caller after "
                        f"update_ftrace_func() replaced it by "
                        f"{self.image.symbolize(marker.new)} and returned")
        rec = self.rec_by_ip.get(addr)
        if rec is not None and hart.task is not None:
            ret = hart.reg(self.arch.ra) if self.arch.ra else self.machine.mem.u64(
                hart.reg(self.arch.sp))
            # complete: every step applied, every store visible, this hart re-fetched
            done = (self.state.step >= len(self.steps) and not self.state.buffer
                    and not self.state.overlays[hart.id])
            clock = self.machine.mem.u64(self._clock)
            self.state.oracle.append((hart.task.pid, addr, ret, done, clock))

    def _on_intr(self, uc, intno, hart: Hart) -> None:
        self._bp[hart.id] = intno
        uc.emu_stop()

    # --- actors --------------------------------------------------------------------------------
    def enabled(self) -> list[str]:
        st = self.state
        acts = []
        if st.step < len(self.steps) and self._patcher_can_go():
            acts.append("P")
            step = self.steps[st.step]
            if isinstance(step, OnlineRead):
                n = len(self._mem.readable("P", self._online_loc))
                acts += [f"P:r{k}" for k in range(1, n)]
        hp = self.hotplug
        if hp is not None and hp.task is None and self.tasks[hp.id].state == TaskState.RUNNABLE:
            acts.append("ON")
        if st.buffer:
            acts.append("W")
            if self.arch.weak_memory:
                first = st.buffer[0][0]
                same = [e for e in st.buffer if e[0] == first]
                acts += [f"W{k}" for k in range(1, len(same))]
        if not st.stopped:
            for h in self.machine.harts:
                if h.task is not None:
                    acts.append(f"H{h.id}")
                    acts += [f"H{h.id}:{v}" for v in self._fetch_variants(h)]
                    acts += [f"H{h.id}:r{k}" for k in range(1, self._read_choices(h))]
        return acts

    @property
    def _mem(self) -> WeakMemory:
        assert self.state.mem is not None
        return self.state.mem

    @property
    def _online_loc(self) -> int:
        assert self.hotplug is not None
        return (self.hotplug.percpu + abi.PERCPU_ONLINE) & ~7

    def _read_choices(self, hart: Hart) -> int:
        """How many messages the load at the hart's pc may return (1: only the latest)."""
        pc = hart.pc
        if pc not in self.hot_loads or not self.rules.stale_loads:
            return 1
        insn = self._decoded.get(pc)  # the hot functions are never patched: decode once
        if insn is None:
            insn = self._decoded[pc] = next(self._cs.disasm(self.machine.mem.read(pc, 16),
                                                            pc, 1), None)
        addr = self._load_address(insn, hart.reg) if insn is not None else None
        loc = self._mem.tracked(addr) if addr is not None else None
        return 1 if loc is None else len(self._mem.readable(f"H{hart.id}", loc))

    def _patcher_can_go(self) -> bool:
        """A grace-period or reference wait holds the patcher until the guest satisfies it;
        a full fence until its earlier stores are visible; an IPI until its targets can
        take interrupts."""
        st = self.state
        step = self.steps[st.step]
        if isinstance(step, Barrier) and step.kind == "smp_mb" and st.buffer:
            return False
        if isinstance(step, SyncCore) and st.seen_online is not None and self.hotplug is not None:
            if self.hotplug.id in st.seen_online and self.hotplug.task is None:
                return False  # smp_call_function(wait=1): the handler runs after irqs are on
        if isinstance(step, WaitRcuTasks | WaitRefZero):
            if st.buffer:
                return False  # the wait's own barriers: earlier stores are visible first
            state = st.waits.setdefault(st.step, {})
            if isinstance(step, WaitRcuTasks) and "snapshot" not in state:
                state["snapshot"] = self._rcu_holdouts()
            return self.machine.wait_satisfied(step, state)
        return True

    def _rcu_holdouts(self) -> dict[int, int]:
        """A task stopped at cond_resched() may sleep there (a voluntary switch): it is
        quiescent; every other unfinished task holds the grace period."""
        m = self.machine
        out = {}
        for h in m.harts:
            t = h.task
            if t is None or t.finished or h.pc == self._cond_resched:
                continue
            out[t.index] = m.mem.u64(t.struct_addr + abi.TASK_RCU_QS)
        return out

    def _fetch_variants(self, hart: Hart) -> list[str]:
        overlay = self.state.overlays[hart.id]
        if not overlay:
            return []
        pc = hart.pc
        if pc not in self.hot or not any(a in overlay for a in range(pc, pc + 16)):
            return []
        cs = disassembler(self.arch)
        new = next(cs.disasm(self.machine.mem.read(pc, 16), pc, 1), None)
        old = next(cs.disasm(self._view(hart, pc, 16), pc, 1), None)
        size = max(new.size if new else 4, old.size if old else 4)
        if not any(a in overlay for a in range(pc, pc + size)):
            return []
        variants = ["old"]
        if self.arch.cmodx_safe is not None:
            safe = self.arch.cmodx_safe
            if old is None or new is None or old.mnemonic not in safe or new.mnemonic not in safe:
                variants.append("udf")
        return variants

    def _view(self, hart: Hart, addr: int, n: int) -> bytes:
        overlay = self.state.overlays[hart.id]
        data = bytearray(self.machine.mem.read(addr, n))
        for i in range(n):
            if addr + i in overlay:
                data[i] = overlay[addr + i]
        return bytes(data)

    def act(self, actor: str) -> Action:
        if actor == "P" or actor.startswith("P:r"):
            return self._patch_step(int(actor[3:] or 0))
        if actor == "ON":
            return self._boot_step()
        if actor.startswith("W"):
            return self._drain(int(actor[1:] or 0))
        hid, _, variant = actor[1:].partition(":")
        hart = self.machine.harts[int(hid)]
        pc = hart.pc
        try:
            return self._hart_step(hart, variant or "new")
        except Violation as v:
            insn = next(disassembler(self.arch).disasm(self._view(hart, pc, 16), pc, 1), None)
            shown = f": {insn.mnemonic} {insn.op_str}".rstrip() if insn else ""
            v.action = Action(actor, hart.id, pc, f"{self.image.symbolize(pc)}{shown}"
                              f"{' [' + variant + ' fetch]' if variant else ''} -> "
                              f"{v.invariant}")
            raise

    def _boot_step(self) -> Action:
        """CPU hotplug: the incoming hart's bring-up, one step per kernel call, in the order of
        the arch's smpboot.c; the last one switches its task in."""
        hp = self.hotplug
        assert hp is not None
        st = self.state
        done = []
        # a call with no effect here (riscv_ipi_enable: nothing can IPI the hart before it is
        # online; complete(&cpu_running)) commutes with every other step: it shares the next
        # call's scheduling point instead of adding its own
        while self.rules.boot[st.boot] not in BOOT_EFFECTS:
            done.append(self.rules.boot[st.boot])
            st.boot += 1
        what = self.rules.boot[st.boot]
        st.boot += 1
        me = f"H{hp.id}"
        text = "; ".join(done + [what])
        if what == "set_cpu_online":
            m = self.machine
            m.mem.set_u64(hp.percpu + abi.PERCPU_ONLINE, 1)
            ts = self._mem.write(me, self._online_loc, m.mem.read(self._online_loc, 8))
            if "relaxed-online" in self.variants:
                text += " (unordered AMO: variant relaxed-online)"
            else:  # test_and_set_bit(): a value-returning atomic, fully ordered
                self._mem.acquire(me, ts)
                text += " (test_and_set_bit: fully ordered AMO)"
            if "online-fence" in self.variants:
                self._mem.fence(me, "smp_mb")
                text += "; smp_mb() (variant online-fence)"
        elif what == "local_flush_icache_all":
            st.overlays[hp.id].clear()
            hp.uc.ctl_flush_tb()
            text += " (fence.i: this hart now fetches the current code)"
        elif what == "local_irq_enable":
            if "local_flush_icache_all" not in self.rules.boot:  # the boot path's CSE
                st.overlays[hp.id].clear()
            hp.uc.ctl_flush_tb()
            self.machine.switch_in(hp, self.tasks[hp.id])
            text += f": hart {hp.id} is online and runs its task"
        return Action("ON", hp.id, None, f"hart {hp.id} boot: {text}")

    def _patch_step(self, pick: int = 0) -> Action:
        st = self.state
        step = self.steps[st.step]
        st.step += 1
        m = self.machine
        if isinstance(step, OnlineRead):
            ts, data = self._mem.readable("P", self._online_loc)[pick]
            self._mem.read("P", self._online_loc, ts)
            hp = self.hotplug
            assert hp is not None
            on = int.from_bytes(data, "little") != 0
            st.seen_online = {h.id for h in m.harts if h is not hp} | ({hp.id} if on else set())
            return Action("P", None, None, f"{step.what}: smp_call_function() reads "
                          f"cpu_online_mask: hart {hp.id} {'online' if on else 'offline'}"
                          f"{' (an older value)' if pick else ''}")
        if isinstance(step, CodeWrite) and not self._is_literal(step.addr):
            if step.data[:1] == b"\xcc" and len(step.data) == 1:
                site = step.addr
                st.int3[site] = self._final_view(site, 5)
            for h in m.harts:
                overlay = st.overlays[h.id]
                for i in range(len(step.data)):
                    overlay.setdefault(step.addr + i, m.mem.read(step.addr + i, 1)[0])
            m.mem.write(step.addr, step.data)
            for h in m.harts:
                h.flush_code(step.addr, step.addr + len(step.data))
            text = f"code {step.addr:#x} <- {step.data.hex()} ({step.what})"
        elif isinstance(step, CodeWrite | DataWrite):
            st.buffer.append((st.epoch, step.addr, step.data, step.what))
            text = f"store {step.what or hex(step.addr)} = {step.data.hex()} (buffered)"
        elif isinstance(step, Barrier):
            st.epoch += 1
            self._mem.fence("P", step.kind)
            text = step.kind
        elif isinstance(step, WaitRcuTasks | WaitRefZero):
            text = f"waited: {step.what}"
        elif isinstance(step, FuncRetired):
            write = next((s for s in reversed(self.steps[:st.step])
                          if isinstance(s, DataWrite) and s.data == step.new.to_bytes(8, "little")),
                         None)
            if write is not None and self._mem.tracked(write.addr) is not None:
                slot = write.addr & ~7
                st.retired[slot] = (st.step, step.old.to_bytes(8, "little"))
                self._check_views(slot, write.what or hex(slot), step)
            text = (f"update_ftrace_func returned: {self.image.symbolize(step.old)} -> "
                    f"{self.image.symbolize(step.new)}")
        elif isinstance(step, FreeText):
            bad = self.arch.undefined_insn
            m.mem.write(step.addr, (bad * (step.size // len(bad) + 1))[:step.size])
            for h in m.harts:
                h.flush_code(step.addr, step.addr + step.size)
            st.freed.append((step.addr, step.size))
            text = f"freed {step.what}"
        elif isinstance(step, SyncCore):
            text = self._ipi(step.what)
        elif isinstance(step, StopMachine):
            st.stopped = step.begin
            if not step.begin:
                self._sync()
            text = "stop_machine begins" if step.begin else "stop_machine ends"
        else:  # pragma: no cover - every Step kind is handled above
            text = repr(step)
        if st.step == len(self.steps):
            text += " [update complete]"
        return Action("P", None, None, text)

    def _check_views(self, slot: int, name: str, step: FuncRetired) -> None:
        """update_ftrace_func() returned: no online hart may load the old function any more.
        Under the memory model a hart whose view predates the new value can (its next load
        of the slot may return the old message): that is the violation, found here at once."""
        old = step.old.to_bytes(8, "little")
        hp = self.hotplug
        online_at = self.rules.boot.index("set_cpu_online") + 1
        for h in self.machine.harts:
            if h is hp and self.state.boot < online_at:
                continue  # not online yet: its own bring-up must order it (checked on load)
            if any(data == old for _, data in self._mem.readable(f"H{h.id}", slot)):
                v = Violation("stale load", f"hart {h.id} may still load the old "
                              f"{self.image.symbolize(step.old)} from {name} after "
                              "update_ftrace_func() "
                              f"replaced it by {self.image.symbolize(step.new)} and returned: "
                              "no IPI or barrier ordered its view after the new value")
                v.action = Action("P", None, None, "update_ftrace_func returned -> stale load")
                raise v

    def _ipi(self, handler: str) -> str:
        """smp_call_function(handler, wait=1) to the harts the sender saw online. The
        cross-call queue is abstracted to its ordering: llist_add() is fully ordered (the
        sender's stores drain first) and the receiver's llist_del_all() xchg is too (its later
        reads see them); then the handler runs: fence.i / sync_core / an Arm exception return
        ends stale fetches, ftrace_sync_ipi on riscv (smp_rmb()) does not."""
        st = self.state
        while st.buffer:
            self._drain(0)
        ts = self._mem.clock
        kind = self.rules.ipi_handlers.get(handler, self.rules.default_handler)
        hp = self.hotplug
        targets = [h for h in self.machine.harts if h is not hp or
                   (st.seen_online is not None and hp.id in st.seen_online)]
        if hp is not None and st.seen_online is None and hp.task is None:
            targets = [h for h in targets if h is not hp]
        for h in targets:
            self._mem.acquire(f"H{h.id}", ts)
            if kind == "csync":
                st.overlays[h.id].clear()
        st.seen_online = None
        names = ", ".join(str(h.id) for h in targets)
        return (f"{handler}: IPI to hart(s) {names or 'none'} "
                f"({'stale fetches end' if kind == 'csync' else 'smp_rmb only: no fence.i'})")

    def _sync(self) -> None:
        while self.state.buffer:
            self._drain(0)
        for overlay in self.state.overlays:
            overlay.clear()

    def _drain(self, k: int) -> Action:
        st = self.state
        epoch, addr, data, what = st.buffer.pop(k)
        self.machine.mem.write(addr, data)
        for word in range(addr & ~7, addr + len(data), 8):
            if self._mem.tracked(word) is not None:
                self._mem.write("P", word, self.machine.mem.read(word, 8))
        if self._is_literal(addr):
            for h in self.machine.harts:
                h.flush_code(addr, addr + len(data))
        return Action("W", None, None, f"visible: {what or hex(addr)} = {data.hex()}")

    def _hart_step(self, hart: Hart, variant: str) -> Action:
        m = self.machine
        pc = hart.pc
        task = hart.task
        assert task is not None
        text = ""
        fetch = variant if variant in ("old", "udf") else "new"
        if pc in self.hot:
            overlay = self.state.overlays[hart.id]
            insn = None
            if self.recording or (fetch == "new" and overlay):  # decoding costs: only then
                view = self._view(hart, pc, 16) if fetch == "old" else m.mem.read(pc, 16)
                if fetch == "udf":
                    view = self.arch.undefined_insn + view[len(self.arch.undefined_insn):]
                insn = next(disassembler(self.arch).disasm(view, pc, 1), None)
                text = f"{insn.mnemonic} {insn.op_str}".strip() if insn else view[:4].hex()
                if fetch != "new":
                    text += f" [{variant} fetch]"
                elif variant.startswith("r"):
                    text += f" [reads the value {variant[1:]} write(s) before the latest]"
            self._step_one(hart, variant)
            if fetch == "new" and overlay and not self.rules.refetch_old:
                size = insn.size if insn else 4
                for a in range(pc, pc + size):
                    overlay.pop(a, None)
        if hart.task is task and task.state == TaskState.RUNNING:
            self._seg_start[hart.id] = self.state.step
            self.free[hart.id] = True
            outcome = Outcome.CONTINUE
            while outcome == Outcome.CONTINUE and hart.task is task:
                outcome = m.run_slice(hart, FREE_RUN_LIMIT)
            self.free[hart.id] = False
            self._check_outcome(hart, task, outcome)
            if outcome == Outcome.SLICE and hart.task is task and hart.pc not in self.hot:
                where_now = self.image.symbolize(hart.pc)
                raise Violation("hang", f"hart {hart.id} ran {FREE_RUN_LIMIT} instructions "
                                f"without reaching a visible point ({where_now})")
        if not self.recording:
            return Action(f"H{hart.id}", hart.id, pc, "")
        where = self.image.symbolize(pc)
        return Action(f"H{hart.id}", hart.id, pc, f"{where}: {text}" if text else where)

    def _step_one(self, hart: Hart, variant: str) -> None:
        m = self.machine
        pc = hart.pc
        task = hart.task
        saved = None
        if variant in ("old", "udf"):
            view = self._view(hart, pc, 16)
            if variant == "udf":
                view = self.arch.undefined_insn + view[len(self.arch.undefined_insn):]
            saved = m.mem.read(pc, 16)
            m.mem.write(pc, view)
            hart.flush_code(pc, pc + 16)
        self.free[hart.id] = False
        if variant.startswith("r"):
            self._pick = (hart.id, int(variant[1:]))
        try:
            outcome = m.run_slice(hart, 1)
        finally:
            self._pick = None
            for loc, latest in self._unpick:
                m.mem.write(loc, latest)
            self._unpick = []
            if saved is not None:
                m.mem.write(pc, saved)
                hart.flush_code(pc, pc + 16)
        bp = self._bp[hart.id]
        if bp is not None:
            self._bp[hart.id] = None
            self._breakpoint(hart, pc, bp, variant)
            return
        if self._stale is not None:
            stale, self._stale = self._stale, None
            raise stale
        self._check_outcome(hart, task, outcome)
        if hart.task is task and hart.pc not in self.boundaries:
            target = hart.pc
            raise Violation("control transfer", f"hart {hart.id} ({task.name}) went from "
                            f"{self.image.symbolize(pc)} to {target:#x} "
                            f"({self.image.symbolize(target)}), not an instruction boundary "
                            "of any function or trampoline")

    def _breakpoint(self, hart: Hart, pc: int, intno: int, variant: str = "new") -> None:
        new = self.state.int3.get(pc)
        if variant == "udf":
            raise Violation("undefined instruction", f"hart {hart.id} executed an undefined "
                            f"instruction at {self.image.symbolize(pc)}: it fetched an "
                            "instruction being modified outside the Arm ARM's CMODX-safe set")
        if new is None:
            raise Violation("undefined instruction", f"hart {hart.id} trapped (interrupt {intno}) "
                            f"at {self.image.symbolize(pc)} with no patch in progress")
        self.scheme.emulate_breakpoint(hart, pc, new)

    def _check_outcome(self, hart: Hart, task, outcome: Outcome) -> None:
        if outcome == Outcome.FAULT:
            fault = task.fault
            if fault is not None and any(a <= fault.pc < a + n for a, n in self.state.freed):
                raise Violation("freed trampoline", f"hart {hart.id} ({task.name}) executed "
                                f"freed trampoline memory at {fault.pc:#x}\n{fault.report()}")
            raise Violation("guest fault", fault.report() if fault else "fault")
        if self._bp[hart.id] is not None:
            bp = self._bp[hart.id]
            self._bp[hart.id] = None
            self._breakpoint(hart, hart.pc - 1, bp)

    # --- the end of a schedule -----------------------------------------------------------------
    def finished(self) -> bool:
        return all(t.state != TaskState.RUNNING and t.state != TaskState.RUNNABLE
                   for t in self.tasks) and self.state.step >= len(self.steps) and \
            not self.state.buffer

    def check_end(self) -> None:
        for t in self.tasks:
            if t.fault is not None:
                raise Violation("guest fault", t.fault.report())
            if t.result != self.expected:
                raise Violation("wrong result", f"task {t.name} returned {t.result}, the "
                                f"untraced run returns {self.expected}")
        self._check_trace()

    def _check_trace(self) -> None:
        calls = list(self.state.oracle)
        used = [False] * len(calls)
        for name, inst in self.instances.items():
            _, bufs = read_trace_array(self.machine.mem.read, inst.addr, len(self.machine.harts))
            events = [e for b in bufs for e in b.events if isinstance(e, FuncEvent)]
            for e in events:
                # the record belongs to the latest matching call whose site ran before it
                cands = [i for i, (pid, ip, ret, _, clk) in enumerate(calls)
                         if not used[i] and pid == e.pid and ip == e.ip and ret == e.parent_ip
                         and clk < e.ts]
                match = max(cands, key=lambda i: (calls[i][4], i)) if cands else None
                if match is None:
                    raise Violation("trace record", f"instance {name}: a record for "
                                    f"{self.image.symbolize(e.ip)} <- "
                                    f"{self.image.symbolize(e.parent_ip)} (pid {e.pid}) matches "
                                    "no call the emulator saw: spurious or duplicated")
                used[match] = True
                rec = self.rec_by_ip[e.ip]
                live = inst.ops is not None and inst.ops.registered and inst.tracer == "function"
                if calls[match][3] and not (live and inst.ops.covers(rec.func)):
                    raise Violation("trace record", f"instance {name}: {rec.func} was traced "
                                    "after the update that stopped tracing it completed")
            ops = inst.ops
            if ops is None or not ops.registered or inst.tracer != "function":
                continue
            for i, (pid, ip, _ret, done, _clk) in enumerate(calls):
                rec = self.rec_by_ip[ip]
                if done and ops.covers(rec.func) and not used[i]:
                    raise Violation("trace record", f"instance {name}: the call of {rec.func} "
                                    f"by pid {pid} after the update completed was not traced")
