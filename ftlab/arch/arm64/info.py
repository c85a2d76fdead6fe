"""arm64 facts: AAPCS64, the kernel's patchable entry (arch/arm64/kernel/ftrace.c)."""

import capstone
import unicorn
from unicorn import arm64_const as A

from ftlab.arch.base import ArchInfo, EntryLayout, FrameRecord, InsnClasses

REGS = {f"x{i}": getattr(A, f"UC_ARM64_REG_X{i}") for i in range(29)}
REGS["fp"] = A.UC_ARM64_REG_X29
REGS["lr"] = A.UC_ARM64_REG_X30
REGS["sp"] = A.UC_ARM64_REG_SP
REGS["pc"] = A.UC_ARM64_REG_PC
REGS["nzcv"] = A.UC_ARM64_REG_NZCV
REGS["tpidr_el1"] = A.UC_ARM64_REG_TPIDR_EL1

ARCH = ArchInfo(
    name="arm64",
    aliases=("aarch64",),
    bits=64,
    zig_target="aarch64-freestanding",
    cflags=("-mgeneral-regs-only",),  # arch/arm64/Makefile
    ram_base=0x10000000,
    uc_arch=unicorn.UC_ARCH_ARM64,
    uc_mode=unicorn.UC_MODE_ARM,
    cs_arch=capstone.CS_ARCH_ARM64,
    cs_mode=capstone.CS_MODE_ARM,
    regs=REGS,
    pc="pc",
    sp="sp",
    fp="fp",
    ra="lr",
    ret_reg="x0",
    arg_regs=("x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"),
    callee_saved=tuple(f"x{i}" for i in range(19, 29)) + ("fp",),
    percpu_reg="tpidr_el1",
    context_regs=tuple(f"x{i}" for i in range(29)) + ("fp", "lr", "sp", "pc", "nzcv"),
    frame=FrameRecord(prev_fp=0, ret=8),
    fp_setup=r"(mov x29, sp|add x29, sp, #0x[0-9a-f]+)",
    push_fp=None,
    fp_restore=r"ldp x29, x30, \[sp.*",
    ret_insn="ret",
    patch_unit=4,
    nop=(0xD503201F).to_bytes(4, "little"),
    insn_align=4,
    int32_sign_extended=False,
    atomic_write=4,
    weak_memory=True,
    shared_load=r"ldu?r x\d+, \[x(?!29)\d+.*\]",
    # Arm ARM (concurrent modification and execution): only between these is it defined
    cmodx_safe=("b", "bl", "brk", "hvc", "isb", "nop", "smc", "svc"),
    undefined_insn=(0x00000000).to_bytes(4, "little"),  # udf #0
    insns=InsnClasses(call=r"bl #0x[0-9a-f]+", indirect_call=r"blr .*", ret=r"ret",
                      trap=r"brk .*", illegal=r"udf .*"),
    rank=1,
    color="tab:orange",
    layouts={
        "callops": EntryLayout("callops", 4, 2, align=8,
                               description="4,2: an 8-byte ops literal before the function"),
        "plain": EntryLayout("plain", 2, 0, description="2: two NOPs at entry"),
    },
    default_layout="callops",
)
