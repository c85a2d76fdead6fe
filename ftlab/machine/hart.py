"""A hart: one Unicorn instance mapping the shared guest RAM, with its own per-CPU register."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import capstone
from unicorn import UC_HOOK_MEM_UNMAPPED, UC_TLB_VIRTUAL, Uc, UcError

from ftlab import interrupts
from ftlab.machine import budget
from ftlab.machine.task import Task

if TYPE_CHECKING:
    from ftlab.machine.machine import Machine


class StopKind(enum.Enum):
    SLICE = "slice"  # the instruction count ran out
    MCALL = "mcall"  # the guest called into the machine (ftlab_mcall)
    FAULT = "fault"  # Unicorn raised: unmapped access, illegal instruction...


@dataclass
class Stop:
    kind: StopKind
    error: UcError | None = None
    address: int | None = None  # the unmapped address accessed, for a memory fault
    insns: int | None = None  # instructions run (None: unknown, no budget hook)


class Hart:
    def __init__(self, machine: Machine, hid: int, percpu_addr: int) -> None:
        arch = machine.arch
        self.machine = machine
        self.id = hid
        self.arch = arch
        self.percpu = percpu_addr
        self.uc = Uc(arch.uc_arch, arch.uc_mode)
        if os.environ.get("FTLAB_TLB") == "virtual":  # for measuring; see docs/speed.md
            self.uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
        machine.mem.map_into(self.uc)
        arch.init_hart(self.uc, percpu_addr)
        self.uc.ctl_exits_enabled(True)
        self.uc.ctl_set_exits([machine.mcall_addr])
        self.task: Task | None = None
        self._ids = [arch.regs[n] for n in arch.context_regs]
        self._pc = arch.regs[arch.pc]
        self._pc_cache: int | None = None  # reading a register through Unicorn is slow
        self.insns = 0  # instructions run in completed slices
        self._bad_addr: int | None = None
        self.uc.hook_add(UC_HOOK_MEM_UNMAPPED, self._on_unmapped)
        # installed on the first time slice that is not exact: a hart only ever stepped
        # exactly (the explorer's) never pays for the hook
        self.budget: budget.SliceBudget | None = None
        self._exact: bool | None = None  # how the translated blocks were made: counted or not

    def _on_unmapped(self, uc, access, address, size, value, user_data) -> bool:
        self._bad_addr = address
        return False  # not handled: the access faults

    # registers
    def reg(self, name: str) -> int:
        return self.uc.reg_read(self.arch.regs[name])

    def set_reg(self, name: str, value: int) -> None:
        self.uc.reg_write(self.arch.regs[name], value & (2**64 - 1))
        self._pc_cache = None

    @property
    def pc(self) -> int:
        if self._pc_cache is None:
            self._pc_cache = self.uc.reg_read(self._pc)
        return self._pc_cache

    def save_context(self) -> list[int]:
        return list(self.uc.reg_read_batch(self._ids))

    def restore_context(self, values: list[int]) -> None:
        self.uc.reg_write_batch(list(zip(self._ids, values, strict=True)))
        self._pc_cache = None

    def registers(self) -> dict[str, int]:
        return {n: self.uc.reg_read(r) for n, r in self.arch.regs.items()}

    def install_budget(self) -> None:
        """The budget hook, if it can be had. Install it before any other block hook that
        counts: it stops the hart before a block runs, and hooks after it are not called."""
        if self.budget is None and budget.available():
            self.budget = budget.SliceBudget(self.uc, capstone.Cs(self.arch.cs_arch,
                                                                  self.arch.cs_mode))
            self.uc.ctl_flush_tb()  # blocks translated before the hook would not call it

    def run(self, count: int, exact: bool = True) -> Stop:
        """Run the current task for at most `count` instructions (count > 0). Exact runs stop
        at that instruction (Unicorn's count=, a helper call per instruction); others stop at
        the first block boundary at or past it (the budget hook, one call per block), or at
        exactly `count` where there is no budget hook."""
        self._bad_addr = None
        if not exact:
            self.install_budget()
        if exact != self._exact:
            # Unicorn adds its count= hook when a counted run starts and drops it when an
            # uncounted one does, but keeps the blocks translated meanwhile: blocks from a
            # budget slice never call the count hook (a counted run would not stop), blocks
            # from a counted run call it on every instruction
            if self._exact is not None:
                self.uc.ctl_flush_tb()
            self._exact = exact
        meter = self.budget
        start = meter.arm(count) if meter is not None and not exact else (
            meter.state.total if meter is not None else 0)
        try:
            with interrupts.emulating(self.uc):
                if meter is not None and not exact:
                    self.uc.emu_start(self.pc, 0)
                else:
                    self.uc.emu_start(self.pc, 0, count=count)
        except UcError as err:
            self._pc_cache = None
            ran = None
            if meter is not None:
                meter.disarm()
                ran = meter.state.total - start - meter.settle(self.pc)
            return Stop(StopKind.FAULT, err, self._bad_addr, ran)
        if meter is not None:
            meter.disarm()
        self._pc_cache = None  # the hart moved
        kind = StopKind.MCALL if self.pc == self.machine.mcall_addr else StopKind.SLICE
        if meter is None:
            return Stop(kind, insns=count if kind == StopKind.SLICE else None)
        if exact and kind == StopKind.SLICE:
            return Stop(kind, insns=count)  # the last block may have been cut short
        return Stop(kind, insns=meter.state.total - start)

    def flush_code(self, begin: int, end: int) -> None:
        """Drop translated blocks covering [begin, end): Unicorn does not see memory writes."""
        self.uc.ctl_remove_cache(begin, end)
        if self.budget is not None:
            self.budget.forget()
