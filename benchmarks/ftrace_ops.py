"""Per-call cost of ftrace_ops, after the kernel's samples/ftrace/ftrace-ops.c.

Runs ftlab.bench.ftrace_ops on every arch: arm64 and riscv64 with CALL_OPS and without it
("list ops"), x86_64 (no CALL_OPS in the kernel) with its default scheme. Prints one row per
configuration (untraced; R relevant + K irrelevant ops with the empty callback; the function
tracer; a direct call), in exact instructions per call and emulated wall ns per call, then per
arch with CALL_OPS the ratios the kernel's commit messages quote.

    python benchmarks/ftrace_ops.py [--arch arm64 ...] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing ftlab

from ftlab.bench.ftrace_ops import (  # noqa: E402
    ARCHES,
    CALL_OPS_SCHEME,
    bench_schemes,
    format_summary,
    format_table,
    run_ftrace_ops,
    summarize,
)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", action="append", choices=ARCHES,
                    help="arch to measure (repeatable; default: all)")
    ap.add_argument("--quick", action="store_true", help="short timed runs (noisier ns)")
    ap.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    ap.add_argument("--relevant", type=int, default=1, help="relevant ops (default 1)")
    ap.add_argument("--irrelevant", type=_ints, default=(0, 1, 10, 100),
                    help="irrelevant ops counts, comma-separated (default 0,1,10,100)")
    ap.add_argument("--many-relevant", type=_ints, default=(10,),
                    help="extra rows with this many relevant ops and no irrelevant ones, "
                         "comma-separated (default 10; '' for none)")
    ap.add_argument("--no-direct", action="store_true", help="skip the direct-call rows")
    ap.add_argument("--no-tracer", action="store_true", help="skip the function-tracer rows")
    ap.add_argument("--counts-only", action="store_true", help="instructions only, no timing")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)
    if args.relevant < 0 or any(k < 0 for k in args.irrelevant + args.many_relevant):
        ap.error("ops counts must be >= 0")

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    start = time.perf_counter()
    rows: list[dict] = []
    for arch in args.arch or ARCHES:
        for scheme in bench_schemes(arch):
            rows += run_ftrace_ops(arch, scheme, relevant=args.relevant,
                                   irrelevant=args.irrelevant, direct=not args.no_direct,
                                   tracer=not args.no_tracer, quick=args.quick,
                                   timed=not args.counts_only,
                                   many_relevant=args.many_relevant, log=log)
    log(f"total {time.perf_counter() - start:.1f}s")
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("ftrace-ops: cost per call of bench_target (loop included); +insn/+ns: over the "
          "untraced row of the same scheme")
    print(format_table(rows))
    summary = summarize(rows)
    if summary:
        print()
        print(format_summary(summary))
    for arch in sorted({r["arch"] for r in rows if r["arch"] not in CALL_OPS_SCHEME}):
        print(f"{arch}: no CALL_OPS in the kernel; list-ops numbers only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
