"""An independent oracle for traces: an emulator code hook on every traced function's entry
records who called what, from the emulator's own registers (not from the trace)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from unicorn import UC_HOOK_CODE

from ftlab.guest import abi
from ftlab.machine.machine import Machine


class EntryOracle:
    """`at(name)` is where to watch: the function's patched instruction (rec->ip), so a call is
    counted exactly when the site itself runs, whatever state it is in."""

    def __init__(self, machine: Machine, funcs: list[str], at: Callable[[str], int],
                 enabled: Callable[[str], bool] = lambda f: True) -> None:
        self.machine = machine
        # pid -> [(func, ret, sp, enabled)]; `calls` keeps the enabled ones
        self.hits: dict[int, list[tuple[str, int, int, bool]]] = defaultdict(list)
        self.enabled = enabled
        arch = machine.arch
        for hart in machine.harts:
            for name in funcs:
                addr = at(name)
                hart.uc.hook_add(UC_HOOK_CODE, self._hit, user_data=(hart, name), begin=addr,
                                 end=addr)
            hart.uc.ctl_flush_tb()
        self.arch = arch

    def _hit(self, uc, addr, size, data) -> None:
        hart, name = data
        mem = self.machine.mem
        task = mem.u64(hart.percpu + abi.PERCPU_CURRENT)
        pid = mem.u64(task + abi.TASK_PID)
        arch = self.arch
        regs = {r: hart.reg(r) for r in (arch.sp, arch.ra) if r is not None}
        sp = regs[arch.sp]
        ret = arch.return_address(regs, mem.word)  # the ISA's entry convention
        hit = (name, ret, sp, self.enabled(name))
        hits = self.hits[pid]
        # a time slice can end after the hook ran but before the instruction did: the
        # instruction runs (and the hook fires) again when the task resumes
        if hits and hits[-1][:3] == hit[:3]:
            hits[-1] = hit
        else:
            hits.append(hit)

    @property
    def calls(self) -> dict[int, list[tuple[str, int]]]:
        return {pid: [(n, r) for n, r, _, on in hits if on] for pid, hits in self.hits.items()}
