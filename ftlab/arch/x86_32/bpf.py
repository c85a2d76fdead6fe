"""x86_32 BPF trampoline emitter. The kernel has none (its 32-bit JIT only calls kfuncs
through btf_func_model); this is ftlab's, after the x86_64 one and seed 002: the same ctx as
the 64-bit ISAs (one u64 slot per argument of up to 8 bytes, the return value after them from
edx:eax), arguments from eax, edx, ecx and then the stack under regparm(3). Entered by `call`
from the 5-byte site: [esp] = func+5, [esp+4] = the parent, then the stack arguments.

Helpers are C (regparm): a pointer or 32-bit value in eax, a u64 in eax:edx, a second u64
after a pointer in edx:ecx. Every call is `call rel32` (it reaches the whole address space),
so no register is needed for a target while the arguments are loaded."""

from __future__ import annotations

from ftlab.arch.x86_32 import encode as X
from ftlab.arch.x86_32.info import ARCH
from ftlab.bpf.asm import Asm
from ftlab.bpf.layout import ArgAbi, Source

ARG_REGS = ARCH.arg_regs
# regparm(3): a two-word argument without two registers left goes on the stack, and so does
# every later one (no back-filling)
ARG_ABI = ArgAbi(ARG_REGS, word=4, no_regs_after_stack=True)
SITE_LEN = 5


class Emitter:
    def __init__(self, frames: str, func: int | None = None, sizing: bool = False) -> None:
        self.frames = frames
        self.func = func
        self.scratch_slot = 0  # unused: nothing ISA-specific to keep
        # where the traced function's stack arguments start, relative to ebp
        self.args_base = {"entry": 24, "legacy": 12, "plain": 8}[frames]
        self.ret_slot = {"entry": 16, "legacy": 4, "plain": 0}[frames]  # [ebp + this] = func+5

    def prologue(self, a: Asm, size: int) -> None:
        if self.frames == "entry":
            # a frame record for the parent and one for the traced function, as on x86_64
            a.emit(X.push_mem("esp", 4) + X.push("ebp") + X.mov_reg_reg("ebp", "esp"))
            a.emit(X.push_mem("esp", 8) + X.push("ebp") + X.mov_reg_reg("ebp", "esp"))
        elif self.frames == "plain":  # kfunc style: as if called instead of the function
            a.emit(X.add_imm("esp", 4) + X.push("ebp") + X.mov_reg_reg("ebp", "esp"))
        else:
            a.emit(X.push("ebp") + X.mov_reg_reg("ebp", "esp"))
        a.emit(X.sub_imm("esp", size))

    # --- ctx slots ----------------------------------------------------------------------
    def store_reg(self, a: Asm, reg: str, off: int) -> None:
        a.emit(X.mov_store("esp", off, reg))

    def load_reg(self, a: Asm, reg: str, off: int) -> None:
        a.emit(X.mov_load(reg, "esp", off))

    def copy_entry_stack(self, a: Asm, k: int, off: int) -> None:
        """Stack word k of the traced function's arguments to [esp + off], through the
        stack (push/pop memory): every scratch register may still hold an argument."""
        a.emit(X.push_mem("ebp", self.args_base + 4 * k) + X.pop_mem("esp", off))

    def store_arg(self, a: Asm, src: Source, off: int) -> None:
        if src.reg is not None:
            self.store_reg(a, src.reg, off)
        else:
            self.copy_entry_stack(a, src.stack, off)
        if src.reg_hi is not None:
            self.store_reg(a, src.reg_hi, off + 4)
        elif src.stack_hi is not None:
            self.copy_entry_stack(a, src.stack_hi, off + 4)
        else:
            a.emit(X.mov_store_imm("esp", off + 4, 0))

    def load_arg(self, a: Asm, src: Source, off: int) -> None:
        if src.reg is not None:
            self.load_reg(a, src.reg, off)
        if src.reg_hi is not None:
            self.load_reg(a, src.reg_hi, off + 4)

    def copy_stack_args(self, a: Asm, words: int) -> None:
        for k in range(words):
            self.copy_entry_stack(a, k, 4 * k)

    def store_imm(self, a: Asm, off: int, value: int) -> None:
        a.emit(X.mov_store_imm("esp", off, value & X.MASK)
               + X.mov_store_imm("esp", off + 4, value >> 32))

    def store_func_ip(self, a: Asm, off: int) -> None:
        a.emit(X.mov_load("eax", "ebp", self.ret_slot) + X.sub_imm("eax", SITE_LEN)
               + X.mov_store("esp", off, "eax") + X.mov_store_imm("esp", off + 4, 0))

    # --- calls --------------------------------------------------------------------------
    @staticmethod
    def _call(a: Asm, addr: int) -> None:
        a.emit(X.call_rel32(a.pc, addr))

    def call(self, a: Asm, addr: int, ctx_off: int, second_from: int | None = None) -> None:
        """addr(ctx) or addr(ctx, u64 value): ctx in eax, the value in edx:ecx."""
        a.emit(X.lea("eax", "esp", ctx_off))
        if second_from is not None:
            a.emit(X.mov_load("edx", "esp", second_from)
                   + X.mov_load("ecx", "esp", second_from + 4))
        self._call(a, addr)

    def call_plain(self, a: Asm, addr: int, arg_from: int) -> None:
        """addr(value): the 8 bytes at [esp + arg_from] in eax:edx (a pointer uses eax)."""
        a.emit(X.mov_load("eax", "esp", arg_from) + X.mov_load("edx", "esp", arg_from + 4))
        self._call(a, addr)

    def call_imm(self, a: Asm, addr: int, value: int) -> None:
        a.emit(X.mov_imm32("eax", value & X.MASK) + X.mov_imm32("edx", value >> 32))
        self._call(a, addr)

    def store_ret(self, a: Asm, off: int) -> None:
        a.emit(X.mov_store("esp", off, "eax") + X.mov_store("esp", off + 4, "edx"))

    def store_ret_narrow(self, a: Asm, off: int, size: int) -> None:
        """An int result: edx is undefined, the slot's high word reads as zero (and edx too,
        as the trampoline hands the slot back to the parent)."""
        a.emit(X.mov_store_imm("esp", off + 4, 0))

    def store_prog_ret(self, a: Asm, off: int) -> None:
        """A program returns int in eax: the slot's high word is zero."""
        a.emit(X.mov_store("esp", off, "eax") + X.mov_store_imm("esp", off + 4, 0))

    def load_ret(self, a: Asm, off: int) -> None:
        a.emit(X.mov_load("eax", "esp", off) + X.mov_load("edx", "esp", off + 4))

    def branch_if_ret(self, a: Asm, label: str) -> None:
        a.emit(X.test_reg_reg("eax", "eax"))  # an fmod_ret program returns int
        a.branch(label, 6, X.jne_rel32)

    def branch_if_zero(self, a: Asm, label: str) -> None:
        a.emit(X.test_reg_reg("eax", "eax"))
        a.branch(label, 6, X.je_rel32)

    def call_orig(self, a: Asm, func: int) -> None:
        self._call(a, func + SITE_LEN)

    def call_orig_from(self, a: Asm, ip_off: int) -> None:
        """Call func+5 with func taken from the ip slot: the arguments are loaded, so the
        target is formed in memory (+5, call through it, -5), no register touched."""
        a.emit(X.add_mem_imm8("esp", ip_off, SITE_LEN) + X.call_mem("esp", ip_off)
               + X.sub_mem_imm8("esp", ip_off, SITE_LEN))

    def nop_slot(self, a: Asm) -> int:
        """A patchable slot: detach writes `jmp epilogue` here (ip_after_call)."""
        at = a.pc
        a.emit(X.NOP5)
        return at

    @staticmethod
    def jump(pc: int, target: int) -> bytes:
        return X.jmp_rel32(pc, target)

    def call_boundary(self, a: Asm, thunk: int, prog: int, ctx_off: int, cb: int) -> None:
        """ftlab_bpf_boundary(prog, ctx, cb): eax, edx, ecx."""
        a.emit(X.mov_imm32("eax", prog) + X.lea("edx", "esp", ctx_off) + X.mov_imm32("ecx", cb))
        self._call(a, thunk)

    def epilogue(self, a: Asm, size: int, skip_frame: bool) -> None:
        a.emit(X.mov_reg_reg("esp", "ebp") + X.pop("ebp"))
        if self.frames == "plain":
            if not skip_frame:  # go on into the function, the parent's return address on top
                a.emit(X.jmp_rel32(a.pc, self.func + SITE_LEN))
                return
            a.emit(X.ret())
            return
        if self.frames == "entry":
            a.emit(X.add_imm("esp", 4) + X.pop("ebp") + X.add_imm("esp", 4))
        if skip_frame:  # drop func+5: return straight to the parent with edx:eax
            a.emit(X.add_imm("esp", 4))
        a.emit(X.ret())
