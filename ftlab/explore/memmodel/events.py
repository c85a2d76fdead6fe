"""Events of one thread's execution and the decoded facts of the instructions that make them.

An event is a memory read (R), write (W) or fence (F) as in herd's axiomatic models (Alglave,
Maranget, Tautschnig, "Herding cats", TOPLAS 2014). Dependencies are recorded on the event they
end at, as the set of this thread's read events (local indices) whose values flowed into it:
`addr` into its address, `data` into its stored value, `ctrl` into a conditional branch before
it. The `pick_*` sets also follow values that only *select* between inputs (Arm's CSEL, herd's
iico_ctrl), which aarch64.cat's pick dependencies need; they always include the plain sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EMPTY: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Taint:
    """Which reads a register value came from: by data flow, and by data flow or selection."""

    data: frozenset[int] = EMPTY
    pick: frozenset[int] = EMPTY

    def __or__(self, other: Taint) -> Taint:
        if not other.pick:
            return self
        if not self.pick:
            return other
        return Taint(self.data | other.data, self.pick | other.pick)

    def as_pick(self) -> Taint:
        """Used only to select: it reaches the result as a pick dependency, not as data."""
        return Taint(EMPTY, self.pick)


NO_TAINT = Taint()


@dataclass
class Event:
    kind: str  # R, W, F (fence) or C (cache maintenance of `loc`; -1: all)
    instr: int  # which executed instruction (po index) made it: same-instance checks
    loc: int = -1  # address; -1 for fences
    value: int = 0
    size: int = 0
    tags: frozenset[str] = frozenset()  # ISA annotations: A, Q, L, X, AMO, NoRet, fence kind
    addr: frozenset[int] = EMPTY
    data: frozenset[int] = EMPTY
    ctrl: frozenset[int] = EMPTY
    pick_addr: frozenset[int] = EMPTY
    pick_data: frozenset[int] = EMPTY
    pick_ctrl: frozenset[int] = EMPTY
    forwarded: frozenset[int] = EMPTY  # a read: what flowed (data or pick) into the po-earlier
    # write it may forward from (aarch64deps.cat's lrs inside pick-basic-dep)


@dataclass
class ThreadRun:
    """One way a thread can execute: its events in program order and its final registers."""

    events: list[Event]
    rmw: list[tuple[int, int]]  # (read, write) local indices of atomic pairs
    regs: dict[str, int]
    write_values: dict[int, set[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Insn:
    """What the generic executor needs to know about one instruction (decoded per ISA).

    kind: `op` (registers only; the emulator runs it), `branch` (a conditional branch), `load`
    and `store` (plain accesses; the emulator runs them and the memory hooks supply values),
    `atomic` (the ISA's `execute` runs it: AMOs, CAS, LR/SC, exception return), `fence`,
    `select` (a conditional select: the ISA's `selected` says which source flows into the
    result), `undefined` (faults: the thread's handler runs).
    """

    kind: str
    size: int
    text: str
    reads: tuple[str, ...] = ()  # registers read (for load/store/atomic: the address registers)
    writes: tuple[str, ...] = ()
    select: tuple[str, ...] = ()  # registers read only to choose between inputs
    data: tuple[str, ...] = ()  # store: registers supplying the value
    tags: frozenset[str] = frozenset()
