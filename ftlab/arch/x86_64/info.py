"""x86-64 facts: System V ABI, the kernel's fentry site (arch/x86/kernel/ftrace.c)."""

import capstone
import unicorn
from unicorn import x86_const as X

from ftlab.arch.base import ArchInfo, EntryLayout, FrameRecord, InsnClasses

_GPR = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")

REGS = {n: getattr(X, f"UC_X86_REG_{n.upper()}") for n in _GPR}
REGS["rip"] = X.UC_X86_REG_RIP
REGS["rflags"] = X.UC_X86_REG_RFLAGS
REGS["gs_base"] = X.UC_X86_REG_GS_BASE

ARCH = ArchInfo(
    name="x86_64",
    trace_clocks=("x86-tsc",),  # arch/x86/include/asm/trace_clock.h ARCH_TRACE_CLOCKS
    aliases=("x86-64", "amd64"),
    bits=64,
    zig_target="x86_64-freestanding",
    # arch/x86/Makefile: no red zone, no FPU/SIMD in kernel code
    cflags=("-mno-red-zone", "-mno-sse", "-mno-sse2", "-mno-mmx", "-mno-avx"),
    ram_base=0x10000000,
    uc_arch=unicorn.UC_ARCH_X86,
    uc_mode=unicorn.UC_MODE_64,
    cs_arch=capstone.CS_ARCH_X86,
    cs_mode=capstone.CS_MODE_64,
    regs=REGS,
    pc="rip",
    sp="rsp",
    fp="rbp",
    ra=None,
    ret_reg="rax",
    arg_regs=("rdi", "rsi", "rdx", "rcx", "r8", "r9"),
    callee_saved=("rbx", "rbp", "r12", "r13", "r14", "r15"),
    percpu_reg="gs_base",
    context_regs=_GPR + ("rip", "rflags"),
    frame=FrameRecord(prev_fp=0, ret=8),
    fp_setup="mov rbp, rsp",
    push_fp="push rbp",
    fp_restore=r"pop rbp|leave",
    ret_insn="ret",
    patch_unit=1,
    nop=bytes.fromhex("0f1f440000"),  # the kernel's nop5 (x86_nops[5])
    insn_align=1,
    int32_sign_extended=False,
    atomic_write=1,  # a 5-byte instruction written in place may be fetched torn
    weak_memory=False,  # TSO: stores become visible in order
    shared_load=r"mov \w+, qword ptr \[rip.*\]",
    undefined_insn=bytes.fromhex("0f0b"),
    insns=InsnClasses(call=r"call 0x[0-9a-f]+", indirect_call=r"call (?!0x).*", ret=r"ret",
                      trap=r"int3", illegal=r"ud[012].*"),
    rank=0,
    color="tab:blue",
    layouts={
        "fentry": EntryLayout("fentry", 5, 0, description="one 5-byte NOP at entry"),
    },
    default_layout="fentry",
)
