"""`ftlab explore` and `ftlab replay`: drive the search, print verdicts and counterexamples."""

from __future__ import annotations

import json
import signal
import sys

from ftlab.errors import FtlabError, UsageError
from ftlab.explore.parallel import explore_parallel
from ftlab.explore.report import load_report, replay, report_dict, timeline
from ftlab.explore.scenarios import SCENARIOS, custom_scenario, get_scenario
from ftlab.explore.search import (
    NOT_FOUND,
    Outcome,
    Stats,
    execute,
    explore_exhaustive,
    explore_random,
)
from ftlab.explore.weak import rules_for
from ftlab.explore.world import VARIANTS, Scenario, World
from ftlab.outputs import write_stdout, write_text

# exit codes: an interrupted search exits 128 + the signal (130, 143) with an incomplete report
EXIT = {"safe": 0, NOT_FOUND: 0, "violation": 1, "incomplete": 3}


def list_scenarios() -> str:
    lines = [f"{'scenario':32} {'expected':10} description"]
    for s in SCENARIOS.values():
        lines.append(f"{s.name:32} {s.expect:10} {s.description}")
    lines.append("")
    lines.append("memory models (ftlab/explore/weak.py):")
    for arch in sorted({s.arch for s in SCENARIOS.values()}):
        lines.append(f"  {arch}: {rules_for(arch).model}")
    lines.append("variants (--variant): " + "; ".join(f"{k}: {v}" for k, v in VARIANTS.items()))
    return "\n".join(lines)


def _progress(stats: Stats) -> None:
    if sys.stderr.isatty():
        rate = stats.schedules / stats.seconds if stats.seconds else 0.0
        sys.stderr.write(f"\r  {stats.schedules} schedules ({rate:.0f}/s), "
                         f"{len(stats.states)} distinct end states, {stats.seconds:.1f} s")
        sys.stderr.flush()


def _scenario(spec: dict) -> Scenario:
    if spec.get("name"):
        return get_scenario(spec["name"])
    return custom_scenario(spec["guest"], spec["entry"], spec["arch"], spec["scheme"],
                           spec["operation"], spec["filters"])


def explore(spec: dict, harts: int | None, bound: int, strategy: str, seed: int, jobs: int,
            budget: float | None, schedules: int) -> tuple[Scenario, World, Outcome]:
    sc = _scenario(spec)
    world = World(sc, harts=harts, hotplug=spec.get("hotplug", False),
                  variants=tuple(spec.get("variants", ())))
    if strategy == "random":
        return sc, world, explore_random(world, seed, schedules, depth=max(1, bound),
                                         budget=budget, progress=_progress)
    if jobs <= 1:
        return sc, world, explore_exhaustive(world, bound, budget=budget, progress=_progress,
                                             invariant=sc.invariant)

    def make_world() -> World:
        return World(_scenario(spec), harts=harts, hotplug=spec.get("hotplug", False),
                     variants=tuple(spec.get("variants", ())))

    return sc, world, explore_parallel(world, make_world, bound, jobs, budget=budget,
                                       progress=_progress, invariant=sc.invariant)


def format_text(sc: Scenario, world: World, out: Outcome, strategy: str) -> str:
    s = out.stats
    lines = [f"scenario {sc.name} ({sc.arch}, scheme {sc.scheme}, {world.nharts} harts"
             f"{' + 1 coming online' if world.hotplug is not None else ''}): {sc.description}",
             f"memory model: {world.rules.model}"
             + (f"; variants: {', '.join(world.variants)}" if world.variants else ""),
             f"verdict: {out.verdict_text()} (expected: {sc.expect}); {strategy}, "
             f"{s.schedules} schedules, {len(s.states)} distinct end states, {s.seconds:.1f} s"]
    if out.execution is not None and out.execution.violation is not None:
        v = out.execution.violation
        lines.append(f"invariant broken: {v.invariant} (with {out.preemptions} preemption(s))")
        lines.append("")
        run = execute(world, out.execution.schedule, record=True)
        lines.append(timeline(world, run))
        lines.append("")
        lines.append(v.detail)
    elif out.verdict == "safe":
        lines.append(f"no schedule with at most {out.preemptions} preemption(s) breaks an "
                     "invariant")
    elif out.verdict == NOT_FOUND:
        lines.append("random schedules only sample the interleavings: use the exhaustive "
                     "strategy for a bounded proof")
    elif out.interrupted is not None:
        lines.append(f"interrupted after {s.schedules} schedule(s): no verdict; covered so far: "
                     f"{len(s.states)} distinct end states, no violation among them")
    return "\n".join(lines) + "\n"


def run_explore(spec: dict, harts: int | None, bound: int, strategy: str, seed: int,
                jobs: int, budget: float | None, fmt: str, output: str | None,
                schedules: int) -> int:
    try:
        sc, world, out = explore(spec, harts, bound, strategy, seed, jobs, budget, schedules)
    except KeyboardInterrupt as err:  # while building the scenario: nothing covered yet
        signum = getattr(err, "signum", signal.SIGINT)
        name = spec.get("name") or spec.get("guest")
        doc = {"scenario": name, "verdict": "incomplete", "strategy": strategy, "schedules": 0,
               "interrupted": signal.Signals(signum).name}
        text = (json.dumps(doc, indent=2) + "\n" if fmt == "json" else
                f"scenario {name}\nverdict: incomplete (interrupted by {doc['interrupted']} "
                "before the search began); 0 schedules\n")
        write_stdout(text)
        print(f"ftlab: interrupted ({doc['interrupted']})", file=sys.stderr)
        return 128 + signum
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    doc = report_dict(sc, world, out, strategy)
    text = json.dumps(doc, indent=2) + "\n" if fmt == "json" else format_text(sc, world, out,
                                                                               strategy)
    failed = []  # each target gets its copy (or its rescue) whatever happened to the other
    targets = [("-", text)]
    if output:
        targets.append((output, json.dumps(doc, indent=2) + "\n" if output.endswith(".json")
                        else text))
    for path, data in targets:
        try:
            write_text(path, data)
        except FtlabError as err:
            failed.append(str(err))
    if out.interrupted is not None:
        print(f"ftlab: interrupted ({signal.Signals(out.interrupted).name})", file=sys.stderr)
    if failed:
        raise FtlabError("\n".join(failed))
    if out.interrupted is not None:
        return 128 + out.interrupted
    return EXIT[out.verdict]


def run_replay(path: str) -> int:
    doc = load_report(path)
    try:
        world, run = replay(doc)
    except UsageError as err:  # a name in the report, not on the command line
        raise FtlabError(f"{path}: {err}") from None
    if run.violation is not None and run.violation.invariant == "replay":
        raise FtlabError(f"{path}: the schedule does not fit scenario {doc['scenario']} "
                         f"({run.violation.detail})")
    print(f"replaying {doc['scenario']} ({len(run.decisions)} decisions)")
    print(timeline(world, run))
    if run.violation is not None:
        print(f"\nreproduced: {run.violation.invariant}\n{run.violation.detail}")
        return 1
    print("\nthe schedule no longer breaks an invariant")
    return 0
