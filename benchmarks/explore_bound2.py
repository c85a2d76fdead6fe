"""Every built-in scenario's bound-2 verdict under the architecture's memory model
(ftlab/explore/weak.py), one worker, timed (target: 60 s each on the 2-core CI machine).
The seed 004 scenarios also run each listed --variant. Prints a table; --json for machines;
--budget caps each search (an over-budget search prints `incomplete`)."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ftlab.explore.scenarios import SCENARIOS  # noqa: E402
from ftlab.explore.search import explore_exhaustive  # noqa: E402
from ftlab.explore.world import World  # noqa: E402

SEED_VARIANTS = [(), ("smp_mb",), ("online-fence",), ("relaxed-online", "smp_mb"),
                 ("relaxed-online", "smp_mb", "online-fence")]


def measure(name: str, variants: tuple[str, ...], bound: int, budget: float) -> dict:
    sc = SCENARIOS[name]
    t0 = time.perf_counter()
    world = World(sc, variants=variants)
    out = explore_exhaustive(world, bound, budget=budget, invariant=sc.invariant)
    v = out.execution.violation if out.execution is not None else None
    return {"scenario": name, "variants": list(variants), "model": world.rules.model,
            "bound": bound, "verdict": out.verdict, "expected": sc.expect,
            "invariant": v.invariant if v else None, "preemptions": out.preemptions,
            "schedules": out.stats.schedules, "seconds": round(time.perf_counter() - t0, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--budget", type=float, default=300.0)
    ap.add_argument("--bound", type=int, default=2)
    ap.add_argument("scenarios", nargs="*", help="only these (default: all)")
    args = ap.parse_args()
    runs = []
    for name in args.scenarios or list(SCENARIOS):
        for variants in SEED_VARIANTS if "seed004" in name else [()]:
            runs.append((name, variants))
    rows = []
    for name, variants in runs:
        r = measure(name, variants, args.bound, args.budget)
        rows.append(r)
        if not args.json:
            var = "+".join(r["variants"]) or "-"
            print(f"{r['scenario']:32} {var:28} {r['verdict']:>10} {r['expected']:>9} "
                  f"{str(r['invariant']):22} {r['preemptions']:>3} {r['schedules']:>7} "
                  f"{r['seconds']:>7}", flush=True)
    if args.json:
        print(json.dumps({"machine": platform.machine(), "python": platform.python_version(),
                          "runs": rows}, indent=2))


if __name__ == "__main__":
    main()
