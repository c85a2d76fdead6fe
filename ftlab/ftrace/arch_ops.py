"""The contract each architecture supplies, as the kernel's arch ftrace functions do:
init_nop, make_call, make_nop, modify_call, update_ftrace_func, the CALL_OPS literal and
update_code. Every function yields steps (ftlab.ftrace.steps)."""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ftlab.ftrace.steps import CodeWrite, PatchError, Steps, StopMachine, SyncCore
from ftlab.guest.loader import Image, PatchSite

if TYPE_CHECKING:
    from ftlab.ftrace.core import DynFtrace


class PatchContext:
    """What an arch patching function may use: symbols, reads that see pending writes."""

    def __init__(self, image: Image, read: Callable[[int, int], bytes]) -> None:
        self.image = image
        self.read = read

    def sym(self, name: str) -> int:
        return self.image.addr(name)

    def read_u32(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 4), "little")

    def expect(self, addr: int, old: bytes, what: str) -> None:
        """Read-compare as the kernel's ftrace_modify_code(validate=true): -EFAULT, -EINVAL."""
        try:
            cur = self.read(addr, len(old))
        except Exception as err:  # unreadable guest address
            raise PatchError(errno.EFAULT, self.image.symbolize(addr), str(err)) from None
        if cur != old:
            raise PatchError(errno.EINVAL, self.image.symbolize(addr),
                             f"{what}: expected {old.hex()}, found {cur.hex()}")


@dataclass
class ArchFtrace:
    """Base class: one instance per (arch, scheme). Subclasses implement the kernel's arch
    functions for that scheme."""

    name: str
    layout: str
    description: str
    call_ops: bool = False
    direct_calls: bool = True
    runtime_defines: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    # rec->ip for a site (the address the core's hashes and ftrace_caller's `ip` use)
    def rec_ip(self, site: PatchSite) -> int:
        raise NotImplementedError

    def init_nop(self, ctx: PatchContext, rec: DynFtrace) -> Steps:
        raise NotImplementedError

    def text_poke(self, ctx: PatchContext, addr: int, new: bytes, what: str = "") -> Steps:
        """bpf_arch_text_poke()-style live patch of one instruction: a naturally aligned
        single-instruction write the ISA fetches atomically, then a sync."""
        yield CodeWrite(addr, new, what)
        yield SyncCore("text_poke_sync")

    def null_trampoline(self, addr: int) -> bytes:
        """Code for a direct trampoline at `addr` that only returns into the function."""
        raise NotImplementedError

    def emulate_breakpoint(self, hart, addr: int, new: bytes) -> None:
        """The int3 handler of a breakpoint-based patching protocol (x86 only)."""
        raise NotImplementedError

    def make_call(self, ctx: PatchContext, rec: DynFtrace, addr: int) -> Steps:
        raise NotImplementedError

    def make_nop(self, ctx: PatchContext, rec: DynFtrace, addr: int) -> Steps:
        raise NotImplementedError

    def modify_call(self, ctx: PatchContext, rec: DynFtrace, old: int, new: int) -> Steps:
        raise NotImplementedError

    def update_ftrace_func(self, ctx: PatchContext, func: int) -> Steps:
        raise NotImplementedError

    def set_ops_literal(self, ctx: PatchContext, rec: DynFtrace, ops_addr: int) -> Steps:
        """ftrace_rec_set_ops(): only CALL_OPS schemes have a literal."""
        return iter(())

    def replace_code(self, ctx: PatchContext,
                     updates: list[tuple[DynFtrace, Callable[[], Steps]]]) -> Steps:
        """ftrace_replace_code(): the generic path patches record after record."""
        for _rec, make in updates:
            yield from make()

    def update_code(self, ctx: PatchContext, command: Callable[[], Steps]) -> Steps:
        """arch_ftrace_update_code(): by default ftrace_modify_all_code under stop_machine."""
        yield StopMachine(True)
        yield from command()
        yield StopMachine(False)

    def call_target(self, ctx: PatchContext, rec: DynFtrace, addr: int) -> int:
        """Where the site actually calls for `addr` (ftrace_find_callable_addr on arm64,
        the JALR_RANGE check on riscv)."""
        return addr

