"""Deterministic guest time for the trace clocks: each hart's retired guest instructions at a
nominal 1 GHz (one instruction = 1 ns), so traces and function_graph durations are the same on
every run and an empty function takes a few ns.

A block hook per hart counts the instructions it runs (ftlab.machine.counting.BlockCounter);
a code hook on the guest's `ftlab_local_clock` stores that hart's count, exact to the
instruction (the block's instructions from the hooked one on are taken back), in
`ftlab_guest_clock[cpu]`, which the function then returns. The hooks are attached while some
trace instance needs them (a clock other than `counter`, or the function_graph tracer): the
block hook costs a Python call per block. Detached, the counts stand still (guest time only
runs while someone reads it) and go on from there when attached again.
"""

from __future__ import annotations

import capstone
from unicorn import UC_HOOK_CODE

from ftlab.machine.counting import BlockCounter, attach_counter, detach_counter
from ftlab.machine.hart import Hart
from ftlab.machine.machine import Machine

NS_PER_INSN = 1  # the nominal frequency: 1 GHz


class GuestTime:
    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.slots = machine.image.addr("ftlab_guest_clock")
        self.reader = machine.image.addr("ftlab_local_clock")
        arch = machine.arch
        self.cs = capstone.Cs(arch.cs_arch, arch.cs_mode)
        self.cache: dict[tuple[int, int], tuple[int, ...]] = {}
        self.counters: dict[int, BlockCounter] = {}
        self.users: set[int] = set()
        self.hooks: list[tuple[Hart, tuple[int, int]]] = []

    def use(self, user: object, needed: bool) -> None:
        """`user` (a trace instance) needs guest time or no longer does."""
        if needed:
            self.users.add(id(user))
        else:
            self.users.discard(id(user))
        if self.users and not self.hooks:
            for hart in self.machine.harts:
                self._attach(hart)
        elif not self.users and self.hooks:
            self._detach()

    def _attach(self, hart: Hart) -> None:
        counter = self.counters.setdefault(hart.id, BlockCounter(self.cs, self.cache))
        slot = self.slots + 8 * hart.id
        mem = self.machine.mem

        def on_read(uc, addr: int, size: int, _data: object) -> None:
            ahead = len(counter.last) - counter.last.index(addr) if addr in counter.last else 0
            mem.set_u64(slot, (counter.total - ahead) * NS_PER_INSN)

        code = hart.uc.hook_add(UC_HOOK_CODE, on_read, begin=self.reader, end=self.reader)
        block = attach_counter(hart, counter)  # flushes: old blocks would miss both hooks
        self.hooks.append((hart, (block, code)))

    def _detach(self) -> None:
        for hart, (block, code) in self.hooks:
            hart.uc.hook_del(code)
            detach_counter(hart, block)
        self.hooks = []

    def now(self, cpu: int) -> int:
        """The guest time of `cpu` between slices, in ns."""
        counter = self.counters.get(cpu)
        return counter.total * NS_PER_INSN if counter else 0


def guest_time(machine: Machine) -> GuestTime:
    """The machine's guest time, installed on first use."""
    gt = getattr(machine, "guest_time", None)
    if gt is None:
        gt = GuestTime(machine)
        machine.guest_time = gt  # type: ignore[attr-defined]
    return gt
