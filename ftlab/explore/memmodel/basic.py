"""The base relations and sets every architecture's model starts from (herd's cat prelude:
po, R, W, M, loc, po-loc, addr/data/ctrl, tagged events), over one thread's events."""

from __future__ import annotations

from collections.abc import Sequence

from ftlab.explore.memmodel.events import Event
from ftlab.explore.memmodel.relations import Rel


def program_order(n: int) -> Rel:
    """po: every event before every later one of the thread."""
    return [((1 << n) - 1) & ~((1 << (i + 1)) - 1) for i in range(n)]


def of_kind(ev: Sequence[Event], kinds: str) -> int:
    """The events whose kind is one of `kinds` ("R", "W", "RW", ...), as a set."""
    return sum(1 << i for i, e in enumerate(ev) if e.kind in kinds)


def tagged(ev: Sequence[Event], tag: str) -> int:
    return sum(1 << i for i, e in enumerate(ev) if tag in e.tags)


def same_location(ev: Sequence[Event], kinds: str = "RW") -> Rel:
    """loc: events of `kinds` with the same location (reflexive); empty for the others."""
    return [sum(1 << j for j, f in enumerate(ev) if f.kind in kinds and f.loc == e.loc)
            if e.kind in kinds else 0 for e in ev]


def dependency(ev: Sequence[Event], field: str) -> Rel:
    """addr, data, ctrl (or the pick forms): from the events each event's `field` names to it,
    between different instructions (an instruction's own events are ordered by its rules)."""
    rel = [0] * len(ev)
    for j, e in enumerate(ev):
        for i in getattr(e, field):
            if ev[i].instr != e.instr:
                rel[i] |= 1 << j
    return rel
