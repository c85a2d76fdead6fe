"""Guest instructions per second: ftlab's machine (no tracing) next to plain Unicorn.

For each arch the guest loop `speed_hash(rounds, seed)` (benchmarks/guests/speed.c) runs in
these configurations:

  plain          a bare `Uc`, the same image bytes mapped with `mem_map`, started at
                 `speed_hash` with the registers ftlab's task would have there (arguments,
                 stack pointer, the hart's per-CPU register), `emu_start(begin, until)` with
                 no count and no hooks; `until` is the return address. Unicorn's default
                 TLB mode (UC_TLB_CPU).
  plain-vtlb     the same with `ctl_set_tlb_mode(UC_TLB_VIRTUAL)`.
  ftlab-1        ftlab's Machine, one hart, one task, its seeded Scheduler (time slices
                 through the native budget hook, exits at ftlab_mcall).
  ftlab-2        two harts, two tasks of the same work.
  ftlab-1-count  one hart, slices through Unicorn's `emu_start(count=N)` (Scheduler(exact=True),
                 what the Scheduler did before the budget hook).

The ratio column divides by the faster of the two plain configurations ("plain's fastest"),
and the table names which one that was.

Instructions are counted exactly once per configuration, in a separate run of the same work
with a UC_HOOK_BLOCK hook that adds the instructions in each block (block bytes decoded with
capstone, cached per (address, size); a block cut short by the end of a time slice is
un-counted past the pc where it stopped). The timed runs have no hooks and take turns
across configurations (a change in machine load hits all alike); the best of `--repeat` is
reported. Each configuration's work (`rounds`) is calibrated so that one timed
run takes about `--target` seconds.

    python benchmarks/machine_speed.py [--arch x86_64 ...] [--target 0.7] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing ftlab

import capstone  # noqa: E402
import unicorn  # noqa: E402
from unicorn import UC_HOOK_BLOCK, UC_HOOK_CODE, UC_TLB_VIRTUAL, Uc  # noqa: E402

from ftlab.arch import ARCH_NAMES  # noqa: E402
from ftlab.guest import abi  # noqa: E402
from ftlab.guest.loader import Image  # noqa: E402
from ftlab.machine.counting import BlockCounter  # noqa: E402
from ftlab.machine.hart import StopKind  # noqa: E402
from ftlab.machine.machine import Machine, Scheduler  # noqa: E402
from ftlab.machine.task import TaskState  # noqa: E402
from ftlab.session import load  # noqa: E402

GUEST = Path(__file__).resolve().parent / "guests" / "speed.c"
ENTRY = "speed_hash"
SEED = 0x5EED
SCHED_SEED = 0
SLICE_RANGE = (5_000, 50_000)  # the Scheduler's default time slices
TARGET_1, TARGET_2 = 0.8, 0.7  # issue 13: of plain's fastest, on 1 and 2 harts


@dataclass(frozen=True)
class Config:
    name: str
    harts: int  # 0: plain Unicorn
    label: str
    vtlb: bool = False  # plain: UC_TLB_VIRTUAL
    exact: bool = False  # ftlab: count= slices

    @property
    def tasks(self) -> int:
        return max(self.harts, 1)


PLAIN = Config("plain", 0, "plain unicorn")
PLAIN_VTLB = Config("plain-vtlb", 0, "plain unicorn, virtual TLB", vtlb=True)
FTLAB_1 = Config("ftlab-1", 1, "ftlab, 1 hart")
FTLAB_2 = Config("ftlab-2", 2, "ftlab, 2 harts")
FTLAB_1_COUNT = Config("ftlab-1-count", 1, "ftlab, 1 hart, count= slices", exact=True)
CONFIGS = (PLAIN, PLAIN_VTLB, FTLAB_1, FTLAB_2, FTLAB_1_COUNT)
PLAINS = (PLAIN, PLAIN_VTLB)
CONFIG_BY_NAME = {c.name: c for c in CONFIGS}


def load_guest(arch: str) -> Image:
    return load([GUEST], arch)


# --- counting --------------------------------------------------------------------------------
class CodeCounter:
    """UC_HOOK_CODE counter: one callback per instruction (exact, slow; for checking)."""

    def __init__(self) -> None:
        self.total = 0

    def hook(self, uc: Uc, addr: int, size: int, _data: object) -> None:
        self.total += 1

    def settle(self, pc: int) -> None:
        pass  # the code hook of an instruction that did not run is not called


Counter = BlockCounter | CodeCounter


def _make_counter(image: Image, method: str,
                  cache: dict[tuple[int, int], tuple[int, ...]]) -> tuple[Counter, int]:
    if method == "block":
        return BlockCounter(capstone.Cs(image.arch.cs_arch, image.arch.cs_mode), cache), \
            UC_HOOK_BLOCK
    if method == "code":
        return CodeCounter(), UC_HOOK_CODE
    raise ValueError(f"unknown counting method {method!r}")


# --- the two ways to run the loop -----------------------------------------------------------
Prepare = Callable[[Uc], Callable[[int], None]]  # installs hooks; returns settle(pc)


def run_plain(image: Image, rounds: int, prepare: Prepare | None = None,
              vtlb: bool = False) -> tuple[float, int]:
    """speed_hash(rounds, SEED) on a bare Uc: (seconds in emu_start, return value)."""
    arch = image.arch
    uc = Uc(arch.uc_arch, arch.uc_mode)
    if vtlb:
        uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
    uc.mem_map(arch.ram_base, abi.RAM_SIZE)
    for seg in image.segments:
        uc.mem_write(seg.addr, seg.data)
    # the registers ftlab's hart 0 and task 0 give the entry
    for reg, bits in arch.extra_hart_setup:
        rid = arch.regs[reg]
        uc.reg_write(rid, uc.reg_read(rid) | bits)
    percpu = image.addr("ftlab_percpu")
    uc.mem_write(percpu + abi.PERCPU_SELF, percpu.to_bytes(8, "little"))
    uc.reg_write(arch.regs[arch.percpu_reg], percpu)
    until = image.addr("ftlab_mcall")  # the return address: never executed
    sp = (arch.ram_base + abi.STACK_AREA + abi.STACK_SIZE - 64) & ~0xF  # task 0's stack top
    if arch.ra is None:
        sp -= 8
        uc.mem_write(sp, until.to_bytes(8, "little"))
    else:
        uc.reg_write(arch.regs[arch.ra], until)
    uc.reg_write(arch.regs[arch.sp], sp)
    uc.reg_write(arch.regs[arch.fp], 0)
    uc.reg_write(arch.regs[arch.arg_regs[0]], rounds)
    uc.reg_write(arch.regs[arch.arg_regs[1]], SEED)
    settle = prepare(uc) if prepare is not None else None
    begin = image.function(ENTRY).addr
    t0 = time.perf_counter()
    uc.emu_start(begin, until)
    elapsed = time.perf_counter() - t0
    pc = uc.reg_read(arch.regs[arch.pc])
    if settle is not None:
        settle(pc)
    if pc != until:
        raise RuntimeError(f"{arch.name}: plain run stopped at {pc:#x}, not {until:#x}")
    return elapsed, uc.reg_read(arch.regs[arch.ret_reg])


def run_ftlab(image: Image, rounds: int, harts: int,
              prepare: Prepare | None = None, exact: bool = False) -> tuple[float, int]:
    """`harts` tasks of speed_hash(rounds, SEED) on `harts` harts: (seconds in the
    Scheduler, return value)."""
    m = Machine(image, harts=harts)
    tasks = [m.spawn(ENTRY, [rounds, SEED]) for _ in range(harts)]
    if prepare is not None:
        for hart in m.harts:
            hart.install_budget()  # before the counting hook: its stops skip later hooks
            settle = prepare(hart.uc)
            inner = hart.run

            def run(count: int, exact: bool = True, inner=inner, settle=settle, hart=hart):
                stop = inner(count, exact)
                if exact or stop.kind == StopKind.FAULT:  # else a block boundary: no settle
                    settle(hart.pc)
                return stop

            hart.run = run  # type: ignore[method-assign]
    sched = Scheduler(m, seed=SCHED_SEED, slice_range=SLICE_RANGE, exact=exact)
    t0 = time.perf_counter()
    sched.run()
    elapsed = time.perf_counter() - t0
    for task in tasks:
        if task.state != TaskState.DONE:
            raise RuntimeError(f"{image.arch.name}: task {task.name} ended {task.state.value}: "
                               f"{task.fault}")
    results = {t.result for t in tasks}
    if len(results) != 1:
        raise RuntimeError(f"{image.arch.name}: tasks disagree: {sorted(results)}")
    return elapsed, tasks[0].result or 0


def run_config(image: Image, config: Config, rounds: int,
               prepare: Prepare | None = None) -> tuple[float, int]:
    if config.harts == 0:
        return run_plain(image, rounds, prepare, config.vtlb)
    return run_ftlab(image, rounds, config.harts, prepare, config.exact)


def count_instructions(image: Image, config: Config | str, rounds: int,
                       method: str = "block") -> int:
    """Guest instructions the configuration executes for `rounds` (all tasks together):
    one run of the same work with a counting hook on every hart."""
    if isinstance(config, str):
        config = CONFIG_BY_NAME[config]
    cache: dict[tuple[int, int], tuple[int, ...]] = {}
    counters: list[Counter] = []

    def prepare(uc: Uc) -> Callable[[int], None]:
        counter, kind = _make_counter(image, method, cache)
        uc.hook_add(kind, counter.hook)
        counters.append(counter)
        return counter.settle

    run_config(image, config, rounds, prepare)
    return sum(c.total for c in counters)


# --- timing ----------------------------------------------------------------------------------
def _nice(n: float) -> int:
    """n rounded to two significant digits (at least 1)."""
    n = max(int(n), 1)
    scale = 10 ** max(len(str(n)) - 2, 0)
    return max(round(n / scale) * scale, 1)


def calibrate(image: Image, config: Config, target: float) -> int:
    """Rounds for one run of `config` to take about `target` seconds."""
    rounds = 20_000
    while True:
        elapsed, _ = run_config(image, config, rounds)
        if elapsed >= 0.1:
            return _nice(rounds * target / elapsed)
        rounds *= 4 if elapsed < 0.03 else 2


@dataclass
class Result:
    arch: str
    config: str
    label: str
    harts: int
    tasks: int
    rounds: int  # per task
    insns: int  # all tasks
    times: list[float]
    best_s: float
    ips: float
    ratio: float  # ips / the fastest plain configuration's ips on the same arch
    checksum: str
    baseline: str = ""  # which plain configuration that was


def bench_arch(arch: str, target: float, repeat: int,
               log: Callable[[str], None] = lambda s: None,
               configs: Sequence[Config] = CONFIGS) -> list[Result]:
    image = load_guest(arch)
    out: list[Result] = []
    plan = []
    for config in configs:
        rounds = calibrate(image, config, target)
        t0 = time.perf_counter()
        insns = count_instructions(image, config, rounds)
        plan.append((config, rounds, insns, time.perf_counter() - t0))
    # the timed runs take turns, so that a change in the machine's load (other processes)
    # hits every configuration alike
    times: dict[str, list[float]] = {c.name: [] for c in configs}
    results: dict[str, set[int]] = {c.name: set() for c in configs}
    for _ in range(repeat):
        for config, rounds, _insns, _counted in plan:
            elapsed, value = run_config(image, config, rounds)
            times[config.name].append(elapsed)
            results[config.name].add(value)
    for config, rounds, insns, counted in plan:
        if len(results[config.name]) != 1:
            raise RuntimeError(f"{arch} {config.name}: results differ between runs")
        best = min(times[config.name])
        ips = insns / best
        log(f"{arch:8} {config.name:13} rounds {rounds:>9,}  insns {insns:>13,}  "
            f"count {counted:5.1f}s  best {best:.3f}s")
        out.append(Result(arch, config.name, config.label, config.harts, config.tasks, rounds,
                          insns, [round(t, 6) for t in times[config.name]], round(best, 6),
                          ips, 0.0, f"{results[config.name].pop():#018x}"))
    plains = [r for r in out if r.harts == 0]
    if plains:
        fastest = max(plains, key=lambda r: r.ips)
        for r in out:
            r.ratio, r.baseline = r.ips / fastest.ips, fastest.config
    return out


def format_table(results: Sequence[Result], repeat: int) -> str:
    head = ("arch", "configuration", "rounds/task", "guest insns", "best s", "M insn/s",
            "/ fastest plain")
    rows = []
    for r in results:
        ratio = f"{r.ratio:.3f}" + (" (fastest plain)" if r.config == r.baseline else "")
        rows.append((r.arch, r.label, f"{r.rounds:,}", f"{r.insns:,}", f"{r.best_s:.3f}",
                     f"{r.ips / 1e6:,.1f}", ratio))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    left = {0, 1}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    out = [f"guest instructions per second, no tracing, best of {repeat} "
           f"(unicorn {unicorn.__version__}, {platform.python_implementation()} "
           f"{platform.python_version()}, {platform.machine()})",
           line(head), line(["-" * w for w in widths])]
    prev = None
    for r, row in zip(results, rows, strict=True):
        if prev is not None and r.arch != prev:
            out.append("")
        prev = r.arch
        out.append(line(row))
    out.append("")
    for arch in dict.fromkeys(r.arch for r in results):
        by = {r.config: r for r in results if r.arch == arch}
        if not any(r.harts == 0 for r in by.values()):
            continue
        verdicts = [f"{name} {by[name].ratio:.2f} (target >= {goal})" for name, goal in
                    ((FTLAB_1.name, TARGET_1), (FTLAB_2.name, TARGET_2)) if name in by]
        base = next(iter(by.values())).baseline
        out.append(f"{arch}: fastest plain configuration: {CONFIG_BY_NAME[base].label}; "
                   + ", ".join(verdicts))
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", action="append", choices=ARCH_NAMES,
                    help="arch to measure (repeatable; default: all)")
    ap.add_argument("--target", type=float, default=0.7,
                    help="seconds one timed run should take (default 0.7)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs, best taken (default 3)")
    ap.add_argument("--config", action="append", choices=[c.name for c in CONFIGS],
                    help="configuration to run (repeatable; default: all)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)
    if args.repeat < 1 or args.target <= 0:
        ap.error("--repeat must be >= 1 and --target > 0")

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    start = time.perf_counter()
    results: list[Result] = []
    for arch in args.arch or ARCH_NAMES:
        configs = [c for c in CONFIGS if c.name in args.config] if args.config else CONFIGS
        results += bench_arch(arch, args.target, args.repeat, log, configs)
    log(f"total {time.perf_counter() - start:.1f}s")
    if args.json:
        print(json.dumps({
            "unicorn": unicorn.__version__,
            "capstone": capstone.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "repeat": args.repeat,
            "target_s": args.target,
            "slice_range": list(SLICE_RANGE),
            "results": [asdict(r) for r in results],
        }, indent=2))
    else:
        print(format_table(results, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
