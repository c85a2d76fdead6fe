"""Candidate executions: one run per thread, a reads-from and a coherence order; the model says
which are allowed (herd7's method, "Herding cats", TOPLAS 2014).

Initial values are writes of a pseudo-thread (-1) that come first in every coherence order.
A model sees each candidate as a `Candidate` with the common relations already built (po, rf,
co, fr, rmw, po-loc, internal/external masks) and its own per-run static relation lifted to the
whole execution; it answers with `allowed(candidate)`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from ftlab.explore.memmodel import relations as R
from ftlab.explore.memmodel.events import Event, ThreadRun


@dataclass
class LocalOrder:
    """What a model derives from one thread run alone: its static ordering among the run's
    events (local indices) and whatever else its axioms need later (`facts`)."""

    rel: list[int]
    facts: Any = None


class Model(Protocol):
    name: str

    def local(self, run: ThreadRun) -> LocalOrder:
        """Static facts of one run, computed once per run."""
        ...

    # optional: `per_location_coherence = True` when the axioms imply acyclic(po-loc | rf | co |
    # fr); `coherence_exempt = TAG` for events they do not cover (instruction fetches)

    def allowed(self, cand: Candidate) -> bool: ...


@dataclass
class Candidate:
    events: list[Event]
    tid: list[int]
    offsets: list[int]  # first global index of each thread's events
    po: R.Rel  # transitive program order
    po_loc: R.Rel
    same_thread: list[int]  # bitmask of events of the same thread (init writes: none)
    reads: int
    writes: int
    fences: int
    rmw: R.Rel
    local: R.Rel  # the model's static relation, lifted
    rf: R.Rel
    co: R.Rel  # transitive
    fr: R.Rel
    rf_src: list[int]  # read -> the write it reads from (-1 for non-reads)
    locals: list[LocalOrder]  # per thread, what the model derived from its run

    def internal(self, rel: R.Rel) -> R.Rel:
        return [succ & self.same_thread[i] for i, succ in enumerate(rel)]

    def external(self, rel: R.Rel) -> R.Rel:
        return [succ & ~self.same_thread[i] for i, succ in enumerate(rel)]

    def tagged(self, tag: str) -> int:
        mask = 0
        for i, ev in enumerate(self.events):
            if tag in ev.tags:
                mask |= 1 << i
        return mask


@dataclass
class Outcome:
    runs: tuple[ThreadRun, ...]
    final_mem: dict[int, int]  # location address -> value of the coherence-last write


class _Combo:
    """Everything about one choice of thread runs that does not depend on rf or co."""

    def __init__(self, runs: tuple[ThreadRun, ...], init: dict[int, int], model: Model,
                 local_cache: dict[int, LocalOrder]) -> None:
        events: list[Event] = []
        tid: list[int] = []
        for loc, value in init.items():
            events.append(Event("W", -1, loc, value, 8, frozenset({"IW"})))
            tid.append(-1)
        offsets = []
        for t, run in enumerate(runs):
            offsets.append(len(events))
            events.extend(run.events)
            tid.extend([t] * len(run.events))
        n = len(events)
        self.n = n
        self.events = events
        self.tid = tid
        self.offsets = offsets
        same = [0] * n
        po = [0] * n
        for t, run in enumerate(runs):
            base = offsets[t]
            k = len(run.events)
            block = ((1 << k) - 1) << base
            for i in range(k):
                same[base + i] = block
                po[base + i] = block & ~((1 << (base + i + 1)) - 1)
        self.same = same
        self.po = po
        by_loc: dict[int, int] = {}
        for i, ev in enumerate(events):
            if ev.kind in "RW":
                by_loc[ev.loc] = by_loc.get(ev.loc, 0) | (1 << i)
        self.loc_mask = [by_loc[ev.loc] if ev.kind in "RW" else 0 for ev in events]
        self.po_loc = [po[i] & self.loc_mask[i] for i in range(n)]
        self.reads = sum(1 << i for i, ev in enumerate(events) if ev.kind == "R")
        self.writes = sum(1 << i for i, ev in enumerate(events) if ev.kind == "W")
        self.fences = sum(1 << i for i, ev in enumerate(events) if ev.kind == "F")
        rmw = [0] * n
        local = [0] * n
        for t, run in enumerate(runs):
            base = offsets[t]
            for r, w in run.rmw:
                rmw[base + r] |= 1 << (base + w)
            key = id(run)
            if key not in local_cache:
                local_cache[key] = model.local(run)
            for i, succ in enumerate(local_cache[key].rel):
                local[base + i] = succ << base
        self.rmw = rmw
        self.locals = [local_cache[id(run)] for run in runs]
        self.local = local
        # rf candidates: same location, same value
        self.read_ids = [i for i, ev in enumerate(events) if ev.kind == "R"]
        self.rf_options: list[list[int]] = []
        for r in self.read_ids:
            ev = events[r]
            opts = [w for w in R.bits(self.writes & self.loc_mask[r])
                    if events[w].value & _mask(ev.size) == ev.value]
            self.rf_options.append(opts)
        self.init_ids = {events[i].loc: i for i in range(len(init))}
        # models whose axioms imply SC per location (on all events but those tagged
        # `coherence_exempt`) let the enumeration drop incoherent choices location by location
        self.check_coherence = getattr(model, "per_location_coherence", False)
        exempt_tag = getattr(model, "coherence_exempt", None)
        self.exempt = sum(1 << i for i, ev in enumerate(events)
                          if exempt_tag is not None and exempt_tag in ev.tags)
        self.loc_writes: dict[int, list[int]] = {}
        for i, ev in enumerate(events):
            if ev.kind == "W" and tid[i] >= 0:
                self.loc_writes.setdefault(ev.loc, []).append(i)

    def feasible(self) -> bool:
        return all(self.rf_options)

    def _per_location(self, loc: int, exempt: int) -> list[tuple[list[tuple[int, int]], list[int]]]:
        """The (reads-from pairs, coherence chain) choices for one location, keeping only those
        coherent there (acyclic po-loc | rf | co | fr over its events but `exempt` ones)."""
        reads = [(k, r) for k, r in enumerate(self.read_ids) if self.events[r].loc == loc]
        chains = [[self.init_ids[loc], *order]
                  for order in itertools.permutations(self.loc_writes.get(loc, []))]
        out = []
        n = self.n
        for pick in itertools.product(*(self.rf_options[k] for k, _ in reads)):
            pairs = [(r, w) for (_, r), w in zip(reads, pick, strict=True)]
            for chain in chains:
                if self.check_coherence:
                    rel = [self.po_loc[i] & ~exempt if not (exempt >> i) & 1 else 0
                           for i in range(n)]
                    later = 0
                    pos = {}
                    for w in reversed(chain):
                        rel[w] |= later & ~exempt
                        later |= 1 << w
                        pos[w] = later
                    for r, w in pairs:
                        if (exempt >> r) & 1:
                            continue
                        rel[w] |= 1 << r
                        rel[r] |= (pos[w] & ~(1 << w)) & ~exempt
                    if not R.acyclic(rel):
                        continue
                out.append((pairs, chain))
        return out

    def candidates(self) -> Iterator[tuple[Candidate, dict[int, int]]]:
        n = self.n
        locs = sorted(self.init_ids)
        per_loc = [self._per_location(loc, self.exempt) for loc in locs]
        for picks in itertools.product(*per_loc):
            rf = [0] * n
            rf_src = [-1] * n
            co = [0] * n
            final: dict[int, int] = {}
            for loc, (pairs, chain) in zip(locs, picks, strict=True):
                for r, w in pairs:
                    rf[w] |= 1 << r
                    rf_src[r] = w
                later = 0
                for w in reversed(chain):
                    co[w] = later
                    later |= 1 << w
                final[loc] = self.events[chain[-1]].value
            fr = [0] * n
            for r in self.read_ids:
                fr[r] = co[rf_src[r]] & ~(1 << r)
            cand = Candidate(self.events, self.tid, self.offsets, self.po, self.po_loc,
                             self.same, self.reads, self.writes, self.fences, self.rmw,
                             self.local, rf, co, fr, rf_src, self.locals)
            yield cand, final


def _mask(size: int) -> int:
    return (1 << (8 * size)) - 1


def outcomes(per_thread: list[list[ThreadRun]], init: dict[int, int],
             model: Model) -> Iterator[Outcome]:
    """Every allowed execution's thread runs and final memory."""
    cache: dict[int, LocalOrder] = {}  # by id(): the runs outlive this generator
    for runs in itertools.product(*per_thread):
        combo = _Combo(runs, init, model, cache)
        if not combo.feasible():
            continue
        for cand, final in combo.candidates():
            if model.allowed(cand):
                yield Outcome(runs, final)


def coherence_ok(c: Candidate) -> bool:
    """SC per location: acyclic(po-loc | rf | co | fr) (herd's uniproc)."""
    return R.acyclic(R.union(c.po_loc, c.rf, c.co, c.fr))


def atomic_ok(c: Candidate) -> bool:
    """empty rmw & (fre; coe): no external write between an atomic pair's read and write."""
    fre = c.external(c.fr)
    coe = c.external(c.co)
    between = R.seq(fre, coe)
    return all(not (succ & between[i]) for i, succ in enumerate(c.rmw))
