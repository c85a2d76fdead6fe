"""Run every litmus test in ../shared/litmus under ftlab's models and compare with herd7.

Usage: python conformance/litmus.py [FOLDER ...] [--litmus-dir DIR] [-v]
Prints one line per test that does not pass and a tally per architecture folder:
pass (same states and verdict as herd7), fail (sound/precise/verdict differences) and
unsupported (the test uses something the front-end or model rejects, with the reason).
Exit status 1 when any test fails (unsupported tests do not fail the run).
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ftlab.errors import FtlabError  # noqa: E402
from ftlab.litmus.herd import compare, read_herd  # noqa: E402
from ftlab.litmus.run import run_litmus  # noqa: E402

FOLDERS = ("aarch64", "riscv", "x86", "aarch64-ifetch")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", default=list(FOLDERS))
    ap.add_argument("--litmus-dir", default=str(Path(__file__).resolve().parents[1].parent
                                                 / "shared" / "litmus"))
    ap.add_argument("-v", "--verbose", action="store_true", help="also list passing tests")
    ns = ap.parse_args()
    root = Path(ns.litmus_dir)
    if not root.is_dir():
        print(f"no litmus directory at {root}", file=sys.stderr)
        return 2
    failed = 0
    tally = {}
    start_all = time.time()
    for folder in ns.folders:
        counts = collections.Counter()
        reasons = collections.Counter()
        start = time.time()
        for test in sorted((root / folder).glob("*.litmus")):
            if not test.with_suffix(".herd7").exists():
                continue  # no herd7 result to compare with
            expected = read_herd(test.with_suffix(".herd7"))
            try:
                res = run_litmus(test)
            except Exception as err:  # noqa: BLE001 - a crash is reported, not fatal
                if not isinstance(err, FtlabError):
                    counts["fail"] += 1
                    print(f"{folder}/{test.stem}: CRASH: {type(err).__name__}: {err}")
                    continue
                counts["unsupported"] += 1
                reason = str(err).split(": ", 1)[-1]
                reasons[reason.split("'")[0].strip()[:60]] += 1
                if ns.verbose:
                    print(f"{folder}/{test.stem}: unsupported: {err}")
                continue
            problems = compare(expected, res.shown, res.ok, res.observation)
            if problems:
                counts["fail"] += 1
                print(f"{folder}/{test.stem}: FAIL: {' | '.join(problems)}")
            else:
                counts["pass"] += 1
                if ns.verbose:
                    print(f"{folder}/{test.stem}: pass")
        failed += counts["fail"]
        tally[folder] = (counts, reasons, time.time() - start)
    print()
    print(f"{'folder':16} {'pass':>5} {'fail':>5} {'unsupported':>12} {'seconds':>8}")
    for folder, (counts, reasons, secs) in tally.items():
        print(f"{folder:16} {counts['pass']:5} {counts['fail']:5} {counts['unsupported']:12} "
              f"{secs:8.1f}")
        for reason, k in reasons.most_common(4):
            print(f"{'':16}   unsupported x{k}: {reason}")
    print(f"total {time.time() - start_all:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
