"""The per-call cost benchmark of the kernel's samples/ftrace/ftrace-ops.c, on ftlab's harts.

The kernel sample registers `nr_ops_relevant` ftrace_ops with the empty callback ops_func_nop
on `tracee_relevant`, `nr_ops_irrelevant` more on `tracee_irrelevant`, then times a loop of calls
to `tracee_relevant`. Here the guest (guests/ftrace_ops.c) is `bench_loop(n)`, calling
`bench_target` n times; the irrelevant ops filter on `bench_other`, which the loop never calls.

Configurations per (arch, scheme):

  untraced         no ops registered (the sites in their disabled form, as after boot)
  ops              R relevant ops on bench_target, K irrelevant ops on bench_other, all with
                   ops_func_nop (R = 0 leaves bench_target untraced: irrelevant ops alone)
  function-tracer  a trace instance with set_ftrace_filter=bench_target, current_tracer=function,
                   its ring buffer in overwrite mode (measured once it has wrapped)
  direct           one direct ops on bench_target calling ftlab_direct_tramp

Two measures per configuration:

  instructions     exact and deterministic: runs with a UC_HOOK_BLOCK hook adding each block's
                   instruction count (capstone, cached per (address, size)); one hart, one task,
                   one time slice, so no slice ends inside a block (a block cut short would still
                   be un-counted). The count of bench_loop(n2) minus that of bench_loop(n1),
                   over n2 - n1: instructions per loop iteration, fixed costs cancelled.
  ns               wall time of Scheduler.run() without hooks on a calibrated n (one run about
                   `target` seconds), best of `repeat`, minus the best of the same at n/10, over
                   the difference in calls.

Both are per loop iteration (the call of bench_target plus ~4 instructions of loop); the
`overhead_*` fields subtract the untraced row of the same (arch, scheme), measured in the same
process. Times are of the emulator, not of hardware: compare ratios, not nanoseconds.

The sample's ops are kcalloc'd, so the kernel marks them FTRACE_OPS_FL_DYNAMIC and
ftrace_ops_get_list_func() calls even a lone one through ftrace_ops_list_func where sites share
ftrace_caller (arm64 and riscv64 without CALL_OPS). ftlab's core calls a lone ops directly;
`dynamic_ops` (default: on except on x86_64) restores the kernel's behaviour. x86_64 gives a
dynamic ops a private trampoline calling ops->func instead (arch_ftrace_update_trampoline),
which ftlab does not model; calling the lone ops straight from ftrace_caller is the closest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ftlab.arch import ARCH_NAMES
from ftlab.bench.table import columns
from ftlab.bench.table import num as _num
from ftlab.errors import FtlabError
from ftlab.ftrace import abi as fabi
from ftlab.ftrace.core import Ftrace, FtraceOps
from ftlab.ftrace.schemes import arch_ftrace_module, default_scheme, get_scheme
from ftlab.ftrace.tracers import TraceInstance
from ftlab.guest.loader import Image
from ftlab.machine.counting import counting
from ftlab.machine.machine import Machine, Scheduler
from ftlab.machine.task import TaskState
from ftlab.session import load

GUEST = Path(__file__).resolve().parent / "guests" / "ftrace_ops.c"
LOOP = "bench_loop"
TARGET = "bench_target"
OTHER = "bench_other"
DIRECT_TRAMP = "ftlab_direct_tramp"
DIRECT_CALLS = "ftlab_direct_calls"

ARCHES = ARCH_NAMES
_MODS = {a: arch_ftrace_module(a) for a in ARCHES}
# the kernel's CALL_OPS scheme per arch, and the same arch without CALL_OPS ("list ops")
CALL_OPS_SCHEME = {a: m.BENCH_CALL_OPS for a, m in _MODS.items() if m.BENCH_CALL_OPS}
LIST_SCHEME = {a: m.BENCH_LIST for a, m in _MODS.items()}
# archs whose kernel gives each dynamic ops its own trampoline (see the module docstring)
PER_OPS_TRAMPOLINES = frozenset(a for a, m in _MODS.items() if m.PER_OPS_TRAMPOLINES)

SLICE = 10**9  # one time slice for a whole run: no slice ends inside a block
COUNT_N = (32, 160)  # loop sizes of the two counted runs
TRACER_BUFFER_KB = 40  # 40960 bytes: a whole number of 40-byte function events, no padding
TARGET_S = 0.4  # one timed run
QUICK_TARGET_S = 0.05
REPEAT = 3
QUICK_REPEAT = 2
MASK = 2**64 - 1

# Published anchors (docs/background.md, "Published figures")
LINUX_TRACED_UNTRACED = {
    # M1: 2.81 ns traced, overhead 1.86 ns, so 0.95 ns untraced (derived, not quoted)
    "arm64": (2.81 / 0.95, "M1 + QEMU/HVF: 2.81 vs 0.95 ns, derived"),
    "riscv64": (52 / 13, "SpacemiT K1: 52 vs 13 ns"),
}
LINUX_LIST_CALL_OPS = {
    "arm64": (13.37 / 1.86, "M1 + QEMU/HVF: overhead 13.37 -> 1.86 ns"),
    "riscv64": (122 / 38, "SpacemiT K1: overhead 122 -> 38 ns"),
}


def bench_schemes(arch: str) -> list[str]:
    """The schemes the benchmark compares on `arch`: CALL_OPS first where the kernel has it."""
    return [s for s in (CALL_OPS_SCHEME.get(arch), LIST_SCHEME[arch]) if s]


def expected_result(n: int) -> int:
    """bench_loop(n), computed here."""
    acc = 0
    for i in range(n):
        acc = ((acc ^ i) * 0x9E3779B97F4A7C15 + 1) & MASK
    return acc


# --- configurations -------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    kind: str  # "untraced", "ops", "function-tracer", "direct"
    relevant: int = 0
    irrelevant: int = 0

    @property
    def traced(self) -> bool:
        return self.kind != "untraced" and (self.kind != "ops" or self.relevant > 0)

    @property
    def label(self) -> str:
        if self.kind == "ops":
            return f"ops R={self.relevant} K={self.irrelevant}"
        return self.kind


UNTRACED = Config("untraced")


def make_configs(relevant: int = 1, irrelevant: Iterable[int] = (0, 1, 10, 100),
                 direct: bool = True, tracer: bool = True,
                 many_relevant: Iterable[int] = ()) -> list[Config]:
    out = [UNTRACED]
    out += [Config("ops", relevant, k) for k in irrelevant]
    out += [Config("ops", r, 0) for r in many_relevant if r != relevant or 0 not in irrelevant]
    if tracer:
        out.append(Config("function-tracer", 1, 0))
    if direct:
        out.append(Config("direct", 1, 0))
    return out


class SampleFtrace(Ftrace):
    """Ftrace where ops listed in `dynamic_ops` behave as FTRACE_OPS_FL_DYNAMIC ones: alone on
    the ops list they are still called through ftrace_ops_list_func, as
    ftrace_ops_get_list_func() does (kernel/trace/ftrace.c). CALL_OPS sites, which call
    the literal's ops->func, are unaffected, as in the kernel."""

    def __init__(self, machine: Machine, arch_ops, dynamic_ops: bool = True) -> None:
        super().__init__(machine, arch_ops)
        self.dynamic = dynamic_ops
        self.dynamic_ops: set[int] = set()

    def new_dynamic_ops(self, name: str, func: str | int) -> FtraceOps:
        ops = self.new_ops(name, func)
        if self.dynamic:
            self.dynamic_ops.add(ops.addr)
        return ops

    def _update_trace_function(self) -> bool:
        before = (self.trace_function, self.trace_op)
        super()._update_trace_function()
        if len(self.ops) == 1 and self.ops[0].addr in self.dynamic_ops:
            self.trace_function, self.trace_op = self.list_func, self.list_end
        return (self.trace_function, self.trace_op) != before


# --- one configured machine -------------------------------------------------------------------
class Bench:
    """One machine with one configuration attached; runs bench_loop(n) as fresh tasks."""

    def __init__(self, image: Image, arch_ops, config: Config, dynamic_ops: bool) -> None:
        self.image = image
        self.config = config
        self.machine = Machine(image, harts=1)
        self.ftrace = SampleFtrace(self.machine, arch_ops, dynamic_ops)
        self.ftrace.boot()
        self.trace: TraceInstance | None = None
        self._attach(config)
        rec = self.ftrace.by_func[TARGET]
        if (rec.call is not None) != config.traced:
            raise FtlabError(f"{config.label}: bench_target's site is "
                             f"{'enabled' if rec.call is not None else 'disabled'}")
        if self.ftrace.by_func[LOOP].call is not None:
            raise FtlabError(f"{config.label}: bench_loop is traced")

    def _attach(self, config: Config) -> None:
        ft = self.ftrace
        if config.kind == "ops":
            # the sample registers the relevant ops first, then the irrelevant ones
            for i in range(config.relevant):
                ops = ft.new_dynamic_ops(f"relevant{i}", "ops_func_nop")
                ft.set_filter(ops, [TARGET])
                ft.register(ops)
            for i in range(config.irrelevant):
                ops = ft.new_dynamic_ops(f"irrelevant{i}", "ops_func_nop")
                ft.set_filter(ops, [OTHER])
                ft.register(ops)
        elif config.kind == "function-tracer":
            self.trace = TraceInstance(ft, buffer_kb=TRACER_BUFFER_KB)
            self.trace.set_filter([TARGET])
            self.trace.set_tracer("function")
        elif config.kind == "direct":
            ops = ft.new_dynamic_ops("direct", "ops_func_nop")
            ft.set_filter(ops, [TARGET])
            ft.register_direct(ops, self.image.addr(DIRECT_TRAMP))
        elif config.kind != "untraced":
            raise FtlabError(f"unknown configuration {config.kind!r}")

    def run(self, n: int) -> tuple[float, int]:
        """bench_loop(n) as a new task: (seconds in Scheduler.run, result)."""
        m = self.machine
        task = m.spawn(LOOP, [n])
        sched = Scheduler(m, seed=0, slice_range=(SLICE, SLICE))
        t0 = time.perf_counter()
        sched.run()
        elapsed = time.perf_counter() - t0
        if task.state != TaskState.DONE or task.result is None:
            raise FtlabError(f"{self.config.label}: bench_loop({n}) ended "
                             f"{task.state.value}: {task.fault}")
        return elapsed, task.result

    def _events(self) -> int:
        """A counter the configuration bumps once per traced call (0 if it has none)."""
        mem = self.machine.mem
        if self.config.kind == "direct":
            return mem.u64(self.image.addr(DIRECT_CALLS))
        if self.trace is not None:
            return mem.u64(self.trace.buffers[0] + fabi.RB_ENTRIES)
        return 0

    def warm_up(self, n: int) -> None:
        """Run once so the state is steady: translations made, a tracer's buffer wrapped."""
        self.run(n)
        if self.trace is not None:
            rb = self.trace.buffers[0]
            for _ in range(64):
                if self.machine.mem.u64(rb + fabi.RB_OVERRUN):
                    break
                self.run(max(n, 1024))
            else:
                raise FtlabError("the function tracer's buffer never wrapped")

    def count(self, n: int) -> int:
        """Instructions the hart runs for one bench_loop(n) task, entry to exit."""
        before = self._events()
        with counting(self.machine) as counters:
            _, result = self.run(n)
        if result != expected_result(n):
            raise FtlabError(f"{self.config.label}: bench_loop({n}) returned {result:#x}, "
                             f"expected {expected_result(n):#x}")
        if self.config.kind in ("direct", "function-tracer") and self._events() - before != n:
            raise FtlabError(f"{self.config.label}: {self._events() - before} traced calls "
                             f"seen for {n} calls")
        return sum(c.total for c in counters)


def _nice(n: float) -> int:
    """n rounded to two significant digits (at least 1)."""
    n = max(int(n), 1)
    scale = 10 ** max(len(str(n)) - 2, 0)
    return max(round(n / scale) * scale, 1)


def calibrate(bench: Bench, target: float) -> int:
    """Loop size for one run to take about `target` seconds."""
    n = 1000
    for _ in range(16):
        elapsed, _ = bench.run(n)
        if elapsed >= target / 4:
            return max(_nice(n * target / elapsed), 10)
        n = int(n * min(16.0, max(2.0, target / 2 / max(elapsed, 1e-6))))
    return n


def insns_per_call(bench: Bench, n1: int, n2: int) -> int | float:
    """(count(n2) - count(n1)) / (n2 - n1): an int when exact, as it should be."""
    per = Fraction(bench.count(n2) - bench.count(n1), n2 - n1)
    return int(per) if per.denominator == 1 else float(per)


def ns_per_call(bench: Bench, target: float, repeat: int) -> tuple[float, int, float]:
    """(ns per call, n, best seconds at n): best of `repeat` at n and at n/10, subtracted."""
    n = calibrate(bench, target)
    small = max(n // 10, 1)
    big_times, small_times, results = [], [], set()
    for _ in range(repeat):
        elapsed, result = bench.run(n)
        big_times.append(elapsed)
        results.add(result)
        small_times.append(bench.run(small)[0])
    if len(results) != 1:
        raise FtlabError(f"{bench.config.label}: bench_loop({n}) results differ between runs")
    per = (min(big_times) - min(small_times)) / (n - small)
    return per * 1e9, n, min(big_times)


# --- the benchmark ------------------------------------------------------------------------------
def _per_config(image: Image, arch_ops, config: Config, dynamic_ops: bool, timed: bool,
                target: float, repeat: int, count_n: tuple[int, int]) -> dict:
    bench = Bench(image, arch_ops, config, dynamic_ops)
    n1, n2 = count_n
    bench.warm_up(n2)
    row: dict = {
        "config": config.kind,
        "label": config.label,
        "relevant": config.relevant,
        "irrelevant": config.irrelevant,
        "traced": config.traced,
        "instructions_per_call": insns_per_call(bench, n1, n2),
        "ns_per_call": None,
        "n_count": [n1, n2],
        "n_time": None,
        "best_s": None,
    }
    if timed:
        ns, n, best = ns_per_call(bench, target, repeat)
        row.update(ns_per_call=round(ns, 3), n_time=n, best_s=round(best, 6))
    return row


def run_ftrace_ops(arch: str, scheme: str | None = None, relevant: int = 1,
                   irrelevant: Iterable[int] = (0, 1, 10, 100), direct: bool = True,
                   tracer: bool = True, quick: bool = False, *, timed: bool = True,
                   many_relevant: Iterable[int] = (), dynamic_ops: bool | None = None,
                   count_n: tuple[int, int] = COUNT_N, target: float | None = None,
                   repeat: int | None = None,
                   log: Callable[[str], None] | None = None) -> list[dict]:
    """The ftrace-ops benchmark on one (arch, scheme) (scheme None: the arch's default): one
    dict per configuration, the untraced one first. `timed=False` counts instructions only.
    Direct calls are skipped where the scheme has none (arm64 without CALL_OPS)."""
    scheme = scheme or default_scheme(arch)
    arch_ops = get_scheme(arch, scheme)
    image = load([GUEST], arch, scheme=scheme)
    if dynamic_ops is None:
        dynamic_ops = image.arch.name not in PER_OPS_TRAMPOLINES
    if target is None:
        target = QUICK_TARGET_S if quick else TARGET_S
    if repeat is None:
        repeat = QUICK_REPEAT if quick else REPEAT
    if count_n[1] <= count_n[0] or count_n[0] < 0:
        raise FtlabError("count_n must be two loop sizes, the second larger")
    configs = make_configs(relevant, irrelevant, direct and arch_ops.direct_calls, tracer,
                           many_relevant)
    rows = []
    base = None
    for config in configs:
        t0 = time.perf_counter()
        row = _per_config(image, arch_ops, config, dynamic_ops, timed, target, repeat, count_n)
        row = {"arch": image.arch.name, "scheme": arch_ops.name, "call_ops": arch_ops.call_ops,
               "dynamic_ops": dynamic_ops, **row}
        if base is None:
            base = row
        row["overhead_instructions"] = row["instructions_per_call"] - \
            base["instructions_per_call"]
        row["overhead_ns"] = (round(row["ns_per_call"] - base["ns_per_call"], 3)
                              if timed else None)
        rows.append(row)
        if log is not None:
            ns = f"{row['ns_per_call']:9.2f} ns" if timed else ""
            log(f"{row['arch']:8} {row['scheme']:14} {config.label:18} "
                f"{row['instructions_per_call']:>7} insns {ns}  "
                f"({time.perf_counter() - t0:.1f}s)")
    return rows


# --- reporting ------------------------------------------------------------------------------
def _find(rows: Sequence[dict], arch: str, scheme: str, config: str, relevant: int = 1,
          irrelevant: int = 0) -> dict | None:
    for r in rows:
        if (r["arch"], r["scheme"], r["config"]) == (arch, scheme, config) and (
                config != "ops" or (r["relevant"], r["irrelevant"]) == (relevant, irrelevant)):
            return r
    return None


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def summarize(rows: Sequence[dict]) -> list[dict]:
    """Per arch with CALL_OPS rows: traced/untraced for 1 relevant empty callback via CALL_OPS,
    and the overhead ratio list ops / CALL_OPS for 1 relevant, in ns and in instructions."""
    out = []
    for arch, cscheme in CALL_OPS_SCHEME.items():
        untraced = _find(rows, arch, cscheme, "untraced")
        callops = _find(rows, arch, cscheme, "ops")
        if untraced is None or callops is None:
            continue
        lscheme = LIST_SCHEME[arch]
        listops = _find(rows, arch, lscheme, "ops")
        entry = {
            "arch": arch,
            "call_ops_scheme": cscheme,
            "list_scheme": lscheme,
            "traced_untraced_ns": _ratio(callops["ns_per_call"], untraced["ns_per_call"]),
            "traced_untraced_insns": _ratio(callops["instructions_per_call"],
                                            untraced["instructions_per_call"]),
            "linux_traced_untraced": LINUX_TRACED_UNTRACED.get(arch),
            "list_call_ops_overhead_ns": None,
            "list_call_ops_overhead_insns": None,
            "linux_list_call_ops": LINUX_LIST_CALL_OPS.get(arch),
        }
        if listops is not None:
            entry["list_call_ops_overhead_ns"] = _ratio(listops["overhead_ns"],
                                                        callops["overhead_ns"])
            entry["list_call_ops_overhead_insns"] = _ratio(listops["overhead_instructions"],
                                                           callops["overhead_instructions"])
        out.append(entry)
    return out


def format_table(rows: Sequence[dict]) -> str:
    head = ("arch", "scheme", "configuration", "insn/call", "+insn", "ns/call", "+ns")
    body = []
    for r in rows:
        ins = r["instructions_per_call"]
        over = r["overhead_instructions"]
        body.append((r["arch"], r["scheme"] + (" (CALL_OPS)" if r["call_ops"] else ""),
                     r["label"], _num(ins, "g"), _num(over, "+g") if r["traced"] else
                     _num(over, "g"), _num(r["ns_per_call"], ".1f"),
                     _num(r["overhead_ns"], "+.1f")))
    return columns(head, body, 3, [(r["arch"], r["scheme"]) for r in rows])


def format_summary(summary: Sequence[dict]) -> str:
    out = []
    for s in summary:
        lin = s["linux_traced_untraced"]
        out.append(f"{s['arch']}: 1 relevant empty callback via CALL_OPS ({s['call_ops_scheme']}),"
                   f" traced/untraced: {_num(s['traced_untraced_ns'], '.2f')}x wall, "
                   f"{_num(s['traced_untraced_insns'], '.2f')}x instructions"
                   + (f"  [Linux {lin[0]:.1f}x, {lin[1]}]" if lin else ""))
        lin = s["linux_list_call_ops"]
        out.append(f"{s['arch']}: overhead list ops ({s['list_scheme']}) / CALL_OPS, 1 relevant: "
                   f"{_num(s['list_call_ops_overhead_ns'], '.2f')}x wall, "
                   f"{_num(s['list_call_ops_overhead_insns'], '.2f')}x instructions"
                   + (f"  [Linux {lin[0]:.1f}x, {lin[1]}]" if lin else ""))
    return "\n".join(out)
