"""Operational weak memory for the race explorer's shared locations.

The model follows Promising-ARM/RISC-V (Pulte, Pichon-Pharabod, Kang, Lee, Hur, PLDI 2019):
memory is one list of write messages ordered by a global timestamp, and each actor (a hart, the
patcher, a hart being brought online) keeps views that bound which messages its reads may
return. A read of location x may return the latest message to x at or before the actor's view,
or any later one; reading a message raises the actor's view of x (coherence). Fences raise the
read view to the actor's earlier reads and writes (smp_mb) or reads (smp_rmb); a fully
ordered RMW (an .aqrl AMO) raises it to its own write.

What is approximated (each keeps the reachable states a subset of the architecture's):
- No promises: a write is appended when it is performed. Write-write reordering comes from the
  patcher's store buffer instead (x86: FIFO drain; arm64/riscv: any order within a barrier
  epoch); harts' own stores in guest code are performed at once. Load buffering (LB shapes,
  a write visible before a program-order-earlier read) is not reached.
- A hart's loads of shared data stay in program order among themselves: each read raises the
  read view, as if every load depended on every earlier one. Independent-load reordering on
  one hart is not explored; dependencies are therefore never needed to forbid anything.
- Shared locations are the 8-byte words the patcher writes or reads during the update (and the
  incoming hart's online flag); other memory (stacks, per-CPU trace buffers) is sequentially
  consistent. On x86 every read returns the latest message (TSO): only the store buffer is weak.

Every weak choice -- a read of a non-latest message, a drain out of order, a stale fetch -- is
an explorer decision that costs one preemption (docs/memory-model.md, "Bounds").
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WeakRules:
    """What one architecture's explorer model allows (ftlab/arch/<isa>/weak.py)."""

    model: str  # the name shown in reports
    stale_loads: bool  # a read may return a non-latest message (not on TSO)
    refetch_old: bool  # a fetch of new code does not end the stale view (Arm: until CSE)
    # IPI handler -> what it does on the receiving hart: "csync" ends stale fetches
    # (fence.i, sync_core, exception return on arm64), "rmb" only orders reads
    ipi_handlers: dict[str, str] = field(default_factory=dict)
    default_handler: str = "csync"
    # the incoming hart's bring-up, in the order of the arch's smpboot.c
    boot: tuple[str, ...] = ("set_cpu_online", "local_irq_enable")
    approximates: str = ""


def rules_for(arch_name: str) -> WeakRules:
    return importlib.import_module(f"ftlab.arch.{arch_name}.weak").RULES


@dataclass
class ActorView:
    floor: int = 0  # reads return nothing older than what was visible at this timestamp
    read: int = 0  # latest message read (Promising's vrOld)
    wrote: int = 0  # latest own write (vwOld)
    coh: dict[int, int] = field(default_factory=dict)  # per location: latest seen or written


class WeakMemory:
    def __init__(self, rules: WeakRules, initial: dict[int, bytes]) -> None:
        self.rules = rules
        self.history: dict[int, list[tuple[int, bytes]]] = {
            loc: [(0, data)] for loc, data in initial.items()}
        self.clock = 0
        self.views: dict[str, ActorView] = {}

    def view(self, actor: str) -> ActorView:
        v = self.views.get(actor)
        if v is None:
            v = self.views[actor] = ActorView()
        return v

    def tracked(self, addr: int) -> int | None:
        loc = addr & ~7
        return loc if loc in self.history else None

    def write(self, actor: str, loc: int, data: bytes) -> int:
        self.clock += 1
        self.history[loc].append((self.clock, data))
        v = self.view(actor)
        v.wrote = self.clock
        v.coh[loc] = self.clock
        return self.clock

    def readable(self, actor: str, loc: int) -> list[tuple[int, bytes]]:
        """The messages a read may return, latest first."""
        hist = self.history[loc]
        if not self.rules.stale_loads:
            return [hist[-1]]
        v = self.view(actor)
        bound = max(v.floor, v.coh.get(loc, 0))
        older = [m for m in hist if m[0] <= bound]
        newer = [m for m in hist if m[0] > bound]
        return list(reversed(older[-1:] + newer))

    def read(self, actor: str, loc: int, ts: int) -> None:
        v = self.view(actor)
        v.read = max(v.read, ts)
        v.coh[loc] = max(v.coh.get(loc, 0), ts)
        v.floor = max(v.floor, ts)  # loads in program order (see the module docstring)

    def fence(self, actor: str, kind: str) -> None:
        """smp_mb: later reads see everything earlier accesses saw or wrote; smp_rmb: reads."""
        v = self.view(actor)
        if kind in ("smp_mb", "full"):
            v.floor = max(v.floor, v.read, v.wrote)
        elif kind in ("smp_rmb", "rmb"):
            v.floor = max(v.floor, v.read)

    def acquire(self, actor: str, ts: int) -> None:
        """A fully ordered access at `ts` (llist_del_all's xchg, an .aqrl AMO): later reads
        see every message up to it."""
        v = self.view(actor)
        v.floor = max(v.floor, ts)


# --- the layer on its own: threads of plain accesses, every interleaving (for validation) ----
Access = tuple  # ("W", loc, value) | ("R", loc, register) | ("F", kind)


def reachable(threads: list[list[Access]], rules: WeakRules, fifo: bool,
              init: dict[int, int]) -> set[frozenset[tuple[str, int]]]:
    """Final register states of `threads` run as the explorer runs its patcher: stores to a
    buffer drained in order (fifo) or any order within a barrier epoch, smp_mb waiting for
    the buffer, reads forwarded from it or chosen among the messages `rules` allow."""
    import copy

    start = {loc: value.to_bytes(8, "little") for loc, value in init.items()}
    out: set[frozenset[tuple[str, int]]] = set()
    # state: memory, per thread (pc, buffer [(epoch, loc, value)], epoch), registers
    stack = [(WeakMemory(rules, start), tuple((0, (), 0) for _ in threads), ())]
    while stack:
        mem, ths, regs = stack.pop()
        moved = False
        for t, (pc, buf, epoch) in enumerate(ths):
            me = f"T{t}"
            first = buf[0][0] if buf else None
            for k, (e, loc, value) in enumerate(buf):  # drains
                if (fifo and k) or e != first:
                    break
                m2 = copy.deepcopy(mem)
                m2.write(me, loc, value.to_bytes(8, "little"))
                nb = buf[:k] + buf[k + 1:]
                stack.append((m2, ths[:t] + ((pc, nb, epoch),) + ths[t + 1:], regs))
                moved = True
            if pc >= len(threads[t]):
                continue
            acc = threads[t][pc]
            after = ths[:t] + ((pc + 1, buf, epoch),) + ths[t + 1:]
            if acc[0] == "W":
                stack.append((mem, ths[:t] + ((pc + 1, buf + ((epoch, acc[1], acc[2]),),
                                                epoch),) + ths[t + 1:], regs))
            elif acc[0] == "F":
                if acc[1] == "smp_mb" and buf:
                    continue
                m2 = copy.deepcopy(mem)
                m2.fence(me, acc[1])
                stack.append((m2, ths[:t] + ((pc + 1, buf, epoch + 1),) + ths[t + 1:], regs))
            else:
                own = [v for _, loc, v in buf if loc == acc[1]]
                if own:
                    stack.append((mem, after, regs + ((f"{t}:{acc[2]}", own[-1]),)))
                else:
                    for ts, data in mem.readable(me, acc[1]):
                        m2 = copy.deepcopy(mem)
                        m2.read(me, acc[1], ts)
                        stack.append((m2, after, regs + ((f"{t}:{acc[2]}",
                                                           int.from_bytes(data, "little")),)))
            moved = True
        if not moved:
            out.add(frozenset(regs))
    return out
