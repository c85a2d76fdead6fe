"""Memory of a long-running tracefs: after WARMUP operations, the resident set must stay within
20% over OPS more of a mix of tracer switches, instance mkdir/rmdir, filter writes and reads
of `trace` (issue: a mount grew from 71 MB to 330 MB over ~1,000 such operations).

    python -m benchmarks.tracefs_memory [--arch x86_64] [--ops 10000] [--warmup 100]

Runs the tracefs model in-process over a live machine (the driver thread runs the guest), as
the FUSE mount does; prints RSS after warm-up and every 10% of the run; exits 1 when the final
RSS exceeds the warm-up RSS by more than --limit (default 20%).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from ftlab.arch import ARCH_NAMES
from ftlab.tracefs.lab import Driver, Lab
from ftlab.tracefs.model import Tracefs

ROOT = Path(__file__).resolve().parent.parent
GUEST = ROOT / "ftlab" / "examples" / "demo.c"
TRACERS = ("function", "function_graph", "nop")
FILTERS = ("do_*", "!do_empty", "seq_read_iter", "")


def rss_kb() -> int:
    """VmRSS of this process in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def operation(fs: Tracefs, i: int) -> None:
    """One operation of the mix, chosen by its index."""
    kind = i % 4
    if kind == 0:
        fs.write("/current_tracer", TRACERS[(i // 4) % len(TRACERS)])
    elif kind == 1:
        name = f"/instances/i{(i // 4) % 3}"
        try:
            fs.mkdir(name)
            fs.write(name + "/current_tracer", "function")
            fs.rmdir(name)
        except OSError as err:
            if err.errno not in (errno.EEXIST, errno.ENOENT):
                raise
    elif kind == 2:
        text = FILTERS[(i // 4) % len(FILTERS)]
        fs.write("/set_ftrace_filter", text, append=text.startswith("!"))
    else:
        fs.read("/trace")


def run(arch: str, ops: int, warmup: int, limit: float, harts: int = 2,
        fork_period: int = 0) -> int:
    lab = Lab.build([str(GUEST)], arch, "sys_sendfile64", [1, 3, 4096], harts=harts,
                    io_period=2, fork_period=fork_period)
    fs = Tracefs(lab)
    fs.write("/set_event", "sched:*")
    with Driver(lab):
        for i in range(warmup):
            operation(fs, i)
        base = rss_kb()
        print(f"after {warmup} warm-up operations: RSS {base / 1024:.1f} MiB", flush=True)
        step = max(1, ops // 10)
        for i in range(warmup, warmup + ops):
            operation(fs, i)
            if (i - warmup + 1) % step == 0:
                now = rss_kb()
                print(f"{i - warmup + 1:6d} operations: RSS {now / 1024:.1f} MiB "
                      f"({(now - base) * 100 / base:+.1f}%)", flush=True)
    final = rss_kb()
    growth = (final - base) / base
    verdict = "ok" if growth <= limit else "FAIL"
    print(f"{verdict}: RSS {base / 1024:.1f} -> {final / 1024:.1f} MiB ({growth * 100:+.1f}%, "
          f"limit {limit * 100:.0f}%)")
    return 0 if growth <= limit else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", default=ARCH_NAMES[0])
    p.add_argument("--ops", type=int, default=10_000)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--limit", type=float, default=0.20, help="allowed growth (0.20: 20%%)")
    p.add_argument("--fork-period", type=int, default=0,
                   help="the machine forks a task every N rounds (0: never, the default)")
    ns = p.parse_args(argv)
    if ns.ops < 1 or ns.warmup < 0:
        p.error("--ops must be at least 1 and --warmup at least 0")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    return run(ns.arch, ns.ops, ns.warmup, ns.limit, fork_period=ns.fork_period)


if __name__ == "__main__":
    sys.exit(main())
