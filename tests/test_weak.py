"""The explorer's operational weak-memory layer (ftlab/explore/weak.py) on catalogue litmus
tests: every final state it reaches is one herd7 7.58 allows (precise), and on the shapes its
approximation claims (store buffering, message passing, fences) it reaches all of them."""

import re
from pathlib import Path

import pytest

from ftlab.explore.weak import reachable, rules_for
from ftlab.litmus.herd import read_herd
from ftlab.litmus.parse import parse_litmus

RISCV = Path("../shared/litmus/riscv")
FENCES = {"fence rw,rw": "smp_mb", "fence w,w": "smp_wmb", "fence r,r": "smp_rmb"}
# (test, all herd7 states reached?): LB needs a write visible before an earlier read
TESTS = [("MP", True), ("SB", True), ("LB", False), ("MP+fence.rw.rws", True),
         ("SB+fence.rw.rws", True), ("LB+fence.rw.rws", True),
         ("MP+fence.rw.rw+po", False)]


def _threads(path: Path):
    """The litmus threads as the layer's accesses (sw/lw through a register, fences)."""
    lit = parse_litmus(path)
    locs = {name: 0x1000 + 8 * i for i, name in enumerate(sorted(lit.locations))}
    init = {locs[n]: int(v) if isinstance(v, int) else 0 for n, v in lit.locations.items()}
    threads = []
    for t, code in enumerate(lit.threads):
        acc = []
        for _, text in code:
            text = " ".join(text.split())
            m = re.fullmatch(r"(sw|lw) (x\d+),0\((x\d+)\)", text)
            if m:
                loc = locs[lit.reg_init[(t, m.group(3))]]
                if m.group(1) == "sw":
                    acc.append(("W", loc, int(lit.reg_init.get((t, m.group(2)), 0))))
                else:
                    acc.append(("R", loc, m.group(2)))
            elif text.replace(" ", "") in {k.replace(" ", "") for k in FENCES}:
                acc.append(("F", FENCES[text.replace(",", ", ").replace(", ", ",")]))
            elif text:
                raise AssertionError(f"{path.name}: not a plain access: {text}")
        threads.append(acc)
    return threads, init


@pytest.mark.parametrize(("name", "complete"), TESTS)
def test_layer_states_against_herd7(name, complete):
    threads, init = _threads(RISCV / f"{name}.litmus")
    herd = read_herd(RISCV / f"{name}.herd7")
    regs = {k for s in herd.states for k, _ in s}
    got = {frozenset((k, str(v)) for k, v in s if k in regs)
           for s in reachable(threads, rules_for("riscv64"), fifo=False, init=init)}
    assert got <= herd.states, f"imprecise: {got - herd.states}"
    assert (got == herd.states) == complete, herd.states - got


def test_tso_layer_is_sb_only():
    """x86-TSO: FIFO buffers and latest-only reads give SB's relaxed outcome, not MP's."""
    sb, init = _threads(RISCV / "SB.litmus")
    mp, init2 = _threads(RISCV / "MP.litmus")
    tso = rules_for("x86_64")
    assert frozenset({("0:x7", 0), ("1:x7", 0)}) in reachable(sb, tso, fifo=True, init=init)
    assert frozenset({("1:x5", 1), ("1:x7", 0)}) not in reachable(mp, tso, fifo=True,
                                                                  init=init2)
