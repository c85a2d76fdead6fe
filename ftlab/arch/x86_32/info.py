"""x86-32 facts: the kernel's 32-bit build (arch/x86/Makefile: -m32 -mregparm=3
-freg-struct-return -mno-mmx -mno-sse -msoft-float, 4-byte stack alignment), the fentry
site of arch/x86/kernel/ftrace.c with the 32-bit nop5."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import capstone
import unicorn
from unicorn import x86_const as X

from ftlab.arch.base import ArchInfo, EntryLayout, FrameRecord, InsnClasses

_GPR = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp")

REGS = {n: getattr(X, f"UC_X86_REG_{n.upper()}") for n in _GPR}
REGS["eip"] = X.UC_X86_REG_EIP
REGS["eflags"] = X.UC_X86_REG_EFLAGS
REGS["gs"] = X.UC_X86_REG_GS

# regparm(3): the first three argument words in eax, edx, ecx (gcc's and clang's i386 regparm)
REGPARM = ("eax", "edx", "ecx")

# The per-CPU segment. Unicorn's UC_MODE_32 ignores FS_BASE/GS_BASE writes, so each hart gets
# its own GDT, kept in its per-CPU area's reserved words: a null descriptor, a data segment
# based at the per-CPU area that %gs selects (the 32-bit kernel's per-CPU segment,
# arch/x86/include/asm/percpu.h), and a flat 32-bit stack segment (Unicorn's reset %ss is a
# 16-bit one, which would wrap esp at 64 KiB).
GDT_OFFSET = 64  # struct ftlab_percpu.reserved (runtime.h)
PERCPU_SELECTOR = 0x08
STACK_SELECTOR = 0x10


def data_descriptor(base: int, dpl: int) -> bytes:
    """A present, writable data segment of 4 GiB (G=1, B=1) starting at `base` (SDM vol. 3,
    3.4.5 segment descriptors)."""
    access = 0x92 | (dpl << 5)
    return struct.pack("<HHBBBB", 0xFFFF, base & 0xFFFF, (base >> 16) & 0xFF, access, 0xCF,
                       (base >> 24) & 0xFF)


@dataclass(frozen=True)
class X86_32Info(ArchInfo):
    def init_hart(self, uc, percpu_addr: int) -> None:
        gdt = percpu_addr + GDT_OFFSET
        uc.mem_write(gdt, bytes(8) + data_descriptor(percpu_addr, 3) + data_descriptor(0, 0))
        uc.reg_write(X.UC_X86_REG_GDTR, (0, gdt, 23, 0))
        uc.reg_write(X.UC_X86_REG_SS, STACK_SELECTOR)
        uc.reg_write(X.UC_X86_REG_GS, PERCPU_SELECTOR)

    def entry_words(self, args: list[int], sizes: list[int]) -> list[int]:
        """regparm(3): words go to eax, edx, ecx in order; a 64-bit argument takes two
        registers if two are left, else it and every later argument go on the stack (no
        back-filling). Words 0-2 are the registers, 3-11 the stack, as runtime.c calls it."""
        regs: list[int] = []
        stack: list[int] = []
        left = len(REGPARM)
        for value, size in zip(args, sizes, strict=True):
            words = [value & 0xFFFFFFFF] if size <= 4 else [value & 0xFFFFFFFF,
                                                            (value >> 32) & 0xFFFFFFFF]
            if len(words) <= left:
                regs += words
                left -= len(words)
            else:
                left = 0
                stack += words
        return [*regs, *[0] * (len(REGPARM) - len(regs)), *stack]


ARCH = X86_32Info(
    name="x86_32",
    aliases=("i386", "x86-32", "ia32"),
    bits=32,
    trace_clocks=("x86-tsc",),  # arch/x86/include/asm/trace_clock.h: x86-32 too
    zig_target="x86-freestanding",
    # arch/x86/Makefile (CONFIG_X86_32); no SSE, so soft float; -fno-pic is in the common flags
    # -march=i686 (CONFIG_M686): cmpxchg8b makes 64-bit atomics inline instructions
    cflags=("-march=i686", "-mregparm=3", "-freg-struct-return", "-mno-mmx", "-mno-sse",
            "-msoft-float", "-mstack-alignment=4"),
    ram_base=0x10000000,
    uc_arch=unicorn.UC_ARCH_X86,
    uc_mode=unicorn.UC_MODE_32,
    cs_arch=capstone.CS_ARCH_X86,
    cs_mode=capstone.CS_MODE_32,
    regs=REGS,
    pc="eip",
    sp="esp",
    fp="ebp",
    ra=None,
    ret_reg="eax",
    arg_regs=REGPARM,
    callee_saved=("ebx", "esi", "edi", "ebp"),
    percpu_reg="gs",
    context_regs=_GPR + ("eip", "eflags"),
    frame=FrameRecord(prev_fp=0, ret=4),
    fp_setup="mov ebp, esp",
    push_fp="push ebp",
    fp_restore=r"pop ebp|leave",
    ret_insn="ret",
    patch_unit=1,
    nop=bytes.fromhex("3e8d742600"),  # the 32-bit kernel's nop5: ds lea esi, [esi + eiz]
    insn_align=1,
    int32_sign_extended=False,
    atomic_write=1,
    weak_memory=False,
    shared_load=r"mov \w+, dword ptr \[(?!e[bs]p).*\]",
    undefined_insn=bytes.fromhex("0f0b"),
    insns=InsnClasses(call=r"call 0x[0-9a-f]+", indirect_call=r"call (?!0x).*", ret=r"ret",
                      trap=r"int3", illegal=r"ud[012].*"),
    rank=3,
    color="tab:purple",
    ret_hi_reg="edx",
    layouts={
        # zig's driver refuses -fpatchable-function-entry for this target; the front end
        # takes it (it emits 66 90 66 90 90)
        "fentry": EntryLayout("fentry", 5, 0, description="one 5-byte NOP at entry",
                              cc1_patchable=True),
    },
    default_layout="fentry",
)
