"""x86_64 in the race explorer: x86-TSO (Owens, Sarkar, Sewell 2009), operationally."""

from ftlab.explore.weak import WeakRules

RULES = WeakRules(
    model="x86-TSO (FIFO store buffers, Owens-Sarkar-Sewell 2009)",
    stale_loads=False,  # every read returns the latest message: only store buffers are weak
    refetch_old=False,  # SDM Vol. 3 8.1.3: after the serializing sync_core() IPI, new code only
    ipi_handlers={},
    default_handler="csync",  # do_sync_core(): a serializing instruction
    boot=("set_cpu_online", "local_irq_enable"),
    approximates="harts' own guest stores performed at once (the patcher's are buffered)",
)


def load_address(insn, reg) -> int | None:
    return None  # TSO: no read choice, so the address is never needed
