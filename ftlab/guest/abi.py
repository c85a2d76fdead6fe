"""Layouts shared with the guest runtime (include/ftlab/runtime.h, checked there by
_Static_assert), and where the machine puts stacks."""

TASK_SIZE = 184
TASK_PID = 0
TASK_COMM = 8
TASK_ENTRY = 24
TASK_ARGS = 32
TASK_ARGS_SIZE = 48  # u64 args[6]
TASK_ITERATIONS = 80
TASK_RESULT = 88
TASK_CPU = 96
TASK_STACK_TOP = 104
TASK_DONE_ITERS = 112
TASK_TRACER = 120
TASK_RCU_QS = TASK_TRACER + 8 * 4  # quiescent states passed (cond_resched)

PERCPU_SIZE = 128
PERCPU_SELF = 0
PERCPU_CPU = 8
PERCPU_CURRENT = 16
PERCPU_IRQ_DEPTH = 24
PERCPU_NEED_RESCHED = 32
PERCPU_ONLINE = 40
PERCPU_PREEMPT_COUNT = 48
PERCPU_IRQS_OFF = 56

MAX_TASKS = 64
MAX_CPUS = 16

MCALL_EXIT = 0
MCALL_YIELD = 1
MCALL_IRQ_RETURN = 2
MCALL_PUTS = 3
MCALL_BUG = 4
MCALL_DUMP_STACK = 5

# Guest RAM, relative to the arch's ram_base: the image first, then per-task and per-hart stacks.
RAM_SIZE = 256 << 20
IMAGE_LIMIT = 96 << 20  # the image (and later trampolines) must end below this
TRAMP_AREA = IMAGE_LIMIT  # generated code (trampolines) lives here: 32 MiB
TRAMP_AREA_SIZE = 32 << 20
STACK_AREA = 128 << 20
STACK_SIZE = 256 << 10
RET_STACK_SIZE = 4 << 10  # function_graph return stack, at the bottom of each task's stack
HEAP_AREA = 160 << 20  # control-plane allocations (ops, hashes, ring buffers) up to RAM_SIZE

# Guard pages: left unmapped in every hart, so running off a stack (or off the trampoline area)
# faults at once instead of overwriting a neighbour. A task's stack slot, from its bottom:
# guard | function_graph return stack | guard | the stack proper, growing down from the top.
PAGE = 4096
RET_STACK_OFFSET = PAGE
STACK_GUARD_OFFSETS = (0, PAGE + RET_STACK_SIZE)
TRAMP_GUARDS = (TRAMP_AREA - PAGE, TRAMP_AREA + TRAMP_AREA_SIZE - PAGE)


def guard_pages() -> list[int]:
    """Offsets (from ram_base) of every guard page."""
    stacks = [STACK_AREA + i * STACK_SIZE + g for i in range(MAX_TASKS)
              for g in STACK_GUARD_OFFSETS]
    return sorted([*TRAMP_GUARDS, *stacks])
