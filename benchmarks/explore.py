"""Race explorer figures: time to the first counterexample of riscv64-v6.8-enable (target
1 s), exhaustive bound-2 runs of riscv64-v6.16-callops-enable and arm64-callops-enable on 2
harts (target 60 s each), and schedules per second. With --all, every built-in scenario at
--bound (default 2); --jobs 1,2 runs each with 1 and with 2 worker processes
(ftlab.explore.parallel) and checks that both give the same verdict and counterexample.
Prints a table; --json for machines."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ftlab.explore.parallel import explore_parallel  # noqa: E402
from ftlab.explore.scenarios import SCENARIOS, get_scenario  # noqa: E402
from ftlab.explore.search import explore_exhaustive  # noqa: E402
from ftlab.explore.world import World  # noqa: E402


def measure(name: str, bound: int, budget: float, jobs: int = 1) -> dict:
    t0 = time.perf_counter()
    world = World(get_scenario(name))
    setup = time.perf_counter() - t0
    if jobs <= 1:
        out = explore_exhaustive(world, bound, budget=budget)
    else:
        out = explore_parallel(world, lambda: World(get_scenario(name)), bound, jobs,
                               budget=budget)
    total = time.perf_counter() - t0
    return {"scenario": name, "bound": bound, "jobs": jobs, "verdict": out.verdict,
            "expected": SCENARIOS[name].expect, "schedules": out.stats.schedules,
            "preemptions": out.preemptions,
            "counterexample": out.execution.schedule if out.execution else None,
            "seconds": round(total, 2), "setup_seconds": round(setup, 2),
            "schedules_per_second": round(out.stats.schedules / max(out.stats.seconds, 1e-9))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--all", action="store_true", help="every built-in scenario")
    ap.add_argument("--scenario", action="append", help="this scenario (repeatable)")
    ap.add_argument("--bound", type=int, default=2, help="preemption bound (default 2)")
    ap.add_argument("--jobs", default="1", help="worker counts, comma-separated (default 1)")
    ap.add_argument("--budget", type=float, default=300.0)
    args = ap.parse_args()
    jobs = [int(j) for j in args.jobs.split(",")]
    runs = [("riscv64-v6.8-enable", 2), ("riscv64-v6.16-callops-enable", 2),
            ("arm64-callops-enable", 2)]
    if args.all or args.scenario:
        runs = [(n, args.bound) for n in (args.scenario or SCENARIOS)]
    rows = []
    for n, b in runs:
        same = []
        for j in jobs:
            row = measure(n, b, args.budget, j)
            rows.append(row)
            same.append((row["verdict"], row["counterexample"]))
            print(f"{n} bound {b} jobs {j}: {row['verdict']} {row['seconds']} s",
                  file=sys.stderr, flush=True)
        if len(set(map(repr, same))) > 1:
            print(f"{n}: worker counts disagree: {same}", file=sys.stderr)
            sys.exit(1)
    if args.json:
        print(json.dumps({"machine": platform.machine(), "python": platform.python_version(),
                          "cpus": os.cpu_count(), "runs": rows}, indent=2))
        return
    print(f"{'scenario':32} {'bound':>5} {'jobs':>4} {'verdict':>10} {'expected':>9} "
          f"{'schedules':>9} {'seconds':>8} {'sched/s':>8}")
    for r in rows:
        print(f"{r['scenario']:32} {r['bound']:>5} {r['jobs']:>4} {r['verdict']:>10} "
              f"{r['expected']:>9} {r['schedules']:>9} {r['seconds']:>8} "
              f"{r['schedules_per_second']:>8}")


if __name__ == "__main__":
    main()
