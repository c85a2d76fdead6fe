"""Race explorer figures: time to the first counterexample of riscv64-v6.8-enable (target
1 s), exhaustive bound-2 runs of riscv64-v6.16-callops-enable and arm64-callops-enable on 2
harts (target 60 s each), and schedules per second. Prints a table; --json for machines."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ftlab.explore.scenarios import SCENARIOS, get_scenario  # noqa: E402
from ftlab.explore.search import explore_exhaustive  # noqa: E402
from ftlab.explore.world import World  # noqa: E402


def measure(name: str, bound: int, budget: float) -> dict:
    t0 = time.perf_counter()
    world = World(get_scenario(name))
    setup = time.perf_counter() - t0
    out = explore_exhaustive(world, bound, budget=budget)
    total = time.perf_counter() - t0
    return {"scenario": name, "bound": bound, "verdict": out.verdict,
            "expected": SCENARIOS[name].expect, "schedules": out.stats.schedules,
            "seconds": round(total, 2), "setup_seconds": round(setup, 2),
            "schedules_per_second": round(out.stats.schedules / max(out.stats.seconds, 1e-9))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--all", action="store_true", help="every built-in scenario at bound 2")
    ap.add_argument("--budget", type=float, default=300.0)
    args = ap.parse_args()
    runs = [("riscv64-v6.8-enable", 2), ("riscv64-v6.16-callops-enable", 2),
            ("arm64-callops-enable", 2)]
    if args.all:
        runs = [(n, 2) for n in SCENARIOS]
    rows = [measure(n, b, args.budget) for n, b in runs]
    if args.json:
        print(json.dumps({"machine": platform.machine(), "python": platform.python_version(),
                          "runs": rows}, indent=2))
        return
    print(f"{'scenario':32} {'bound':>5} {'verdict':>10} {'expected':>9} {'schedules':>9} "
          f"{'seconds':>8} {'sched/s':>8}")
    for r in rows:
        print(f"{r['scenario']:32} {r['bound']:>5} {r['verdict']:>10} {r['expected']:>9} "
              f"{r['schedules']:>9} {r['seconds']:>8} {r['schedules_per_second']:>8}")


if __name__ == "__main__":
    main()
