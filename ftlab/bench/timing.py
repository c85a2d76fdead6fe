"""Interleaved timing of ftrace-ops configurations, on the emulating thread's CPU clock.

ftlab.bench.ftrace_ops times each configuration in one stretch (calibrate, then `repeat` runs
at n and at n/10, best kept). On a shared machine a burst of other load lasting a few seconds
then slows every run of one configuration, and a flat line (CALL_OPS against K) grows a
bump. Here all configurations of one (arch, scheme) are built first and their runs are taken
round-robin: round r runs every configuration once at n and once at n/10, so each
configuration's samples are spread over the whole measurement and the best of them is
unlikely to fall in a burst. The method per configuration is otherwise the library's: the
same Bench, the same calibration, best at n minus best at n/10 over the difference in calls.

The clock is the emulating thread's CPU time (time.thread_time; Unicorn runs guest code on
the calling thread) unless `clock_name="wall"`. On an idle machine the two agree; on a
shared one (other sessions' tests on the same 2 CPUs) wall time inflates every figure by the
share of CPU the process did not get, while CPU time stays within a few percent.

Instruction counts are not touched: they come from run_ftrace_ops(timed=False) and are exact.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from ftlab.bench import ftrace_ops as fo
from ftlab.errors import FtlabError
from ftlab.ftrace.schemes import get_scheme
from ftlab.session import load


def _config(row: dict) -> fo.Config:
    return fo.Config(row["config"], row["relevant"], row["irrelevant"])


CLOCKS = {"cpu": time.thread_time, "wall": None}


def time_rows(rows: list[dict], target: float, repeat: int,
              progress: Callable[[str], None] | None = None, clock_name: str = "cpu") -> None:
    """Fill ns_per_call, overhead_ns, n_time and best_s of rows of one (arch, scheme), as
    produced by run_ftrace_ops(timed=False), in place. The untraced row must be first."""
    if not rows:
        return
    arch, scheme = rows[0]["arch"], rows[0]["scheme"]
    if any((r["arch"], r["scheme"]) != (arch, scheme) for r in rows):
        raise FtlabError("time_rows: rows of one (arch, scheme) only")
    if rows[0]["config"] != "untraced":
        raise FtlabError("time_rows: the untraced row must come first")
    if clock_name not in CLOCKS:
        raise FtlabError(f"unknown clock {clock_name!r}; valid: {', '.join(CLOCKS)}")
    clock = CLOCKS[clock_name]
    arch_ops = get_scheme(arch, scheme)
    image = load([fo.GUEST], arch, scheme=scheme)
    benches = []
    for r in rows:
        bench = fo.Bench(image, arch_ops, _config(r), r["dynamic_ops"])
        bench.warm_up(fo.COUNT_N[1])
        benches.append(bench)
    sizes = [fo.calibrate(b, target) for b in benches]
    big: list[list[float]] = [[] for _ in rows]
    small: list[list[float]] = [[] for _ in rows]
    for rnd in range(repeat):
        for i, (bench, n) in enumerate(zip(benches, sizes, strict=True)):
            for n_run, into in ((n, big[i]), (max(n // 10, 1), small[i])):
                c0 = clock() if clock is not None else 0.0
                wall, result = bench.run(n_run)
                elapsed = wall if clock is None else clock() - c0
                if result != fo.expected_result(n_run):
                    raise FtlabError(f"{bench.config.label}: bench_loop({n_run}) returned "
                                     f"{result:#x}")
                into.append(elapsed)
            if progress is not None:
                progress(f"{arch} {scheme} {rows[i]['label']} (round {rnd + 1}/{repeat})")
    for r, n, b, s in zip(rows, sizes, big, small, strict=True):
        per = (min(b) - min(s)) / (n - max(n // 10, 1))
        r.update(ns_per_call=round(per * 1e9, 3), n_time=n, best_s=round(min(b), 6),
                 clock=clock_name)
    base = rows[0]["ns_per_call"]
    for r in rows:
        r["overhead_ns"] = round(r["ns_per_call"] - base, 3)


def run_timed(arch: str, scheme: str, *, relevant: int = 1,
              irrelevant: Sequence[int] = (0, 1, 10, 100), many_relevant: Sequence[int] = (),
              direct: bool = True, tracer: bool = True, quick: bool = False,
              target: float | None = None, repeat: int | None = None, clock_name: str = "cpu",
              progress: Callable[[str], None] | None = None) -> list[dict]:
    """run_ftrace_ops for the rows and exact counts, then interleaved timing of every row
    (defaults as the library's: one run about TARGET_S, best of REPEAT; less with quick)."""
    if target is None:
        target = fo.QUICK_TARGET_S if quick else fo.TARGET_S
    if repeat is None:
        repeat = fo.QUICK_REPEAT if quick else fo.REPEAT
    t0 = time.perf_counter()
    rows = fo.run_ftrace_ops(arch, scheme, relevant=relevant, irrelevant=irrelevant,
                             direct=direct, tracer=tracer, timed=False,
                             many_relevant=many_relevant)
    if progress is not None:
        progress(f"{arch} {scheme} counted ({time.perf_counter() - t0:.1f}s)")
    time_rows(rows, target, repeat, progress, clock_name)
    return rows
