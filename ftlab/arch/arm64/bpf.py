"""arm64 BPF trampoline emitter (arch/arm64/net/bpf_jit_comp.c): entered from func+4 after
`mov x9, x30`, so x9 = the parent and x30 = func+8; x0 is argument 0 and the return value."""

from __future__ import annotations

from ftlab.arch.arm64 import encode as A
from ftlab.arch.arm64.info import ARCH
from ftlab.bpf.asm import Asm
from ftlab.bpf.emitter import EmitterBase
from ftlab.bpf.layout import ArgAbi

ARG_REGS = ARCH.arg_regs
# AAPCS64 C.10/C.13/C.14, with clang's "unadjusted" alignment for structs (checked against
# clang's own calls: an aligned(16) struct of two longs takes any pair and an 8-byte slot)
ARG_ABI = ArgAbi(ARG_REGS, no_regs_after_stack=True, even_pairs=True, unadjusted_align=True)
SITE_LEN = 8  # mov x9, x30; bl
IMM_MAX = 16  # movz + 3 movk: the longest constant load


class Emitter(EmitterBase):
    def __init__(self, frames: str, func: int | None = None, sizing: bool = False) -> None:
        self.frames = frames
        self.func = func
        self.sizing = sizing  # arch_bpf_trampoline_size: every constant at its longest
        self.args_base = {"entry": 32, "legacy": 16, "plain": 16}[frames]  # entry sp - x29
        self.scratch_slot = 0  # set by the builder: where x9 (the parent) is kept

    def prologue(self, a: Asm, size: int) -> None:
        if self.frames == "entry":
            # (FP, x9) then (FP, LR): the parent and the traced function both unwind
            a.emit(A.stp("x29", "x9", "sp", -16, index="pre") + A.add_imm("x29", "sp", 0))
        elif self.frames == "plain":  # kfunc style: as if called instead of the function
            a.emit(A.mov_reg("x30", "x9"))
        a.emit(A.stp("x29", "x30", "sp", -16, index="pre") + A.add_imm("x29", "sp", 0))
        a.emit(A.sub_imm("sp", "sp", size))
        a.emit(A.str_imm("x9", "sp", self.scratch_slot))

    def imm(self, reg: str, value: int) -> bytes:
        code = A.mov_imm64(reg, value)
        assert len(code) <= IMM_MAX
        return code + A.nop() * ((IMM_MAX - len(code)) // 4) if self.sizing else code

    def store_reg(self, a: Asm, reg: str, off: int) -> None:
        a.emit(A.str_imm(reg, "sp", off))

    def load_reg(self, a: Asm, reg: str, off: int) -> None:
        a.emit(A.ldr_imm(reg, "sp", off))

    def copy_entry_stack(self, a: Asm, k: int, off: int) -> None:
        a.emit(A.ldr_imm("x10", "x29", self.args_base + 8 * k) + A.str_imm("x10", "sp", off))

    def store_imm(self, a: Asm, off: int, value: int) -> None:
        a.emit(self.imm("x10", value) + A.str_imm("x10", "sp", off))

    def store_func_ip(self, a: Asm, off: int) -> None:
        a.emit(A.ldr_imm("x10", "x29", 8) + A.sub_imm("x10", "x10", SITE_LEN)
               + A.str_imm("x10", "sp", off))

    def call(self, a: Asm, addr: int, ctx_off: int, second_from: int | None = None) -> None:
        a.emit(A.add_imm("x0", "sp", ctx_off))
        if second_from is not None:
            a.emit(A.ldr_imm("x1", "sp", second_from))
        a.emit(self.imm("x16", addr) + A.blr("x16"))

    def call_plain(self, a: Asm, addr: int, arg_from: int) -> None:
        a.emit(A.ldr_imm("x0", "sp", arg_from) + self.imm("x16", addr) + A.blr("x16"))

    def store_ret(self, a: Asm, off: int) -> None:
        a.emit(A.str_imm("x0", "sp", off))

    def load_ret(self, a: Asm, off: int) -> None:
        a.emit(A.ldr_imm("x0", "sp", off))

    def branch_if_ret(self, a: Asm, label: str) -> None:
        a.branch(label, 4, lambda pc, target: A.cbnz("x0", pc, target))

    def branch_if_zero(self, a: Asm, label: str) -> None:
        a.branch(label, 4, lambda pc, target: A.cbz("x0", pc, target))

    def call_orig(self, a: Asm, func: int) -> None:
        a.emit(self.imm("x16", func + SITE_LEN) + A.blr("x16"))

    def call_orig_from(self, a: Asm, ip_off: int) -> None:
        a.emit(A.ldr_imm("x16", "sp", ip_off) + A.add_imm("x16", "x16", SITE_LEN) + A.blr("x16"))

    def call_imm(self, a: Asm, addr: int, value: int) -> None:
        a.emit(self.imm("x0", value) + self.imm("x16", addr) + A.blr("x16"))

    def nop_slot(self, a: Asm) -> int:
        at = a.pc
        a.emit(A.nop())
        return at

    @staticmethod
    def jump(pc: int, target: int) -> bytes:
        return A.b(pc, target)

    def call_boundary(self, a: Asm, thunk: int, prog: int, ctx_off: int, cb: int) -> None:
        a.emit(self.imm("x0", prog) + A.add_imm("x1", "sp", ctx_off) + self.imm("x2", cb)
               + self.imm("x16", thunk) + A.blr("x16"))

    def epilogue(self, a: Asm, size: int, skip_frame: bool) -> None:
        a.emit(A.ldr_imm("x9", "sp", self.scratch_slot))
        a.emit(A.add_imm("sp", "sp", size))
        a.emit(A.ldp("x29", "x30", "sp", 16, index="post"))
        if self.frames == "plain":
            if skip_frame:
                a.emit(A.ret("x30"))
            else:  # on into the function, x30 the parent's return address
                a.emit(self.imm("x16", self.func + SITE_LEN) + A.br("x16"))
            return
        if self.frames == "entry":
            a.emit(A.ldp("x29", "x9", "sp", 16, index="post"))
        if skip_frame:  # return to the parent with x0 (reloaded from the return slot)
            a.emit(A.mov_reg("x30", "x9") + A.ret("x30"))
        else:  # go on into the traced function, the parent back in x30
            a.emit(A.mov_reg("x10", "x30") + A.mov_reg("x30", "x9") + A.ret("x10"))
