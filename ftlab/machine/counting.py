"""Exact, deterministic guest instruction counts: a block hook per hart that adds each
executed block's instruction count (decoded once per block), for benchmarks and tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import capstone
from unicorn import UC_HOOK_BLOCK, Uc

from ftlab.errors import FtlabError
from ftlab.machine.hart import Hart, Stop, StopKind
from ftlab.machine.machine import Machine


class BlockCounter:
    """UC_HOOK_BLOCK counter: adds each executed block's instruction count. A run stopped
    inside a block (count= or a fault) had the whole block counted; `settle(pc)` takes back
    what did not run. A budget stop (Hart.run not exact) is at a block boundary: no settle."""

    def __init__(self, cs: capstone.Cs, cache: dict[tuple[int, int], tuple[int, ...]]) -> None:
        self.cs = cs
        self.cache = cache  # (block address, size) -> instruction addresses
        self.total = 0
        self.last: tuple[int, ...] = ()

    def hook(self, uc: Uc, addr: int, size: int, _data: object) -> None:
        key = (addr, size)
        insns = self.cache.get(key)
        if insns is None:
            code = bytes(uc.mem_read(addr, size)) if size else b""
            decoded = list(self.cs.disasm_lite(code, addr))
            if sum(d[1] for d in decoded) != size:
                raise FtlabError(f"capstone cannot decode the whole block at {addr:#x} "
                                 f"(+{size}); the instruction count would be wrong")
            insns = tuple(d[0] for d in decoded)
            self.cache[key] = insns
        self.total += len(insns)
        self.last = insns

    def settle(self, pc: int) -> None:
        if pc in self.last:
            self.total -= len(self.last) - self.last.index(pc)
        self.last = ()


def attach_counter(hart: Hart, counter: BlockCounter) -> int:
    """Count what `hart` runs into `counter` until `detach_counter`: the block hook goes after
    the budget hook (a budget stop skips the hooks after it), and `hart.run` is wrapped so a
    run stopped inside a block takes back what did not run. Returns the hook's handle."""
    hart.install_budget()
    handle = hart.uc.hook_add(UC_HOOK_BLOCK, counter.hook)
    hart.uc.ctl_flush_tb()  # blocks translated before the hook would not call it
    inner = hart.run

    def run(count: int, exact: bool = True) -> Stop:
        stop = inner(count, exact)
        if exact or stop.kind == StopKind.FAULT:
            counter.settle(hart.pc)
        else:  # a budget stop is at a block boundary: the last block ran whole
            counter.last = ()
        return stop

    hart.run = run  # type: ignore[method-assign]
    return handle


def detach_counter(hart: Hart, handle: int) -> None:
    hart.uc.hook_del(handle)
    hart.uc.ctl_flush_tb()
    if "run" in vars(hart):
        del hart.run


@contextmanager
def counting(machine: Machine) -> Iterator[list[BlockCounter]]:
    """Count every instruction the machine's harts run inside the block; the hooks are gone
    (and the translations made with them dropped) afterwards."""
    arch = machine.arch
    cs = capstone.Cs(arch.cs_arch, arch.cs_mode)
    cache: dict[tuple[int, int], tuple[int, ...]] = {}
    counters = [BlockCounter(cs, cache) for _ in machine.harts]
    handles = [attach_counter(h, c) for h, c in zip(machine.harts, counters, strict=True)]
    try:
        yield counters
    finally:
        for hart, handle in zip(machine.harts, handles, strict=True):
            detach_counter(hart, handle)
