"""arm64 ftrace (arch/arm64/kernel/ftrace.c): `mov x9, x30` at func+0 written once at boot,
func+4 swings NOP <-> `bl`; with CALL_OPS an 8-byte ops literal sits before the function."""

from __future__ import annotations

from ftlab.arch.arm64 import encode as A
from ftlab.ftrace.arch_ops import ArchFtrace, PatchContext
from ftlab.ftrace.core import DynFtrace
from ftlab.ftrace.steps import CodeWrite, Steps, u64
from ftlab.guest.loader import PatchSite

MOV_X9_X30 = A.mov_reg("x9", "x30")
NOP = A.nop()


class Arm64Ftrace(ArchFtrace):
    def rec_ip(self, site: PatchSite) -> int:
        return site.func_addr + 4  # the BL slot (no BTI in ftlab's build)

    def null_trampoline(self, addr: int) -> bytes:
        """A direct trampoline that only returns into the traced function."""
        return A.mov_reg("x10", "x30") + A.mov_reg("x30", "x9") + A.ret("x10")

    def _literal_addr(self, rec: DynFtrace) -> int:
        return (rec.ip & ~7) - 8  # two NOPs before the 8-byte aligned function

    def set_ops_literal(self, ctx: PatchContext, rec: DynFtrace, ops_addr: int) -> Steps:
        if self.call_ops:
            yield CodeWrite(self._literal_addr(rec), u64(ops_addr), f"{rec.func} ops literal")

    def call_target(self, ctx: PatchContext, rec: DynFtrace, addr: int) -> int:
        # ftrace_find_callable_addr(): an unreachable trampoline goes through ftrace_caller,
        # which finds the direct call in the ops literal
        return addr if A.in_reach(rec.ip, addr) else ctx.sym("ftrace_caller")

    def init_nop(self, ctx: PatchContext, rec: DynFtrace) -> Steps:
        yield from self.set_ops_literal(ctx, rec, rec.want_ops)
        ctx.expect(rec.func_addr, NOP, "compiled NOP")
        yield CodeWrite(rec.func_addr, MOV_X9_X30, f"{rec.func}: mov x9, x30")

    def make_call(self, ctx: PatchContext, rec: DynFtrace, addr: int) -> Steps:
        yield from self.set_ops_literal(ctx, rec, rec.want_ops)
        ctx.expect(rec.ip, NOP, rec.func)
        yield CodeWrite(rec.ip, A.bl(rec.ip, addr), f"{rec.func}: bl")

    def make_nop(self, ctx: PatchContext, rec: DynFtrace, addr: int) -> Steps:
        yield from self.set_ops_literal(ctx, rec, rec.want_ops)
        ctx.expect(rec.ip, A.bl(rec.ip, addr), rec.func)
        yield CodeWrite(rec.ip, NOP, f"{rec.func}: nop")

    def modify_call(self, ctx: PatchContext, rec: DynFtrace, old: int, new: int) -> Steps:
        yield from self.set_ops_literal(ctx, rec, rec.want_ops)
        ctx.expect(rec.ip, A.bl(rec.ip, old), rec.func)
        if old != new:
            yield CodeWrite(rec.ip, A.bl(rec.ip, new), f"{rec.func}: bl")

    def update_ftrace_func(self, ctx: PatchContext, func: int) -> Steps:
        if self.call_ops:
            return  # each site names its ops: no global function to update
        site = ctx.sym("ftrace_call")
        cur = ctx.read(site, 4)
        ctx.expect(site, cur, "ftrace_call")
        yield CodeWrite(site, A.bl(site, func), "ftrace_call")

    def update_code(self, ctx: PatchContext, command) -> Steps:
        # arm64's arch_ftrace_update_code: FTRACE_MAY_SLEEP, no stop_machine
        yield from command()


class Arm64TwoInsnFtrace(Arm64Ftrace):
    """Both entry NOPs written at enable time (no `mov x9, x30` at boot): for the explorer."""

    def init_nop(self, ctx: PatchContext, rec: DynFtrace) -> Steps:
        yield from self.set_ops_literal(ctx, rec, rec.want_ops)

    def make_call(self, ctx: PatchContext, rec: DynFtrace, addr: int) -> Steps:
        yield from self.set_ops_literal(ctx, rec, rec.want_ops)
        ctx.expect(rec.func_addr, NOP, rec.func)
        yield CodeWrite(rec.func_addr, MOV_X9_X30, f"{rec.func}: mov x9, x30")
        ctx.expect(rec.ip, NOP, rec.func)
        yield CodeWrite(rec.ip, A.bl(rec.ip, addr), f"{rec.func}: bl")

    def make_nop(self, ctx: PatchContext, rec: DynFtrace, addr: int) -> Steps:
        yield from self.set_ops_literal(ctx, rec, rec.want_ops)
        ctx.expect(rec.ip, A.bl(rec.ip, addr), rec.func)
        yield CodeWrite(rec.ip, NOP, f"{rec.func}: nop")
        yield CodeWrite(rec.func_addr, NOP, f"{rec.func}: nop")


SCHEMES = {
    "callops": Arm64Ftrace("callops", "callops", "CALL_OPS: per-site ops literal, NOP <-> BL",
                           call_ops=True, runtime_defines=("FTLAB_CALL_OPS",)),
    "nocallops": Arm64Ftrace("nocallops", "plain",
                             "no literal: function_trace_op and a patched ftrace_call",
                             direct_calls=False),
    "twoinsn": Arm64TwoInsnFtrace("twoinsn", "callops",
                                  "mov x9, x30 and bl both written at enable time (unsafe)",
                                  call_ops=True, runtime_defines=("FTLAB_CALL_OPS",)),
}
DEFAULT = "callops"
# the cost lab's comparison (ftlab.bench.ftrace_ops): CALL_OPS against list ops
BENCH_CALL_OPS = "callops"
BENCH_LIST = "nocallops"
PER_OPS_TRAMPOLINES = False
