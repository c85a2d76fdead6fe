"""BPF trampoline figures: per-call cost of fentry, fexit and fmod_ret per arch relative to
untraced and to the function tracer (Linux x86 trigger benchmark: fentry 103, fexit 55,
fmod_ret 59 M calls/s), and attach/detach of one program on N = 10,000 functions of a
generated guest (compile and DWARF parsing excluded; target: each within 1 s)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ftlab.arch import ARCH_NAMES  # noqa: E402
from ftlab.bpf.bench import measure_attach, measure_trampolines  # noqa: E402

LINUX = {"fentry": 103.0, "fexit": 55.0, "fmod_ret": 58.6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--arch", action="append", help=f"{', '.join(ARCH_NAMES)} (default: all)")
    ap.add_argument("--functions", type=int, default=10_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    arches = args.arch or list(ARCH_NAMES)
    out = {"trampolines": {}, "attach": {}}
    for arch in arches:
        out["trampolines"][arch] = measure_trampolines(arch)
        out["attach"][arch] = measure_attach(arch, args.functions)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{'arch':8} {'config':16} {'insn/call':>9} {'+insn':>6} {'ns/call':>8} "
          f"{'M calls/s':>9} {'vs untraced':>11}")
    for arch, rows in out["trampolines"].items():
        base = rows[0]["instructions_per_call"]
        for r in rows:
            ns, insn = r["ns_per_call"], r["instructions_per_call"]
            print(f"{arch:8} {r['config']:16} {insn:9.1f} {insn - base:+6.0f} "
                  f"{ns:8.1f} {1e3 / ns:9.2f} {insn / base:10.2f}x")
    for arch, rows in out["trampolines"].items():
        by = {r["config"]: r for r in rows}
        f = by["fentry"]["instructions_per_call"]
        linux_exit = LINUX["fentry"] / LINUX["fexit"]
        linux_mod = LINUX["fentry"] / LINUX["fmod_ret"]
        print(f"{arch}: fexit/fentry {by['fexit']['instructions_per_call'] / f:.2f}x, "
              f"fmod_ret/fentry {by['fmod_ret']['instructions_per_call'] / f:.2f}x in "
              f"instructions (Linux calls/s, published: fentry/fexit {linux_exit:.2f}x, "
              f"fentry/fmod_ret {linux_mod:.2f}x)")
    print(f"\nattach/detach of one fentry program on {args.functions} functions:")
    for arch, r in out["attach"].items():
        print(f"{arch:8} {r['functions']} functions, {r['trampolines']} trampoline(s), attach "
              f"{r['attach_seconds']:.3f} s, detach {r['detach_seconds']:.3f} s")


if __name__ == "__main__":
    main()
