"""arm64 in the race explorer: ARMv8, operationally (ftlab/explore/weak.py)."""

from ftlab.explore.weak import WeakRules

RULES = WeakRules(
    model="ARMv8 (Promising-ARM views without promises, PLDI 2019; ESOP 2020 fetch)",
    stale_loads=True,
    # ESOP 2020 / Arm ARM B2.2.5: two fetches of one location may see new then old until the
    # hart has context-synchronized after the cache maintenance completed
    refetch_old=True,
    ipi_handlers={},
    default_handler="csync",  # taking and returning from the IPI is a context synchronization
    boot=("set_cpu_online", "local_irq_enable"),
    approximates="loads in program order; no load buffering; guest stores performed at once; "
                 "one inner-shareable domain, DIC=0/IDC=0 handled by the patcher's syncs",
)


def load_address(insn, reg) -> int | None:
    """The address an `ldr` reads: [base, #imm] or a pc-relative literal."""
    import capstone.arm64 as C

    for op in insn.operands:
        if op.type == C.ARM64_OP_MEM:
            base = reg(insn.reg_name(op.mem.base)) if op.mem.base else 0
            return (base + op.mem.disp) & (2**64 - 1)
    if insn.mnemonic == "ldr" and insn.operands and insn.operands[-1].type == C.ARM64_OP_IMM:
        return insn.operands[-1].imm
    return None
