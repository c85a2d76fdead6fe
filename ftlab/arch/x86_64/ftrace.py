"""x86_64 ftrace (arch/x86/kernel/ftrace.c): a 5-byte site at the function entry, nop5 <->
`call`, patched with the int3 protocol (text_poke_bp); `naive` writes the 5 bytes in place."""

from __future__ import annotations

import errno
from collections.abc import Callable

from ftlab.arch.x86_64 import encode as X
from ftlab.ftrace.arch_ops import ArchFtrace, PatchContext
from ftlab.ftrace.core import DynFtrace
from ftlab.ftrace.steps import CodeWrite, PatchError, Steps, SyncCore
from ftlab.guest.loader import PatchSite

COMPILED_NOP = bytes.fromhex("0f1f440008")  # clang's -fpatchable-function-entry=5 NOP


class X86Ftrace(ArchFtrace):
    # the site's bytes as compiled and the NOP ftrace keeps there (x86_32 has its own)
    COMPILED_NOP = COMPILED_NOP
    NOP5 = X.NOP5

    @staticmethod
    def call(pc: int, target: int) -> bytes:
        return X.call_rel32(pc, target)

    def rec_ip(self, site: PatchSite) -> int:
        return site.start

    def null_trampoline(self, addr: int) -> bytes:
        """A direct trampoline that only returns into the traced function."""
        return X.ret()

    def emulate_breakpoint(self, hart, addr: int, new: bytes) -> None:
        """poke_int3_handler(): a CPU that met the int3 runs the instruction being written."""
        arch, mem = hart.arch, hart.machine.mem
        if new[0] == X.CALL_OPCODE:
            target = addr + 5 + int.from_bytes(new[1:5], "little", signed=True)
            regs = {arch.sp: hart.reg(arch.sp)}
            for name, v in arch.enter_with_return(regs, mem.set_word, addr + 5).items():
                hart.set_reg(name, v)
            hart.set_reg(arch.pc, target & ((1 << arch.bits) - 1))
        else:
            hart.set_reg(arch.pc, addr + len(new))

    def _insn(self, rec: DynFtrace, addr: int | None) -> bytes:
        return self.NOP5 if addr is None else self.call(rec.ip, addr)

    def init_nop(self, ctx: PatchContext, rec: DynFtrace) -> Steps:
        # the kernel's ftrace_init_nop verifies the compiled site, then writes nop5
        ctx.expect(rec.ip, self.COMPILED_NOP, "compiled site")
        yield CodeWrite(rec.ip, self.NOP5, f"init {rec.func}")

    def _modify(self, ctx: PatchContext, rec: DynFtrace, old: int | None,
                new: int | None) -> Steps:
        # ftrace_modify_code_direct(): compare, then write
        ctx.expect(rec.ip, self._insn(rec, old), rec.func)
        yield CodeWrite(rec.ip, self._insn(rec, new), rec.func)

    def make_call(self, ctx: PatchContext, rec: DynFtrace, addr: int) -> Steps:
        yield from self._modify(ctx, rec, None, addr)

    def make_nop(self, ctx: PatchContext, rec: DynFtrace, addr: int) -> Steps:
        yield from self._modify(ctx, rec, addr, None)

    def modify_call(self, ctx: PatchContext, rec: DynFtrace, old: int, new: int) -> Steps:
        yield from self._modify(ctx, rec, old, new)

    def update_ftrace_func(self, ctx: PatchContext, func: int) -> Steps:
        site = ctx.sym("ftrace_call")
        new = self.call(site, func)
        cur = ctx.read(site, 5)
        if cur[0] != X.CALL_OPCODE:
            raise PatchError(errno.EINVAL, "ftrace_call", f"not a call: {cur.hex()}")
        yield from self.poke(ctx, [(site, cur, new)])

    def poke(self, ctx: PatchContext, sites: list[tuple[int, bytes, bytes]]) -> Steps:
        """text_poke_bp_batch(): int3 on the first byte of every site, sync; the tail bytes,
        sync; the first byte, sync. A CPU meeting the int3 meanwhile emulates the new insn."""
        for addr, _old, _new in sites:
            yield CodeWrite(addr, X.int3(), "int3")
        yield SyncCore("text_poke_sync")
        for addr, _old, new in sites:
            yield CodeWrite(addr + 1, new[1:], "tail")
        yield SyncCore("text_poke_sync")
        for addr, _old, new in sites:
            yield CodeWrite(addr, new[:1], "first byte")
        yield SyncCore("text_poke_sync")

    def text_poke(self, ctx: PatchContext, addr: int, new: bytes, what: str = "") -> Steps:
        """x86 patches live code through text_poke_bp(), the int3 protocol."""
        yield from self.poke(ctx, [(addr, ctx.read(addr, len(new)), new)])

    def replace_code(self, ctx: PatchContext,
                     updates: list[tuple[DynFtrace, Callable[[], Steps]]]) -> Steps:
        """ftrace_replace_code(): verify every site (ftrace_verify_code), then one batch."""
        batch = []
        for _rec, make in updates:
            steps = list(make())  # the generic transition: compare + in-place write
            for step in steps:
                if isinstance(step, CodeWrite):
                    batch.append((step.addr, ctx.read(step.addr, len(step.data)), step.data))
        yield from self.poke(ctx, batch)

    def update_code(self, ctx: PatchContext, command: Callable[[], Steps]) -> Steps:
        # x86's arch_ftrace_update_code: no stop_machine, text_mutex and the int3 protocol
        yield from command()


class X86NaiveFtrace(X86Ftrace):
    """The 5 bytes written in place, no int3: a CPU may fetch a torn instruction."""

    def update_ftrace_func(self, ctx: PatchContext, func: int) -> Steps:
        site = ctx.sym("ftrace_call")
        yield CodeWrite(site, self.call(site, func), "ftrace_call")
        yield SyncCore()

    def replace_code(self, ctx: PatchContext,
                     updates: list[tuple[DynFtrace, Callable[[], Steps]]]) -> Steps:
        for _rec, make in updates:
            yield from make()
        yield SyncCore()


SCHEMES = {
    "int3": X86Ftrace("int3", "fentry", "nop5 <-> call, int3 protocol (text_poke_bp)"),
    "naive": X86NaiveFtrace("naive", "fentry", "the 5 bytes written in place (unsafe)"),
}
DEFAULT = "int3"
# the cost lab's comparison (ftlab.bench.ftrace_ops): no CALL_OPS in the kernel; each dynamic
# ops gets its own trampoline (arch_ftrace_update_trampoline)
BENCH_CALL_OPS = None
BENCH_LIST = "int3"
PER_OPS_TRAMPOLINES = True
