"""riscv64 facts: LP64 ABI, the kernel's patchable entry (arch/riscv/Makefile, kernel/ftrace.c)."""

import capstone
import unicorn
from unicorn import riscv_const as R

from ftlab.arch.base import ArchInfo, EntryLayout, FrameRecord, InsnClasses

_ABI = ("zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1",
        "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
        "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
        "t3", "t4", "t5", "t6")

_RVC = ("-mcpu=baseline_rv64-f-d",)  # rv64imac
_NORVC = ("-mcpu=baseline_rv64-f-d-c-zca",)  # rv64ima: `-c` alone leaves Zca on

REGS = {n: getattr(R, f"UC_RISCV_REG_X{i}") for i, n in enumerate(_ABI) if i}
REGS["pc"] = R.UC_RISCV_REG_PC
REGS["mstatus"] = R.UC_RISCV_REG_MSTATUS


ARCH = ArchInfo(
    name="riscv64",
    aliases=("riscv", "rv64"),
    bits=64,
    zig_target="riscv64-freestanding",
    # the kernel builds rv64imac (no FPU in kernel code), medany, without linker relaxation
    cflags=("-mabi=lp64", "-mcmodel=medany", "-mno-relax"),
    ram_base=0x80000000,
    uc_arch=unicorn.UC_ARCH_RISCV,
    uc_mode=unicorn.UC_MODE_RISCV64,
    cs_arch=capstone.CS_ARCH_RISCV,
    cs_mode=capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC,
    regs=REGS,
    pc="pc",
    sp="sp",
    fp="s0",
    ra="ra",
    ret_reg="a0",
    arg_regs=("a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"),
    callee_saved=("s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11"),
    percpu_reg="tp",  # the kernel keeps `current` in tp; ftlab keeps the per-CPU area there
    context_regs=tuple(n for n in _ABI[1:] if n != "tp") + ("pc",),
    frame=FrameRecord(prev_fp=-16, ret=-8),
    fp_setup=r"(c\.)?(addi|addi4spn) s0, sp, -?(0x)?[0-9a-f]+|(c\.)?mv s0, sp",
    push_fp=None,
    fp_restore=r"(c\.)?ld(sp)? s0, .*",
    ret_insn=r"(c\.)?(ret|jr ra)",
    patch_unit=4,  # halved for c.nop when compressed
    nop=(0x00000013).to_bytes(4, "little"),
    insn_align=4,
    int32_sign_extended=True,
    atomic_write=4,  # Ziccif: naturally aligned 4-byte fetches are atomic
    weak_memory=True,  # RVWMO
    shared_load=r"(c\.)?ld \w+, -?(0x)?[0-9a-f]*\((?!sp|s0)\w+\)",
    undefined_insn=(0x00000000).to_bytes(4, "little"),
    insns=InsnClasses(call=r"c?\.?jal (ra, )?0x[0-9a-f]+|call .*", indirect_call=r"c?\.?jalr .*",
                      ret=r"c?\.?ret|jalr zero, 0\(ra\)", trap=r"c?\.?ebreak",
                      illegal=r"c?\.?unimp"),
    rank=2,
    color="tab:green",
    layouts={
        "callops-rvc": EntryLayout("callops-rvc", 8, 4, align=8, compressed=True, cflags=_RVC,
                                   description="8,4 compressed: ops literal in 4 c.nop before"),
        "callops": EntryLayout("callops", 4, 2, align=8,
                               cflags=_NORVC,
                               description="4,2 uncompressed: ops literal in 2 nop before"),
        "plain-rvc": EntryLayout("plain-rvc", 4, 0, align=4, compressed=True, cflags=_RVC,
                                 description="4 compressed: 4 c.nop at entry"),
        "plain": EntryLayout("plain", 2, 0, cflags=_NORVC,
                             description="2 uncompressed: 2 nop at entry"),
    },
    default_layout="callops-rvc",
    imprecise_illegal_pc=True,  # and mepc is not set either
    extra_hart_setup=(("mstatus", 3 << 13),),  # FS on, harmless for integer-only code
)
