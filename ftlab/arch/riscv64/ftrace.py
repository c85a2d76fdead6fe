"""riscv64 ftrace (arch/riscv/kernel/ftrace.c, v6.16 and v6.8)."""

from __future__ import annotations

import errno

from ftlab.arch.riscv64 import encode as R
from ftlab.ftrace.arch_ops import ArchFtrace, PatchContext
from ftlab.ftrace.core import DynFtrace
from ftlab.ftrace.steps import Barrier, CodeWrite, DataWrite, PatchError, Steps, SyncCore, u64
from ftlab.guest.loader import PatchSite


def _w(insn: int) -> bytes:
    return (insn & 0xFFFFFFFF).to_bytes(4, "little")


NOP4 = _w(R.NOP4)


class RiscvV616(ArchFtrace):
    """v6.16: `auipc t0` written once at boot, only the JALR <-> NOP word flips."""

    def rec_ip(self, site: PatchSite) -> int:
        return site.func_addr + 4

    def null_trampoline(self, addr: int) -> bytes:
        """A direct trampoline that only returns into the traced function."""
        return R.jalr("zero", "t0", 0)

    def _auipc(self, ctx: PatchContext, rec: DynFtrace) -> bytes:
        return _w(R.to_auipc_t0(ctx.sym("ftrace_caller") - rec.func_addr))

    def _literal_addr(self, rec: DynFtrace) -> int:
        return (rec.ip - 12) & ~7  # ALIGN_DOWN(rec->ip - 12, 8)

    def set_ops_literal(self, ctx: PatchContext, rec: DynFtrace, ops_addr: int) -> Steps:
        if self.call_ops:
            yield CodeWrite(self._literal_addr(rec), u64(ops_addr), f"{rec.func} ops literal")

    def call_target(self, ctx: PatchContext, rec: DynFtrace, addr: int) -> int:
        # ftrace_make_call(): the AUIPC was computed for ftrace_caller, so only a target
        # within JALR_RANGE of ftrace_caller is called directly (checked literally)
        caller = ctx.sym("ftrace_caller")
        return addr if abs(addr - caller) <= R.JALR_RANGE else caller

    def init_nop(self, ctx: PatchContext, rec: DynFtrace) -> Steps:
        yield from self.set_ops_literal(ctx, rec, rec.want_ops)
        yield CodeWrite(rec.func_addr, self._auipc(ctx, rec) + NOP4, f"{rec.func}: auipc; nop")

    def _jalr(self, rec: DynFtrace, addr: int) -> bytes:
        return _w(R.to_jalr_t0(addr - rec.func_addr))

    def make_call(self, ctx: PatchContext, rec: DynFtrace, addr: int) -> Steps:
        yield from self.set_ops_literal(ctx, rec, rec.want_ops)
        yield CodeWrite(rec.ip, self._jalr(rec, addr), f"{rec.func}: jalr")  # no read-back

    def make_nop(self, ctx: PatchContext, rec: DynFtrace, addr: int) -> Steps:
        yield from self.set_ops_literal(ctx, rec, rec.want_ops)
        yield CodeWrite(rec.ip, NOP4, f"{rec.func}: nop")

    def modify_call(self, ctx: PatchContext, rec: DynFtrace, old: int, new: int) -> Steps:
        # only ftrace_modify_call validates, and only the AUIPC word
        want = self._auipc(ctx, rec)
        if ctx.read(rec.func_addr, 4) != want:
            raise PatchError(errno.EINVAL, rec.func, "AUIPC does not reach ftrace_caller")
        yield from self.set_ops_literal(ctx, rec, rec.want_ops)
        if old != new:
            yield CodeWrite(rec.ip, self._jalr(rec, new), f"{rec.func}: jalr")

    def update_ftrace_func(self, ctx: PatchContext, func: int) -> Steps:
        if self.call_ops:
            return  # the function comes from each site's ops
        yield DataWrite(ctx.sym("ftrace_call_dest"), u64(func), "ftrace_call_dest")
        yield Barrier("smp_wmb")
        yield SyncCore("ftrace_sync_ipi")

    def update_code(self, ctx: PatchContext, command) -> Steps:
        # FTRACE_MAY_SLEEP, no stop_machine, then flush_icache_all()
        yield from command()
        yield SyncCore("flush_icache_all")


class RiscvV68(RiscvV616):
    """v6.8: `nop; nop` <-> `auipc t0; jalr t0` written as a pair under stop_machine."""

    def rec_ip(self, site: PatchSite) -> int:
        return site.func_addr

    def _pair(self, rec: DynFtrace, addr: int) -> bytes:
        off = addr - rec.func_addr
        return _w(R.to_auipc_t0(off)) + _w(R.to_jalr_t0(off))

    def call_target(self, ctx: PatchContext, rec: DynFtrace, addr: int) -> int:
        return addr  # the pair reaches +-2 GiB

    def init_nop(self, ctx: PatchContext, rec: DynFtrace) -> Steps:
        yield CodeWrite(rec.func_addr, NOP4 + NOP4, f"{rec.func}: nop; nop")

    def make_call(self, ctx: PatchContext, rec: DynFtrace, addr: int) -> Steps:
        ctx.expect(rec.func_addr, NOP4 + NOP4, rec.func)
        yield CodeWrite(rec.func_addr, self._pair(rec, addr), f"{rec.func}: auipc; jalr")

    def make_nop(self, ctx: PatchContext, rec: DynFtrace, addr: int) -> Steps:
        yield CodeWrite(rec.func_addr, NOP4 + NOP4, f"{rec.func}: nop; nop")

    def modify_call(self, ctx: PatchContext, rec: DynFtrace, old: int, new: int) -> Steps:
        ctx.expect(rec.func_addr, self._pair(rec, old), rec.func)
        yield CodeWrite(rec.func_addr, self._pair(rec, new), f"{rec.func}: auipc; jalr")

    def update_code(self, ctx: PatchContext, command) -> Steps:
        yield from ArchFtrace.update_code(self, ctx, command)  # under stop_machine


SCHEMES = {
    "v6.16-callops": RiscvV616("v6.16-callops", "callops-rvc",
                               "CALL_OPS literal, auipc at boot, JALR <-> NOP",
                               call_ops=True, runtime_defines=("FTLAB_CALL_OPS",)),
    "v6.16": RiscvV616("v6.16", "plain-rvc",
                       "auipc at boot, JALR <-> NOP, calls through ftrace_call_dest"),
    "v6.8": RiscvV68("v6.8", "plain-rvc",
                     "nop; nop <-> auipc; jalr as a pair under stop_machine (unsafe)",
                     direct_calls=True, runtime_defines=("FTLAB_MCOUNT_ADJ=8",)),
}
DEFAULT = "v6.16-callops"
# the cost lab's comparison (ftlab.bench.ftrace_ops): CALL_OPS against list ops
BENCH_CALL_OPS = "v6.16-callops"
BENCH_LIST = "v6.16"
PER_OPS_TRAMPOLINES = False
