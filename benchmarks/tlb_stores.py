"""What a guest store costs in each of Unicorn's TLB modes: the measurement behind ftlab's
choice of the default mode (docs/speed.md).

Bare Unicorn, arm64, three-instruction loops run `--n` times with emu_start(begin, until):

  store   str x1, [x2]; subs x0, x0, #1; b.ne
  alu     add x1, x1, #1; subs x0, x0, #1; b.ne

each in the default TLB mode (UC_TLB_CPU) and with ctl_set_tlb_mode(UC_TLB_VIRTUAL), with no
hook, with a UC_HOOK_MEM_UNMAPPED hook over every address (as ftlab's harts have, to name a
faulting address) and with that hook limited to a range outside guest RAM. The encodings are
checked with capstone before use. Prints ns per loop iteration.

    python benchmarks/tlb_stores.py [--n 1000000]
"""

from __future__ import annotations

import argparse
import time

import capstone
from unicorn import (
    UC_ARCH_ARM64,
    UC_HOOK_MEM_UNMAPPED,
    UC_MODE_ARM,
    UC_TLB_CPU,
    UC_TLB_VIRTUAL,
    Uc,
)
from unicorn.arm64_const import UC_ARM64_REG_X0, UC_ARM64_REG_X2

CODE_AT, DATA_AT, RAM = 0x10000000, 0x10800000, 0x1000000
LOOPS = {
    "store": ("410000f9000400f1c1ffff54", ["str x1, [x2]", "subs x0, x0, #1", "b.ne #0x10000000"]),
    "alu": ("21040091000400f1c1ffff54", ["add x1, x1, #1", "subs x0, x0, #1", "b.ne #0x10000000"]),
}


def check(code: bytes, expected: list[str]) -> None:
    cs = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
    got = [f"{i.mnemonic} {i.op_str}" for i in cs.disasm(code, CODE_AT)]
    if got != expected:
        raise SystemExit(f"encoding mismatch: {got} != {expected}")


def run(code: bytes, tlb: int, hook: str, n: int) -> float:
    uc = Uc(UC_ARCH_ARM64, UC_MODE_ARM)
    uc.ctl_set_tlb_mode(tlb)
    uc.mem_map(CODE_AT, RAM)
    if hook == "all":
        uc.hook_add(UC_HOOK_MEM_UNMAPPED, lambda *a: False)
    elif hook == "outside RAM":
        uc.hook_add(UC_HOOK_MEM_UNMAPPED, lambda *a: False, begin=0, end=CODE_AT - 1)
    uc.mem_write(CODE_AT, code)
    uc.reg_write(UC_ARM64_REG_X0, n)
    uc.reg_write(UC_ARM64_REG_X2, DATA_AT)
    t0 = time.perf_counter()
    uc.emu_start(CODE_AT, CODE_AT + len(code))
    return (time.perf_counter() - t0) / n * 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="loop iterations")
    ap.add_argument("--repeat", type=int, default=3, help="best of (default 3)")
    args = ap.parse_args()
    print(f"{'loop':6} {'unmapped hook':14} {'default TLB':>12} {'virtual TLB':>12}  ns/iter")
    for name, (hexcode, expected) in LOOPS.items():
        code = bytes.fromhex(hexcode)
        check(code, expected)
        for hook in ("none", "all", "outside RAM"):
            cells = [min(run(code, tlb, hook, args.n) for _ in range(args.repeat))
                     for tlb in (UC_TLB_CPU, UC_TLB_VIRTUAL)]
            print(f"{name:6} {hook:14} {cells[0]:12.1f} {cells[1]:12.1f}")


if __name__ == "__main__":
    main()
