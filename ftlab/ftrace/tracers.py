"""Trace instances (struct trace_array) and the tracers that register ftrace_ops on them."""

from __future__ import annotations

from ftlab.errors import FtlabError, UsageError
from ftlab.ftrace import abi
from ftlab.ftrace.core import Ftrace, FtraceOps
from ftlab.guest import abi as gabi

TRACERS = ("nop", "function", "function_graph")
# the kernel's trace_clocks[] order (kernel/trace/trace.c); an arch adds its own after them
# (ArchInfo.trace_clocks: x86-tsc). Every clock but `counter` reads the guest time
# (ftlab/ftrace/guest_time.py: retired instructions at 1 GHz).
CLOCKS = ("local", "global", "counter", "uptime", "perf", "mono", "mono_raw", "boot", "tai")


def clocks(arch) -> tuple[str, ...]:
    """The trace_clock list of `arch` (an ArchInfo)."""
    return CLOCKS + tuple(arch.trace_clocks)


def clock_id(clock: str) -> int:
    return abi.TRACE_CLOCK_COUNTER if clock == "counter" else abi.TRACE_CLOCK_LOCAL
OPTIONS = {
    "func_stack_trace": abi.TRACE_ITER_FUNC_STACK_TRACE,
    "stacktrace": abi.TRACE_ITER_STACKTRACE,
    "funcgraph-irqs": abi.TRACE_ITER_GRAPH_IRQS,
}
DEFAULT_BUFFER_KB = 1408  # the kernel's default buffer_size_kb
_TRACER_FUNCS = {"function": "function_trace_call", "function_graph": "ftrace_graph_func"}


class TraceInstance:
    """One tracing instance: its trace_array, per-CPU ring buffers and the tracer's ops."""

    def __init__(self, ftrace: Ftrace, name: str = "", buffer_kb: int = DEFAULT_BUFFER_KB,
                 clock: str = "counter") -> None:
        self.ftrace = ftrace
        self.machine = ftrace.machine
        self.name = name
        self.tracer = "nop"
        self.ops: FtraceOps | None = None
        self.filter: list[str] = []
        self.notrace: list[str] = []
        heap, mem = self.machine.heap, self.machine.mem
        self.addr = heap.alloc(abi.TA_STRUCT_SIZE)
        self.buffers: list[int] = []
        size = max(4096, buffer_kb * 1024)
        for cpu in range(gabi.MAX_CPUS):
            rb = heap.alloc(abi.RB_STRUCT_SIZE)
            data = heap.alloc(size, align=64)
            mem.set_u64(rb + abi.RB_DATA, data)
            mem.set_u64(rb + abi.RB_SIZE, size)
            mem.set_u64(self.addr + abi.TA_BUFFERS + 8 * cpu, rb)
            self.buffers.append(rb)
        self.buffer_kb = size // 1024
        self.set_clock(clock)
        self.set_tracing_on(True)

    # trace_array fields
    def _set(self, off: int, value: int) -> None:
        self.machine.mem.set_u64(self.addr + off, value)

    def _get(self, off: int) -> int:
        return self.machine.mem.u64(self.addr + off)

    def set_clock(self, clock: str) -> None:
        valid = clocks(self.machine.arch)
        if clock not in valid:
            raise UsageError(f"unknown trace clock '{clock}'; valid: {', '.join(valid)}")
        self.clock = clock
        self._set(abi.TA_CLOCK, clock_id(clock))
        self._update_guest_time()

    def _update_guest_time(self) -> None:
        """Time clocks and function_graph's durations read the guest time: keep it running
        while this instance uses one of them."""
        from ftlab.ftrace.guest_time import guest_time

        needed = getattr(self, "clock", "counter") != "counter" or (
            getattr(self, "tracer", "nop") == "function_graph")
        gt = getattr(self.machine, "guest_time", None)
        if needed or gt is not None:
            guest_time(self.machine).use(self, needed)

    def set_tracing_on(self, on: bool) -> None:
        self._set(abi.TA_TRACING_ON, 1 if on else 0)

    @property
    def tracing_on(self) -> bool:
        return bool(self._get(abi.TA_TRACING_ON))

    def set_option(self, name: str, on: bool = True) -> None:
        if name not in OPTIONS:
            raise UsageError(f"unknown trace option '{name}'; valid: {', '.join(OPTIONS)}")
        flags = self._get(abi.TA_FLAGS)
        self._set(abi.TA_FLAGS, flags | OPTIONS[name] if on else flags & ~OPTIONS[name])

    def option(self, name: str) -> bool:
        return bool(self._get(abi.TA_FLAGS) & OPTIONS[name])

    def set_max_graph_depth(self, depth: int) -> None:
        self._set(abi.TA_MAX_GRAPH_DEPTH, depth)

    def set_pid_filter(self, pid: int) -> None:
        self._set(abi.TA_PID_FILTER, pid)

    def make_printk_target(self) -> None:
        """trace_printk() writes into this instance (the kernel's top-level instance)."""
        self.machine.mem.set_u64(self.machine.image.addr("ftlab_printk_tr"), self.addr)

    # filters
    def set_filter(self, patterns: list[str], append: bool = False, notrace: bool = False) -> None:
        ops = self._ops_for_filters()
        self.ftrace.set_filter(ops, patterns, append=append, notrace=notrace)
        if notrace:
            self.notrace = sorted(ops.notrace)
        else:
            self.filter = sorted(ops.filter or ())

    def _ops_for_filters(self) -> FtraceOps:
        if self.ops is None:
            # the instance's ops exist before a tracer is set, as tr->ops does
            self.ops = self.ftrace.new_ops(f"{self.name or 'top'}-ops", "ftrace_stub",
                                           private=self.addr)
        return self.ops

    # the tracer
    def set_tracer(self, tracer: str) -> None:
        if tracer not in TRACERS:
            raise UsageError(f"unknown tracer '{tracer}'; valid: {', '.join(TRACERS)}")
        if tracer == self.tracer:
            return
        ops = self._ops_for_filters()
        if ops.registered:
            self.ftrace.unregister(ops)
        self.tracer = tracer
        self._update_guest_time()
        if tracer == "nop":
            return
        ops.func = self.machine.image.addr(_TRACER_FUNCS[tracer])
        self.machine.mem.set_u64(ops.addr + abi.OPS_FUNC, ops.func)
        self.ftrace.register(ops)

    def reset(self) -> None:
        """Clear the buffers (opening `trace` with O_TRUNC)."""
        mem = self.machine.mem
        for rb in self.buffers:
            head = mem.u64(rb + abi.RB_HEAD)
            if mem.u64(rb + abi.RB_NEST):
                raise FtlabError("a writer is in progress; reset the buffer between runs")
            for off in (abi.RB_TAIL, abi.RB_READ):
                mem.set_u64(rb + off, head)
            mem.set_u64(rb + abi.RB_ENTRIES, 0)
            mem.set_u64(rb + abi.RB_OVERRUN, 0)
