"""riscv64 BPF trampoline emitter (arch/riscv/net/bpf_jit_comp64.c, seed 000's frames):
entered by `jalr t0` from func+4, so t0 = func+8 and ra = the parent."""

from __future__ import annotations

from ftlab.arch.riscv64 import encode as R
from ftlab.arch.riscv64.info import ARCH
from ftlab.bpf.asm import Asm
from ftlab.bpf.emitter import EmitterBase
from ftlab.bpf.layout import ArgAbi

ARG_REGS = ARCH.arg_regs
# LP64: a 2*XLEN argument with one register left is split with the stack; the psABI's aligned
# (even) register pair is for variadic arguments only, and variadic functions are refused
ARG_ABI = ArgAbi(ARG_REGS, split_pairs=True)
SITE_LEN = 8  # auipc t0; jalr t0
IMM_MAX = 32  # lui/addiw/slli/addi: a 64-bit constant takes at most 8 instructions


class Emitter(EmitterBase):
    def __init__(self, frames: str, func: int | None = None, sizing: bool = False) -> None:
        self.frames = frames
        self.func = func
        self.scratch_slot = 0  # unused: nothing ISA-specific to keep
        self.sizing = sizing  # arch_bpf_trampoline_size: every constant at its longest
        self.args_base = 0 if frames == "plain" else 16  # the entry sp, relative to s0

    def prologue(self, a: Asm, size: int) -> None:
        if self.frames == "plain":  # kfunc style: one ordinary frame, t0 ignored
            a.emit(R.addi("sp", "sp", -16) + R.sd("ra", "sp", 8) + R.sd("s0", "sp", 0))
            a.emit(R.addi("s0", "sp", 16) + R.addi("sp", "sp", -size))
            return
        a.emit(R.addi("sp", "sp", -32))
        if self.frames == "entry":
            # FP+8 parent RA, FP+0 parent FP; FP-8 RA into the traced function, FP-16 its FP
            a.emit(R.sd("ra", "sp", 24) + R.sd("s0", "sp", 16) + R.sd("t0", "sp", 8))
            a.emit(R.addi("t1", "sp", 32) + R.sd("t1", "sp", 0))
        else:  # pre-fix: one record; the parent's frame is not linked (it vanishes)
            a.emit(R.sd("ra", "sp", 24) + R.sd("t0", "sp", 8) + R.sd("s0", "sp", 0))
        a.emit(R.addi("s0", "sp", 16) + R.addi("sp", "sp", -size))

    def imm(self, reg: str, value: int) -> bytes:
        code = R.li(reg, value)
        assert len(code) <= IMM_MAX
        return code + R.nop() * ((IMM_MAX - len(code)) // 4) if self.sizing else code

    def store_reg(self, a: Asm, reg: str, off: int) -> None:
        a.emit(R.sd(reg, "sp", off))

    def load_reg(self, a: Asm, reg: str, off: int) -> None:
        a.emit(R.ld(reg, "sp", off))

    def copy_entry_stack(self, a: Asm, k: int, off: int) -> None:
        a.emit(R.ld("t1", "s0", self.args_base + 8 * k) + R.sd("t1", "sp", off))

    def store_imm(self, a: Asm, off: int, value: int) -> None:
        a.emit(self.imm("t1", value) + R.sd("t1", "sp", off))

    def store_func_ip(self, a: Asm, off: int) -> None:
        a.emit(R.ld("t1", "s0", -8) + R.addi("t1", "t1", -SITE_LEN) + R.sd("t1", "sp", off))

    def call(self, a: Asm, addr: int, ctx_off: int, second_from: int | None = None) -> None:
        a.emit(R.addi("a0", "sp", ctx_off))
        if second_from is not None:
            a.emit(R.ld("a1", "sp", second_from))
        a.emit(self.imm("t1", addr) + R.jalr("ra", "t1", 0))

    def call_plain(self, a: Asm, addr: int, arg_from: int) -> None:
        a.emit(R.ld("a0", "sp", arg_from) + self.imm("t1", addr) + R.jalr("ra", "t1", 0))

    def store_ret(self, a: Asm, off: int) -> None:
        a.emit(R.sd("a0", "sp", off))

    def load_ret(self, a: Asm, off: int) -> None:
        a.emit(R.ld("a0", "sp", off))

    def branch_if_ret(self, a: Asm, label: str) -> None:
        a.branch(label, 4, lambda pc, target: R.bnez("a0", pc, target))

    def branch_if_zero(self, a: Asm, label: str) -> None:
        a.branch(label, 4, lambda pc, target: R.beqz("a0", pc, target))

    def call_orig(self, a: Asm, func: int) -> None:
        a.emit(self.imm("t1", func + SITE_LEN) + R.jalr("ra", "t1", 0))

    def call_orig_from(self, a: Asm, ip_off: int) -> None:
        a.emit(R.ld("t1", "sp", ip_off) + R.addi("t1", "t1", SITE_LEN) + R.jalr("ra", "t1", 0))

    def call_imm(self, a: Asm, addr: int, value: int) -> None:
        a.emit(self.imm("a0", value) + self.imm("t1", addr) + R.jalr("ra", "t1", 0))

    def nop_slot(self, a: Asm) -> int:
        at = a.pc
        a.emit(R.nop())
        return at

    @staticmethod
    def jump(pc: int, target: int) -> bytes:
        return R.j(pc, target)

    def call_boundary(self, a: Asm, thunk: int, prog: int, ctx_off: int, cb: int) -> None:
        a.emit(self.imm("a0", prog) + R.addi("a1", "sp", ctx_off) + self.imm("a2", cb)
               + self.imm("t1", thunk) + R.jalr("ra", "t1", 0))

    def epilogue(self, a: Asm, size: int, skip_frame: bool) -> None:
        a.emit(R.addi("sp", "sp", size))
        if self.frames == "plain":
            a.emit(R.ld("ra", "sp", 8) + R.ld("s0", "sp", 0) + R.addi("sp", "sp", 16))
            if skip_frame:
                a.emit(R.jalr("zero", "ra", 0))
            else:
                a.emit(self.imm("t1", self.func + SITE_LEN) + R.jalr("zero", "t1", 0))
            return
        a.emit(R.ld("ra", "sp", 24) + R.ld("t0", "sp", 8))
        a.emit(R.ld("s0", "sp", 16 if self.frames == "entry" else 0))
        a.emit(R.addi("sp", "sp", 32))
        a.emit(R.jalr("zero", "ra" if skip_frame else "t0", 0))
