"""x86_64 BPF trampoline emitter (arch/x86/net/bpf_jit_comp.c, __arch_prepare_bpf_trampoline):
entered by `call` from the 5-byte site, so [rsp] = func+5 and [rsp+8] = the parent."""

from __future__ import annotations

from ftlab.arch.x86_64 import encode as X
from ftlab.arch.x86_64.info import ARCH
from ftlab.bpf.asm import Asm
from ftlab.bpf.emitter import EmitterBase
from ftlab.bpf.layout import ArgAbi

ARG_REGS = ARCH.arg_regs
ARG_ABI = ArgAbi(ARG_REGS)
SITE_LEN = 5  # the traced function continues at func + 5
PUSH_RSP_8 = bytes.fromhex("ff742408")  # push qword ptr [rsp + 8]
PUSH_RSP_16 = bytes.fromhex("ff742410")  # push qword ptr [rsp + 16]


class Emitter(EmitterBase):
    def __init__(self, frames: str, func: int | None = None, sizing: bool = False) -> None:
        # movabs is always 10 bytes: a sizing run (arch_bpf_trampoline_size) changes nothing
        self.frames = frames
        self.func = func
        self.scratch_slot = 0  # unused: nothing ISA-specific to keep
        # where the traced function's stack arguments start, relative to rbp
        self.args_base = {"entry": 48, "legacy": 24, "plain": 16}[frames]
        self.ret_slot = {"entry": 32, "legacy": 8, "plain": 0}[frames]  # [rbp + this] = func+5

    def prologue(self, a: Asm, size: int) -> None:
        if self.frames == "entry":
            # a frame record for the parent and one for the traced function (seed 000);
            # ftlab unwinds by frame pointers, so x86 gets the parent frame too
            a.emit(PUSH_RSP_8 + X.push("rbp") + X.mov_reg_reg("rbp", "rsp"))
            a.emit(PUSH_RSP_16 + X.push("rbp") + X.mov_reg_reg("rbp", "rsp"))
            a.emit(X.sub_imm("rsp", size))
        elif self.frames == "plain":  # kfunc style: as if called instead of the function
            a.emit(X.add_imm("rsp", 8))  # drop the link into the traced function
            a.emit(X.push("rbp") + X.mov_reg_reg("rbp", "rsp") + X.sub_imm("rsp", size))
        else:  # the kernel's own x86 frame: one record, the parent is lost to fp unwinding
            a.emit(X.push("rbp") + X.mov_reg_reg("rbp", "rsp") + X.sub_imm("rsp", size + 8))

    def store_reg(self, a: Asm, reg: str, off: int) -> None:
        a.emit(X.mov_store("rsp", off, reg))

    def load_reg(self, a: Asm, reg: str, off: int) -> None:
        a.emit(X.mov_load(reg, "rsp", off))

    def copy_entry_stack(self, a: Asm, k: int, off: int) -> None:
        a.emit(X.mov_load("rax", "rbp", self.args_base + 8 * k) + X.mov_store("rsp", off, "rax"))

    def store_imm(self, a: Asm, off: int, value: int) -> None:
        a.emit(X.mov_imm64("rax", value) + X.mov_store("rsp", off, "rax"))

    def store_func_ip(self, a: Asm, off: int) -> None:
        a.emit(X.mov_load("rax", "rbp", self.ret_slot) + X.sub_imm("rax", SITE_LEN)
               + X.mov_store("rsp", off, "rax"))

    def call(self, a: Asm, addr: int, ctx_off: int, second_from: int | None = None) -> None:
        a.emit(X.lea("rdi", "rsp", ctx_off))
        if second_from is not None:
            a.emit(X.mov_load("rsi", "rsp", second_from))
        a.emit(X.mov_imm64("rax", addr) + X.call_reg("rax"))

    def call_plain(self, a: Asm, addr: int, arg_from: int) -> None:
        """rdi = [rsp + arg_from]; call addr (a C helper taking one value)."""
        a.emit(X.mov_load("rdi", "rsp", arg_from) + X.mov_imm64("rax", addr) + X.call_reg("rax"))

    def store_ret(self, a: Asm, off: int) -> None:
        a.emit(X.mov_store("rsp", off, "rax"))

    def load_ret(self, a: Asm, off: int) -> None:
        a.emit(X.mov_load("rax", "rsp", off))

    def branch_if_ret(self, a: Asm, label: str) -> None:
        a.emit(X.test_reg_reg("rax", "rax"))
        a.branch(label, 6, X.jne_rel32)

    def branch_if_zero(self, a: Asm, label: str) -> None:
        a.emit(X.test_reg_reg("rax", "rax"))
        a.branch(label, 6, X.je_rel32)

    def call_orig(self, a: Asm, func: int) -> None:
        a.emit(X.mov_imm64("r11", func + SITE_LEN) + X.call_reg("r11"))

    def call_orig_from(self, a: Asm, ip_off: int) -> None:
        a.emit(X.mov_load("r11", "rsp", ip_off) + X.add_imm("r11", SITE_LEN) + X.call_reg("r11"))

    def call_imm(self, a: Asm, addr: int, value: int) -> None:
        a.emit(X.mov_imm64("rdi", value) + X.mov_imm64("rax", addr) + X.call_reg("rax"))

    def nop_slot(self, a: Asm) -> int:
        """A patchable slot: detach writes `jmp epilogue` here (ip_after_call)."""
        at = a.pc
        a.emit(X.NOP5)
        return at

    @staticmethod
    def jump(pc: int, target: int) -> bytes:
        return X.jmp_rel32(pc, target)

    def call_boundary(self, a: Asm, thunk: int, prog: int, ctx_off: int, cb: int) -> None:
        a.emit(X.mov_imm64("rdi", prog) + X.lea("rsi", "rsp", ctx_off) + X.mov_imm64("rdx", cb)
               + X.mov_imm64("rax", thunk) + X.call_reg("rax"))

    def epilogue(self, a: Asm, size: int, skip_frame: bool) -> None:
        a.emit(X.mov_reg_reg("rsp", "rbp") + X.pop("rbp"))
        if self.frames == "plain":
            if not skip_frame:  # go on into the function, the parent's return address on top
                a.emit(X.mov_imm64("r11", self.func + SITE_LEN) + X.jmp_reg("r11"))
                return
            a.emit(X.ret())
            return
        if self.frames == "entry":
            a.emit(X.add_imm("rsp", 8) + X.pop("rbp") + X.add_imm("rsp", 8))
        if skip_frame:  # drop func+5: return straight to the parent with rax
            a.emit(X.add_imm("rsp", 8))
        a.emit(X.ret())
