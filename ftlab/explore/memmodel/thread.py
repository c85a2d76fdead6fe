"""Run one thread's real machine code and enumerate every way it can execute.

Register-only instructions and plain loads/stores run in Unicorn, one instruction at a time; a
load's value is chosen by the memory hook from the values some write to that location can
produce (the candidate-execution method of herd7: "Herding cats", TOPLAS 2014, section 8), so a
thread is run once per sequence of choices (replayed from the start: a depth-first enumeration).
Atomics (AMO, CAS, LR/SC) are executed by the ISA's own `execute`, so that failure and success
of a store-conditional are both choices. Register taints follow each value to the reads it came
from; they become the addr/data/ctrl dependencies of the events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import capstone
import unicorn

from ftlab.errors import FtlabError
from ftlab.explore.memmodel.events import NO_TAINT, Event, Insn, Taint, ThreadRun

CODE_BASE = 0x10000
DATA_BASE = 0x200000
LOC_STRIDE = 0x100
MAX_STEPS = 400
UNROLL = 2  # a backward branch is taken at most this often per run (herd7's -unroll default)


class ExecError(FtlabError):
    """The thread does something the model cannot execute (exit 1)."""


class MemIsa(Protocol):
    name: str
    uc_arch: int
    uc_mode: int
    cs_arch: int
    cs_mode: int
    pc_reg: int
    deps_through_memory: bool  # a read takes the taint of the po-earlier write it may forward

    def decode(self, insn: capstone.CsInsn, note: frozenset[str]) -> Insn: ...

    def uc_reg(self, name: str) -> int: ...

    def execute(self, insn: Insn, cs_insn: capstone.CsInsn, cpu: Cpu) -> int | None:
        """Run an `atomic` instruction; returns the next pc when it is not the next one."""

    def selected(self, insn: Insn, cs_insn: capstone.CsInsn, cpu: Cpu) -> tuple[str, ...]: ...


class Cpu:
    """The state of one run of a thread: registers live in Unicorn, taints and events here."""

    def __init__(self, runner: ThreadRunner, prefix: list[int]) -> None:
        self.runner = runner
        self.uc = runner.uc
        self.prefix = prefix
        self.choices: list[int] = []
        self.arity: list[int] = []
        self.taints: dict[str, Taint] = {}
        self.ctrl = NO_TAINT
        self.events: list[Event] = []
        self.rmw: list[tuple[int, int]] = []
        self.instr = 0
        self.reservation: tuple[int, int, Taint] | None = None  # (read event, address, taint)
        self.loaded = NO_TAINT
        self.cur: Insn | None = None
        self.cut = False  # stopped in a loop past the unrolling bound: not an execution
        self.branch_on_load = False  # the last conditional branch depended on a load
        self.elr = 0  # exception return address (ELR)

    # -- choices, replayed from the prefix then first option first
    def choose(self, n: int) -> int:
        k = len(self.choices)
        c = self.prefix[k] if k < len(self.prefix) else 0
        self.choices.append(c)
        self.arity.append(n)
        return c

    # -- registers
    def get(self, name: str) -> int:
        return self.uc.reg_read(self.runner.isa.uc_reg(name))

    def set(self, name: str, value: int, taint: Taint) -> None:
        self.uc.reg_write(self.runner.isa.uc_reg(name), value & (2**64 - 1))
        self.taints[name] = taint

    def taint(self, names: tuple[str, ...] | list[str]) -> Taint:
        out = NO_TAINT
        for n in names:
            out = out | self.taints.get(n, NO_TAINT)
        return out

    # -- memory events
    def _forwarded(self, loc: int) -> Taint:
        """aarch64.cat's lrs: the value may come from the last po-earlier write to loc."""
        for ev in reversed(self.events):
            if ev.kind == "W" and ev.loc == loc:
                t = Taint(ev.data | ev.addr, ev.pick_data | ev.pick_addr)
                return t
        return NO_TAINT

    def load(self, addr: int, size: int, tags: frozenset[str],
             addr_taint: Taint) -> tuple[int, Taint, int]:
        values = self.runner.values_at(addr, size, self.cur)
        value = values[self.choose(len(values))] if len(values) > 1 else values[0]
        eid = len(self.events)
        fwd = self._forwarded(addr) if self.runner.isa.deps_through_memory else NO_TAINT
        self.events.append(Event("R", self.instr, addr, value, size, tags,
                                 addr=addr_taint.data, pick_addr=addr_taint.pick,
                                 ctrl=self.ctrl.data, pick_ctrl=self.ctrl.pick,
                                 forwarded=fwd.pick))
        own = frozenset((eid,))
        taint = Taint(own, own) | fwd
        return value, taint, eid

    def store(self, addr: int, size: int, value: int, tags: frozenset[str], addr_taint: Taint,
              data_taint: Taint) -> int:
        self.runner.check_loc(addr, self.cur)
        value &= (1 << (8 * size)) - 1
        eid = len(self.events)
        self.events.append(Event("W", self.instr, addr, value, size, tags,
                                 addr=addr_taint.data, data=data_taint.data, ctrl=self.ctrl.data,
                                 pick_addr=addr_taint.pick, pick_data=data_taint.pick,
                                 pick_ctrl=self.ctrl.pick))
        return eid

    def cache_op(self, tags: frozenset[str], addr: int, addr_taint: Taint) -> None:
        """DC/IC by address (-1: the whole cache): an event the instruction-fetch model orders."""
        self.events.append(Event("C", self.instr, addr, tags=tags, addr=addr_taint.data,
                                 pick_addr=addr_taint.pick, ctrl=self.ctrl.data,
                                 pick_ctrl=self.ctrl.pick))

    def fence(self, tags: frozenset[str]) -> None:
        self.events.append(Event("F", self.instr, tags=tags, ctrl=self.ctrl.data,
                                 pick_ctrl=self.ctrl.pick))


class ThreadRunner:
    """Owns one emulator for one thread's code; `runs()` yields every execution."""

    def __init__(self, isa: MemIsa, tid: int, code: bytes, notes: dict[int, frozenset[str]],
                 lines: dict[int, str], init_regs: dict[str, int], locations: dict[str, int],
                 observed: list[str], image: bytes | None = None,
                 fetched: frozenset[int] = frozenset(), ends: frozenset[int] = frozenset(),
                 handler: int | None = None) -> None:
        """`code` is this thread's, at `thread_base(tid)`; `image` every thread's (threads may
        call each other's code); a fetch from an address in `fetched` (code the test writes) is
        a read event whose value is the instruction executed."""
        self.isa = isa
        self.tid = tid
        self.code = code
        self.locations = locations  # name -> address
        self.addr_names = {a: n for n, a in locations.items()}
        self.observed = observed
        self.values: dict[int, list[int]] = {}
        self.fetched = fetched
        self.uc = unicorn.Uc(isa.uc_arch, isa.uc_mode)
        image = image if image is not None else b"\0" * thread_base(tid) + code
        self.image = image
        size = (len(image) + 0xfff) & ~0xfff or 0x1000
        self.uc.mem_map(CODE_BASE, size + 0x1000)
        self.stop = CODE_BASE + size + 0x800  # an `until` for emu_start that no code reaches
        self.uc.mem_write(CODE_BASE, image)
        self.uc.mem_map(DATA_BASE, max(0x1000, (len(locations) + 1) * LOC_STRIDE + 0xfff) & ~0xfff)
        self.start = CODE_BASE + thread_base(tid)
        self.end = self.start + len(code)
        self.handler = handler  # where a fault (an undefined instruction) takes this thread
        # falling off the end of any thread's code (after a branch into it) ends the thread
        self.ends = ends | {self.end}
        self.decoded: dict[int, tuple[Insn, capstone.CsInsn]] = {}
        md = capstone.Cs(isa.cs_arch, isa.cs_mode)
        md.detail = True
        self.md = md
        self.notes = notes
        off = 0
        self.lines = lines  # code offset -> where the instruction came from, for messages
        for insn in md.disasm(code, self.start):
            index = insn.address - self.start
            try:
                decoded = isa.decode(insn, notes.get(index, frozenset()))
            except ExecError as err:
                raise ExecError(f"{self._source(insn.address)}{err}") from None
            self.decoded[insn.address] = (decoded, insn)
            off = index + insn.size
        if off != len(code):
            raise ExecError(f"P{tid}: capstone cannot decode the bytes at offset {off:#x}")
        self.variants: dict[tuple[int, int], tuple[Insn, capstone.CsInsn]] = {}
        for name, value in init_regs.items():
            self.uc.reg_write(isa.uc_reg(name), value & (2**64 - 1))
        self.uc.reg_write(isa.pc_reg, self.start)
        self.context = self.uc.context_save()
        self.cpu: Cpu | None = None
        self.unrolled = False  # some run was cut at the unrolling bound (herd7 prints "Loop")
        self.uc.hook_add(unicorn.UC_HOOK_MEM_READ, self._on_read)
        self.uc.hook_add(unicorn.UC_HOOK_MEM_WRITE, self._on_write)

    def _source(self, pc: int) -> str:
        """`FILE:LINE: ` of the instruction at pc, when known."""
        best = max((o for o in self.lines if o <= pc - self.start), default=None)
        return f"{self.lines[best]}: " if best is not None else ""

    def where(self, insn: Insn | None) -> str:
        return f"P{self.tid} '{insn.text}'" if insn else f"P{self.tid}"

    def check_loc(self, addr: int, insn: Insn | None) -> None:
        if addr not in self.addr_names:
            raise ExecError(f"{self.where(insn)} accesses {addr:#x}, which is no location of "
                            "the test (mixed-size or computed addresses are not supported)")

    def values_at(self, addr: int, size: int, insn: Insn | None) -> list[int]:
        self.check_loc(addr, insn)
        mask = (1 << (8 * size)) - 1
        return sorted({v & mask for v in self.values[addr]})

    def _on_read(self, uc, access, addr, size, value, data) -> None:
        cpu = self.cpu
        assert cpu is not None and cpu.cur is not None
        insn = cpu.cur
        if insn.kind != "load":
            raise ExecError(f"{self.where(insn)}: unexpected memory read")
        v, taint, _ = cpu.load(addr, size, insn.tags, cpu.taint(insn.reads))
        cpu.loaded = taint
        uc.mem_write(addr, (v & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    def _on_write(self, uc, access, addr, size, value, data) -> None:
        cpu = self.cpu
        assert cpu is not None and cpu.cur is not None
        insn = cpu.cur
        if insn.kind != "store":
            raise ExecError(f"{self.where(insn)}: unexpected memory write")
        cpu.store(addr, size, value, insn.tags, cpu.taint(insn.reads), cpu.taint(insn.data))

    def _fetch(self, cpu: Cpu, pc: int) -> tuple[Insn, capstone.CsInsn]:
        """Fetch from code the test modifies: the instruction is a value read from memory."""
        value, _, _ = cpu.load(pc, 4, frozenset({"Instr"}), cpu.ctrl.as_pick())
        key = (pc, value)
        if key not in self.variants:
            raw = value.to_bytes(4, "little")
            found = list(self.md.disasm(raw, pc))
            if not found:
                raise ExecError(f"P{self.tid} fetches {value:#010x}, which is no instruction")
            self.variants[key] = (self.isa.decode(found[0], frozenset()), found[0])
        self.uc.mem_write(pc, value.to_bytes(4, "little"))
        self.uc.ctl_remove_cache(pc, pc + 4)
        return self.variants[key]

    def _step(self, cpu: Cpu, pc: int) -> int:
        if pc in self.fetched:
            entry: tuple[Insn, capstone.CsInsn] | None = self._fetch(cpu, pc)
        else:
            entry = self.decoded.get(pc)
        if entry is None:
            entry = self._decode_foreign(pc)
        insn, cs_insn = entry
        cpu.cur = insn
        kind = insn.kind
        if kind == "fence":
            cpu.fence(insn.tags)
            nxt = pc + insn.size
        elif kind == "atomic":
            nxt = self.isa.execute(insn, cs_insn, cpu) or pc + insn.size
        elif kind == "undefined":
            if self.handler is None:
                raise ExecError(f"{self.where(insn)}: undefined instruction (the test has no "
                                f"fault handler P{self.tid}.F)")
            # exception entry: a context synchronization event (as ISB), then the handler
            cpu.fence(frozenset({"ISB", "EXC-ENTRY"}))
            cpu.elr = pc
            nxt = self.handler
        else:
            if kind == "branch":
                decided_by = cpu.taint(insn.reads + insn.select)
                cpu.branch_on_load = bool(decided_by.pick) or bool(cpu.choices)
                cpu.ctrl = cpu.ctrl | decided_by
            elif kind == "select":
                chosen = self.isa.selected(insn, cs_insn, cpu)
            try:
                self.uc.emu_start(pc, self.stop, count=1)
            except unicorn.UcError as err:
                raise ExecError(f"{self.where(insn)}: the emulator stopped: {err}") from None
            nxt = self.uc.reg_read(self.isa.pc_reg)
            if kind == "select":
                t = cpu.taint(chosen) | cpu.taint(insn.select).as_pick()
                for w in insn.writes:
                    cpu.taints[w] = t
            elif kind == "op":
                t = cpu.taint(insn.reads) | cpu.taint(insn.select).as_pick()
                for w in insn.writes:
                    cpu.taints[w] = t
            elif kind == "load":
                for w in insn.writes:
                    cpu.taints[w] = cpu.loaded
            else:  # a branch's link register holds an address of code: no dependency
                for w in insn.writes:
                    cpu.taints[w] = NO_TAINT
        cpu.instr += 1
        return nxt

    def _decode_foreign(self, pc: int) -> tuple[Insn, capstone.CsInsn]:
        """Code of another thread this one called into (it is in the shared image)."""
        key = (pc, -1)
        if key not in self.variants:
            off = pc - CODE_BASE
            found = list(self.md.disasm(self.image[off:off + 16], pc, count=1))
            if not (0 <= off < len(self.image)) or not found:
                raise ExecError(f"P{self.tid} branches to {pc:#x}, where there is no code")
            self.variants[key] = (self.isa.decode(found[0], frozenset()), found[0])
        return self.variants[key]

    def run_once(self, prefix: list[int]) -> Cpu:
        self.uc.context_restore(self.context)
        for pc in self.fetched:  # the original instructions, before any fetch chose another
            off = pc - CODE_BASE
            self.uc.mem_write(pc, self.image[off:off + 4])
            self.uc.ctl_remove_cache(pc, pc + 4)
        cpu = Cpu(self, prefix)
        self.cpu = cpu
        pc = self.start
        steps = 0
        back: dict[int, int] = {}
        while pc not in self.ends:
            steps += 1
            if steps > MAX_STEPS:
                raise ExecError(f"P{self.tid} runs more than {MAX_STEPS} instructions")
            try:
                nxt = self._step(cpu, pc)
            except ExecError as err:
                if str(err).startswith(self._source(pc)) or not self._source(pc):
                    raise
                raise ExecError(f"{self._source(pc)}{err}") from None
            same_code = (nxt - CODE_BASE) // thread_base(1) == (pc - CODE_BASE) // thread_base(1)
            # a loop is unrolled UNROLL times, then cut (as herd7), unless a conditional branch
            # on constants closes it: that one runs to its end (MAX_STEPS bounds it)
            if nxt <= pc and same_code and (cpu.cur is None or cpu.cur.kind != "branch"
                                            or cpu.branch_on_load):
                back[pc] = back.get(pc, 0) + 1
                if back[pc] > UNROLL:
                    cpu.cut = self.unrolled = True
                    return cpu
            pc = nxt
        return cpu

    def runs(self, values: dict[int, set[int]]) -> Iterator[ThreadRun]:
        self.values = {a: sorted(v) for a, v in values.items()}
        prefix: list[int] = []
        while True:
            cpu = self.run_once(prefix)
            if not cpu.cut:
                regs = {name: self.uc.reg_read(self.isa.uc_reg(name)) for name in self.observed}
                yield ThreadRun(cpu.events, cpu.rmw, regs)
            # next choice sequence: bump the last choice that has an untried option
            choices, arity = cpu.choices, cpu.arity
            j = len(choices) - 1
            while j >= 0 and choices[j] + 1 >= arity[j]:
                j -= 1
            if j < 0:
                return
            prefix = choices[:j] + [choices[j] + 1]


def thread_base(tid: int) -> int:
    """Where thread tid's code starts, relative to CODE_BASE (one shared image)."""
    return 0x1000 * tid


def all_runs(runners: list[ThreadRunner], init: dict[int, int],
             on_round: Callable[[int], None] | None = None) -> list[list[ThreadRun]]:
    """Every execution of every thread, with reads drawn from a value set closed under the
    writes the threads can make (iterated to a fixpoint: values in litmus tests are finite)."""
    values: dict[int, set[int]] = {a: {v} for a, v in init.items()}
    # A value an allowed execution reads comes from a chain of writes, each computed from the
    # one before, that the model keeps acyclic: no longer than the writes of one execution.
    # Past that many rounds new values can only feed forbidden (thin-air) candidates.
    bound = None
    rounds = 0
    while True:
        if on_round:
            on_round(rounds)
        per_thread = [list(r.runs(values)) for r in runners]
        if bound is None:
            bound = 1 + sum(max((sum(e.kind == "W" for e in run.events) for run in runs),
                                default=0) for runs in per_thread)
        rounds += 1
        if rounds > bound:
            return per_thread
        grown = False
        for runs in per_thread:
            for run in runs:
                for ev in run.events:
                    if ev.kind == "W" and ev.value not in values[ev.loc]:
                        values[ev.loc].add(ev.value)
                        grown = True
        if not grown:
            return per_thread


