"""Counterexamples: a timeline with one column per hart, self-contained JSON, replay."""

from __future__ import annotations

import hashlib
import json
import signal
from pathlib import Path

from ftlab.errors import FtlabError
from ftlab.explore.scenarios import SCENARIOS, custom_scenario
from ftlab.explore.search import Execution, Outcome, execute
from ftlab.explore.world import Scenario, World

COL = 46


def compress(schedule: list[str]) -> list[list]:
    out: list[list] = []
    for actor in schedule:
        if out and out[-1][0] == actor:
            out[-1][1] += 1
        else:
            out.append([actor, 1])
    return out


def expand(runs: list[list]) -> list[str]:
    return [actor for actor, count in runs for _ in range(int(count))]


def timeline(world: World, run: Execution) -> str:
    harts = world.nharts
    head = f"{'#':>4}  {'patcher':<{COL}}" + "".join(f"| {'hart ' + str(i):<{COL}}"
                                                   for i in range(harts))
    lines = [head, "-" * len(head)]
    for i, (d, a) in enumerate(zip(run.decisions, run.actions, strict=False)):
        cols = [""] * (harts + 1)
        if a.hart is None:
            cols[0] = a.text
        else:
            task = world.tasks[a.hart].name if a.hart < len(world.tasks) else ""
            cols[a.hart + 1] = f"{task} {a.text}"
        mark = "*" if (d.current is not None and d.current in d.enabled
                       and d.chosen != d.current) or ":" in d.chosen else " "
        lines.append(f"{i:>3}{mark}  " + f"{cols[0][:COL]:<{COL}}" + "".join(
            f"| {c[:COL]:<{COL}}" for c in cols[1:]))
    lines.append("(* marks a preemption or a non-default fetch/drain choice)")
    return "\n".join(lines)


def _guest_info(sc: Scenario) -> dict:
    data = Path(sc.guest).read_bytes()
    return {"path": str(sc.guest), "sha256": hashlib.sha256(data).hexdigest(),
            "source": data.decode(errors="replace")}


def report_dict(sc: Scenario, world: World, out: Outcome, strategy: str) -> dict:
    d = {"scenario": sc.name, "arch": sc.arch, "scheme": sc.scheme, "harts": world.nharts,
         "expected": sc.expect, "verdict": out.verdict_text() if out.interrupted is None
         else "incomplete", "strategy": strategy,
         "preemptions": out.preemptions, "schedules": out.stats.schedules,
         "distinct_states": len(out.stats.states), "seconds": round(out.stats.seconds, 3),
         "hotplug": world.hotplug is not None}
    if out.interrupted is not None:
        d["interrupted"] = signal.Signals(out.interrupted).name
    if sc.custom is not None:
        d["custom"] = sc.custom
    d["guest"] = _guest_info(sc)
    run = out.execution
    if run is not None and run.violation is not None:
        d["invariant"] = run.violation.invariant
        d["message"] = str(run.violation.detail).splitlines()[0]
        d["detail"] = run.violation.detail
        d["schedule"] = compress(run.schedule)
    return d


def scenario_from_report(doc: dict) -> Scenario:
    name = doc.get("scenario", "")
    if name in SCENARIOS:
        return SCENARIOS[name]
    custom = doc.get("custom")
    guest = doc.get("guest", {})
    if not custom:
        raise FtlabError(f"unknown scenario '{name}' in the report")
    path = Path(guest.get("path", ""))
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != guest.get("sha256"):
        # the report carries the source: rebuild from it
        cache = Path.home() / ".cache" / "ftlab" / "replay"
        cache.mkdir(parents=True, exist_ok=True)
        path = cache / f"{guest.get('sha256', 'guest')[:16]}-{Path(guest.get('path', 'g.c')).name}"
        path.write_text(guest.get("source", ""))
    return custom_scenario(str(path), custom["entry"], doc["arch"], doc["scheme"],
                           custom["operation"], custom["filter"])


def replay(doc: dict) -> tuple[World, Execution]:
    sc = scenario_from_report(doc)
    world = World(sc, harts=doc.get("harts"), hotplug=doc.get("hotplug", False))
    run = execute(world, expand(doc.get("schedule", [])), record=True)
    return world, run


def load_report(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise FtlabError(f"{path}: not a readable explorer report ({err})") from None
