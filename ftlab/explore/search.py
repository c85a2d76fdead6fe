"""Schedule search: iterative context bounding (CHESS) and randomized priorities (PCT).

A schedule is the list of actors chosen at each decision: P (the patcher's next step), W/Wk
(a buffered store becomes visible), Hn (hart n runs to its next visible point), Hn:old /
Hn:udf (the hart executes a stale or undefined fetch), and Hn:rK / P:rK (a read returns the
message K writes before the latest the memory model allows, ftlab/explore/weak.py).
Switching away from an actor that could go on, and every non-default fetch, drain or read
choice, costs one preemption."""

from __future__ import annotations

import heapq
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ftlab.explore.world import MAX_ACTIONS, Action, Violation, World

ORDER = ("P", "W")


@dataclass
class Decision:
    enabled: tuple[str, ...]
    chosen: str
    current: str | None


@dataclass
class Execution:
    decisions: list[Decision]
    actions: list[Action]
    violation: Violation | None
    state_key: tuple

    @property
    def schedule(self) -> list[str]:
        return [d.chosen for d in self.decisions]


def base(actor: str) -> str:
    """The actor a choice belongs to (Hn:old is hart n; W1 is the store buffer)."""
    return actor.split(":")[0] if actor.startswith(("H", "P")) else (
        "W" if actor.startswith("W") else actor)


def cost(d: Decision) -> int:
    """One preemption for leaving an actor that could continue, or a non-default choice."""
    if ":" in d.chosen or (d.chosen.startswith("W") and d.chosen != "W"):
        return 1
    if d.current is not None and d.current in d.enabled and d.chosen != d.current:
        return 1
    return 0


def default_choice(current: str | None, enabled: list[str]) -> str:
    if current is not None and current in enabled:
        return current
    for actor in ORDER:
        if actor in enabled:
            return actor
    return enabled[0]


def execute(world: World, prefix: list[str], record: bool = False) -> Execution:
    """Run one schedule: `prefix`, then the default (no preemption) continuation."""
    world.restore()
    world.recording = record
    decisions: list[Decision] = []
    actions: list[Action] = []
    current: str | None = None
    violation = None
    try:
        while True:
            enabled = world.enabled()
            if not enabled:
                break
            # the default continuation never takes a fetch variant or a reordered drain
            plain = [a for a in enabled if ":" not in a and not (a.startswith("W") and a != "W")]
            i = len(decisions)
            if i < len(prefix):
                choice = prefix[i]
                if choice not in enabled:
                    raise Violation("replay", f"step {i}: {choice} cannot run here "
                                    f"(enabled: {', '.join(enabled)})")
            else:
                choice = default_choice(current, plain)
            decisions.append(Decision(tuple(enabled), choice, current))
            action = world.act(choice)
            if record:
                actions.append(action)
            current = base(choice)
            if len(decisions) > MAX_ACTIONS:
                raise Violation("hang", f"no end after {MAX_ACTIONS} scheduling decisions")
        world.check_end()
    except Violation as v:
        violation = v
        if record and v.action is not None:
            actions.append(v.action)
    key = (tuple(t.result for t in world.tasks), violation.invariant if violation else None)
    return Execution(decisions, actions, violation, key)


@dataclass
class Stats:
    schedules: int = 0
    states: set = field(default_factory=set)
    seconds: float = 0.0
    max_preemptions: int = 0


# random search finding nothing proves nothing: never "safe"
NOT_FOUND = "no violation found"


@dataclass
class Outcome:
    verdict: str  # safe, violation, incomplete, NOT_FOUND (random search)
    execution: Execution | None
    stats: Stats
    preemptions: int
    interrupted: int | None = None  # the signal that ended the search early

    def verdict_text(self) -> str:
        if self.verdict == NOT_FOUND:
            return f"{NOT_FOUND} in {self.stats.schedules} random schedules (not a proof)"
        if self.interrupted is not None:
            return f"incomplete (interrupted by {signal.Signals(self.interrupted).name})"
        return self.verdict


def _interrupted(stats: Stats, start: float, bound: int, err: KeyboardInterrupt) -> Outcome:
    """What a search covered before a signal ended it: never a verdict."""
    stats.seconds = time.perf_counter() - start
    return Outcome("incomplete", None, stats, bound,
                   interrupted=getattr(err, "signum", signal.SIGINT))


def _prefix_cost(decisions: list[Decision]) -> int:
    return sum(cost(d) for d in decisions)


def actor_rank(actor: str) -> tuple[int, int, str]:
    """The canonical order of actors: the patcher, then store-buffer drains (the default
    drain first), then harts by number, a hart's plain run before its fetch variants."""
    if actor == "P":
        return (0, 0, "")
    if actor.startswith("W"):
        return (1, int(actor[1:]) + 1 if actor[1:].isdigit() else 0, actor)
    if actor.startswith("H"):
        name, _, variant = actor[1:].partition(":")
        return (2, int(name) if name.isdigit() else 0, variant)
    return (3, 0, actor)


Key = tuple  # (preemptions, decisions, actor ranks of the schedule)


def canonical_key(preemptions: int, schedule: list[str]) -> Key:
    """Minimal counterexamples are ordered by fewest preemptions, then fewest decisions,
    then actor order, decision by decision: a total order, so the minimum is unique."""
    return (preemptions, len(schedule), tuple(actor_rank(a) for a in schedule))


def unit_key(pcost: int, prefix: list[str]) -> Key:
    """A lower bound on the key of every execution below `prefix`: they all cost `pcost`
    (the default continuation never preempts) and have at least len(prefix) decisions; the
    prefix's own key follows those at least as long."""
    return canonical_key(pcost, prefix)


def expand(run: Execution, prefix: list[str], bound: int) -> list[tuple[int, list[str]]]:
    """The work units one execution opens: each other choice at a decision past `prefix`,
    with its preemption cost, within `bound`."""
    units = []
    so_far = _prefix_cost(run.decisions[:len(prefix)])
    for j in range(len(prefix), len(run.decisions)):
        d = run.decisions[j]
        for alt in d.enabled:
            if alt == d.chosen:
                continue
            alt_cost = so_far + cost(Decision(d.enabled, alt, d.current))
            if alt_cost <= bound:
                units.append((alt_cost, [x.chosen for x in run.decisions[:j]] + [alt]))
        so_far += cost(d)
    return units


def explore_exhaustive(world: World, bound: int, budget: float | None = None,
                       progress: Callable[[Stats], None] | None = None,
                       roots: list[list[str]] | None = None,
                       invariant: str | None = None) -> Outcome:
    """Every schedule with at most `bound` preemptions, in canonical order (fewest
    preemptions, then fewest decisions, then actor order); the violation reported is the
    least in that order, the same whatever order the work is done in (see parallel.py).
    With `invariant`, violations of other invariants end their schedule but the search goes
    on."""
    stats = Stats()
    start = time.perf_counter()
    heap: list[tuple[Key, int, list[str]]] = []
    for root in roots or [[]]:
        heapq.heappush(heap, (unit_key(0, root), 0, root))
    try:
        return _exhaustive_loop(world, bound, budget, progress, invariant, stats, start, heap)
    except KeyboardInterrupt as err:
        return _interrupted(stats, start, bound, err)


def counts(run: Execution, invariant: str | None) -> bool:
    """Whether the execution's violation is one the search looks for."""
    return run.violation is not None and (invariant is None
                                          or run.violation.invariant == invariant)


def _exhaustive_loop(world: World, bound: int, budget: float | None,
                     progress: Callable[[Stats], None] | None, invariant: str | None,
                     stats: Stats, start: float, heap: list) -> Outcome:
    best: tuple[Key, Execution, int] | None = None
    while heap and (best is None or heap[0][0] < best[0]):
        lower, pcost, prefix = heapq.heappop(heap)
        if budget is not None and time.perf_counter() - start > budget:
            stats.seconds = time.perf_counter() - start
            return Outcome("incomplete", None, stats, bound)
        run = execute(world, prefix)
        stats.schedules += 1
        stats.states.add(run.state_key)
        stats.max_preemptions = max(stats.max_preemptions, pcost)
        if progress is not None and stats.schedules % 25 == 0:
            stats.seconds = time.perf_counter() - start
            progress(stats)
        if counts(run, invariant):
            key = canonical_key(pcost, run.schedule)
            if best is None or key < best[0]:
                best = (key, run, pcost)
            continue
        if run.violation is not None:
            continue
        for ucost, unit in expand(run, prefix, bound):
            ukey = unit_key(ucost, unit)
            if best is None or ukey < best[0]:
                heapq.heappush(heap, (ukey, ucost, unit))
    stats.seconds = time.perf_counter() - start
    if best is not None:
        return Outcome("violation", best[1], stats, best[2])
    return Outcome("safe", None, stats, bound)


def explore_random(world: World, seed: int, schedules: int, depth: int = 2,
                   budget: float | None = None,
                   progress: Callable[[Stats], None] | None = None) -> Outcome:
    """Probabilistic concurrency testing: random actor priorities, `depth` priority changes
    at random points; fetch and drain choices taken with a small probability."""
    stats = Stats()
    start = time.perf_counter()
    try:
        return _random_loop(world, seed, schedules, depth, budget, progress, stats, start)
    except KeyboardInterrupt as err:
        return _interrupted(stats, start, depth, err)


def _random_loop(world: World, seed: int, schedules: int, depth: int, budget: float | None,
                 progress: Callable[[Stats], None] | None, stats: Stats,
                 start: float) -> Outcome:
    rng = random.Random(seed)
    for _ in range(schedules):
        if budget is not None and time.perf_counter() - start > budget:
            stats.seconds = time.perf_counter() - start
            return Outcome("incomplete", None, stats, depth)
        world.restore()
        prio = {}
        # `depth` priority change points among the first steps (more points than steps: all)
        changes = set(rng.sample(range(1, max(200, depth + 1)), depth))
        prefix: list[str] = []
        current: str | None = None
        try:
            step = 0
            while True:
                enabled = world.enabled()
                if not enabled:
                    break
                for a in enabled:
                    prio.setdefault(base(a), rng.random())
                variants = [a for a in enabled if ":" in a or (a.startswith("W") and a != "W")]
                if variants and rng.random() < 0.2:
                    choice = rng.choice(variants)
                else:
                    plain = [a for a in enabled if a not in variants]
                    choice = max(plain, key=lambda a: prio[base(a)])
                if step in changes and current is not None:
                    prio[current] = -rng.random()
                prefix.append(choice)
                world.act(choice)
                current = base(choice)
                step += 1
                if step > MAX_ACTIONS:
                    raise Violation("hang", "no end")
            world.check_end()
        except Violation:
            run = execute(world, prefix)
            stats.schedules += 1
            stats.seconds = time.perf_counter() - start
            if run.violation is not None:
                return Outcome("violation", run, stats, _prefix_cost(run.decisions))
            continue
        stats.schedules += 1
        stats.states.add((tuple(t.result for t in world.tasks), None))
        if progress is not None and stats.schedules % 25 == 0:
            stats.seconds = time.perf_counter() - start
            progress(stats)
    stats.seconds = time.perf_counter() - start
    return Outcome(NOT_FOUND, None, stats, depth)
