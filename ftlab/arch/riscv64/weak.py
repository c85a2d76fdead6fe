"""riscv64 in the race explorer: RVWMO, operationally (ftlab/explore/weak.py)."""

from ftlab.explore.weak import WeakRules

RULES = WeakRules(
    model="RVWMO (Promising-RISC-V views without promises, PLDI 2019)",
    stale_loads=True,
    # Ziccif: an aligned 4-byte fetch is atomic; a hart sees new code after its own fence.i
    refetch_old=False,
    # arch/riscv/kernel/ftrace.c: ftrace_sync_ipi() is smp_rmb() only; flush_icache_all() runs
    # fence.i on every hart (arch/riscv/mm/cacheflush.c, ipi_remote_fence_i); a trap is no
    # context synchronization on riscv
    ipi_handlers={"ftrace_sync_ipi": "rmb", "flush_icache_all": "csync"},
    default_handler="csync",
    # arch/riscv/kernel/smpboot.c, smp_callin()
    boot=("riscv_ipi_enable", "set_cpu_online", "local_flush_icache_all",
          "complete(&cpu_running)", "local_irq_enable"),
    approximates="loads in program order; no load buffering; guest stores performed at once",
)


def load_address(insn, reg) -> int | None:
    """The address an `ld`/`lw` reads (capstone detail: mem base + displacement)."""
    import capstone.riscv as C

    for op in insn.operands:
        if op.type == C.RISCV_OP_MEM:
            return (reg(insn.reg_name(op.mem.base)) + op.mem.disp) & (2**64 - 1)
    return None
