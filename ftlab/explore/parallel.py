"""The exhaustive search on several processes: work units are schedule prefixes, each worker
explores its own units best-first and hands half of them to an idle worker on request (work
stealing through the coordinator).

Any number of workers gives the same verdict and counterexample: the violation reported is the
least one in the canonical order (search.canonical_key), and a unit is dropped only when its
lower bound follows the least violation found so far, so the coordinator reports only once
every unit that could precede it is done."""

from __future__ import annotations

import heapq
import multiprocessing
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, wait

from ftlab import interrupts
from ftlab.explore.search import (
    Key,
    Outcome,
    Stats,
    canonical_key,
    counts,
    execute,
    expand,
    unit_key,
)
from ftlab.explore.world import World

PROGRESS_S = 0.5  # how often a worker reports its count
RETRY_S = 0.05  # a worker that had nothing to share is not asked again sooner

Unit = tuple[Key, int, list[str]]  # (lower bound, preemption cost, prefix)


def _worker(conn: Connection, make_world: Callable[[], World], bound: int,
            invariant: str | None) -> None:
    interrupts.ignore_in_child()
    world = make_world()
    heap: list[Unit] = []
    best: Key | None = None
    done = 0
    states: set = set()  # end states seen since the last report
    received = 0  # "units" messages: the coordinator knows an idle report is current by it
    last = time.perf_counter()
    idle = False

    def handle(msg: tuple) -> bool:
        nonlocal best, idle, received
        kind = msg[0]
        if kind == "units":
            received += 1
            for unit in msg[1]:
                heapq.heappush(heap, unit)
            idle = False
        elif kind == "best":
            if best is None or msg[1] < best:
                best = msg[1]
        elif kind == "steal":  # give every other unit, the least kept
            keep, give = [], []
            for i, unit in enumerate(sorted(heap)):
                (keep if i % 2 == 0 else give).append(unit)
            heap[:] = keep
            conn.send(("donate", give))
        elif kind == "stop":
            return False
        return True

    while True:
        if not heap:
            if not idle:
                conn.send(("idle", done, received, states))
                done, states = 0, set()
                idle = True
            if not handle(conn.recv()):
                return
            continue
        while conn.poll():
            if not handle(conn.recv()):
                return
        if not heap:
            continue
        lower, pcost, prefix = heapq.heappop(heap)
        if best is not None and lower > best:
            continue
        run = execute(world, prefix)
        done += 1
        states.add(run.state_key)
        if counts(run, invariant):
            key = canonical_key(pcost, run.schedule)
            if best is None or key < best:
                best = key
                conn.send(("found", key, run.schedule, pcost))
        elif run.violation is None:
            for ucost, unit in expand(run, prefix, bound):
                ukey = unit_key(ucost, unit)
                if best is None or ukey < best:
                    heapq.heappush(heap, (ukey, ucost, unit))
        now = time.perf_counter()
        if now - last >= PROGRESS_S:
            conn.send(("progress", done, None, states))
            done, states = 0, set()
            last = now


def explore_parallel(world: World, make_world: Callable[[], World], bound: int, jobs: int,
                     budget: float | None = None,
                     progress: Callable[[Stats], None] | None = None,
                     invariant: str | None = None) -> Outcome:
    """explore_exhaustive on `jobs` worker processes (fork); `world` replays the result.
    Stats.rate is executions per second across workers."""
    stats = Stats()
    start = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    conns: list[Connection] = []
    procs = []
    for _ in range(jobs):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child, make_world, bound, invariant),
                           daemon=True)
        proc.start()
        child.close()
        conns.append(parent)
        procs.append(proc)
    try:
        return _coordinate(world, conns, bound, budget, progress, stats, start)
    except KeyboardInterrupt as err:
        stats.seconds = time.perf_counter() - start
        return Outcome("incomplete", None, stats, bound,
                       interrupted=getattr(err, "signum", signal.SIGINT))
    finally:
        for proc in procs:  # the workers ignore SIGINT: end them here
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join()
        for conn in conns:
            conn.close()


def _coordinate(world: World, conns: list[Connection], bound: int, budget: float | None,
                progress: Callable[[Stats], None] | None, stats: Stats,
                start: float) -> Outcome:
    n = len(conns)
    idle: set[int] = set()  # idle with every unit sent to it done
    asked: set[int] = set()  # workers asked to share, not yet answered
    sent = [0] * n
    refused = [0.0] * n  # when each worker last had nothing to share
    best: tuple[Key, list[str], int] | None = None

    def give(i: int, units: list[Unit]) -> None:
        conns[i].send(("units", units))
        sent[i] += 1
        idle.discard(i)

    give(0, [(unit_key(0, []), 0, [])])
    last = start
    while len(idle) < n or asked:
        now = time.perf_counter()
        if budget is not None and now - start > budget:
            stats.seconds = now - start
            return Outcome("incomplete", None, stats, bound)
        if progress is not None and now - last >= PROGRESS_S:
            stats.seconds = now - start
            progress(stats)
            last = now
        for conn in wait(conns, timeout=RETRY_S if idle else PROGRESS_S):
            i = conns.index(conn)
            msg = conn.recv()
            kind = msg[0]
            if kind in ("idle", "progress"):
                stats.schedules += msg[1]
                stats.states |= msg[3]
            if kind == "idle" and msg[2] == sent[i]:
                idle.add(i)
            elif kind == "found":
                key, schedule, pcost = msg[1], msg[2], msg[3]
                if best is None or key < best[0]:
                    best = (key, schedule, pcost)
                    for other in conns:
                        other.send(("best", key))
            elif kind == "donate":
                asked.discard(i)
                if msg[1]:
                    give(min(idle) if idle else i, msg[1])
                else:
                    refused[i] = time.perf_counter()
        # ask as many busy workers to share as there are idle ones
        now = time.perf_counter()
        for i in range(n):
            if len(idle) <= len(asked):
                break
            if i not in idle and i not in asked and sent[i] and now - refused[i] >= RETRY_S:
                conns[i].send(("steal",))
                asked.add(i)
    stats.seconds = time.perf_counter() - start
    if best is None:
        return Outcome("safe", None, stats, bound)
    run = execute(world, best[1])
    stats.states.add(run.state_key)
    return Outcome("violation", run, stats, best[2])
