"""Counterexamples: a timeline with one column per hart, self-contained JSON, replay."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import textwrap
from pathlib import Path

from ftlab.errors import FtlabError
from ftlab.explore.scenarios import SCENARIOS, custom_scenario
from ftlab.explore.search import Execution, Outcome, execute
from ftlab.explore.world import MAX_ACTIONS, VARIANTS, Scenario, World

COL = 46
MAX_REPORT_BYTES = 64 << 20  # a report holds one schedule and one guest source


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
    harts = len(world.machine.harts)  # the incoming hart too (--hotplug)
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
        # a long step wraps inside its column: the timeline is read, never cut short
        cells = [textwrap.wrap(c, COL, break_on_hyphens=False) or [""] for c in cols]
        for k in range(max(len(c) for c in cells)):
            row = [c[k] if k < len(c) else "" for c in cells]
            lead = f"{i:>3}{mark}  " if k == 0 else " " * 6
            lines.append((lead + f"{row[0]:<{COL}}"
                          + "".join(f"| {c:<{COL}}" for c in row[1:])).rstrip())
    lines.append("(* marks a preemption or a non-default fetch/drain/read choice)")
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
         "hotplug": world.hotplug is not None, "model": world.rules.model,
         "variants": list(world.variants)}
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
    name = doc["scenario"]
    if name in SCENARIOS:
        return SCENARIOS[name]
    custom, guest = doc["custom"], doc["guest"]
    path = Path(guest["path"])
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != guest["sha256"]:
        # the report carries the source: rebuild from it
        from ftlab.guest.build import cache_subdir, write_atomic

        path = cache_subdir("replay") / f"{guest['sha256'][:16]}-{Path(guest['path']).name}"
        write_atomic(path, guest["source"].encode())
    return custom_scenario(str(path), custom["entry"], doc["arch"], doc["scheme"],
                           custom["operation"], custom["filter"])


def replay(doc: dict) -> tuple[World, Execution]:
    check_report(doc)
    sc = scenario_from_report(doc)
    world = World(sc, harts=doc["harts"], hotplug=doc.get("hotplug", False),
                  variants=tuple(doc.get("variants", ())))
    run = execute(world, expand(doc["schedule"]), record=True)
    return world, run


def load_report(path: str) -> dict:
    try:
        size = Path(path).stat().st_size
        if size > MAX_REPORT_BYTES:
            raise ValueError(f"{size} bytes; a report is far smaller")
        doc = json.loads(Path(path).read_bytes().decode())
    except RecursionError:
        raise FtlabError(f"{path}: not an explorer report (nested too deeply)") from None
    except (OSError, ValueError) as err:  # ValueError: not UTF-8, or not JSON
        why = err.strerror if isinstance(err, OSError) and err.strerror else err
        raise FtlabError(f"{path}: not a readable explorer report ({why})") from None
    try:
        check_report(doc)
    except FtlabError as err:
        raise FtlabError(f"{path}: {err}") from None
    return doc


ACTOR = re.compile(r"P(:r\d{1,3})?|ON|W\d{0,3}|H\d{1,2}(:old|:udf|:r\d{1,3})?")


def _need(doc: dict, key: str, kind: type | tuple, what: str, where: str = "") -> object:
    value = doc.get(key)
    if key not in doc:
        raise FtlabError(f"not an explorer report: '{where}{key}' is missing ({what})")
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        got = type(value).__name__
        raise FtlabError(f"'{where}{key}' must be {what}, got {got} {json.dumps(value)[:40]}")
    return value


def check_report(doc: object) -> None:
    """Schema, types and bounds of a report written by `ftlab explore -o FILE.json`, with a
    message naming what is wrong."""
    from ftlab.arch import ARCH_NAMES
    from ftlab.guest import abi

    if not isinstance(doc, dict):
        raise FtlabError(f"not an explorer report: a JSON {type(doc).__name__}, not an object")
    name = _need(doc, "scenario", str, "a scenario name")
    arch = _need(doc, "arch", str, "an architecture")
    if arch not in ARCH_NAMES:
        raise FtlabError(f"'arch' is '{arch}', not one of {', '.join(ARCH_NAMES)}")
    _need(doc, "scheme", str, "a scheme name")
    harts = _need(doc, "harts", int, "a number of harts")
    hotplug = doc.get("hotplug", False)
    if not isinstance(hotplug, bool):
        raise FtlabError("'hotplug' must be true or false")
    if not (0 if hotplug else 1) <= harts <= abi.MAX_CPUS - (1 if hotplug else 0):
        raise FtlabError(f"'harts' is {harts}: 1 to {abi.MAX_CPUS - hotplug} harts")
    variants = doc.get("variants", [])
    if not isinstance(variants, list) or any(v not in VARIANTS for v in variants):
        raise FtlabError(f"'variants' must be a list of: {', '.join(VARIANTS)}")
    if name not in SCENARIOS:
        custom = _need(doc, "custom", dict, f"the custom scenario (no built-in '{name}')")
        for key in ("entry", "operation"):
            _need(custom, key, str, "a name", "custom.")
        filters = _need(custom, "filter", list, "a list of function names", "custom.")
        if not all(isinstance(f, str) for f in filters):
            raise FtlabError("'custom.filter' must hold function names (strings)")
        guest = _need(doc, "guest", dict, "the guest's path, sha256 and source")
        gpath = _need(guest, "path", str, "a file name", "guest.")
        if "\0" in gpath or not gpath.endswith((".c", ".S", ".s")):
            raise FtlabError(f"'guest.path' is not a C or assembly file name: {gpath!r}")
        sha = _need(guest, "sha256", str, "a SHA-256 in hex", "guest.")
        if not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise FtlabError("'guest.sha256' is not a SHA-256 in hex")
        _need(guest, "source", str, "the guest's C source", "guest.")
    if "schedule" not in doc:
        raise FtlabError(f"no counterexample to replay (verdict: {doc.get('verdict', '?')}); "
                         "only a report with a violation has a 'schedule'")
    schedule = _need(doc, "schedule", list, "a list of [actor, count] pairs")
    total = 0
    for i, item in enumerate(schedule):
        if not (isinstance(item, list) and len(item) == 2):
            raise FtlabError(f"schedule entry {i} must be [actor, count], got "
                             f"{json.dumps(item)[:40]}")
        actor, count = item
        if not isinstance(actor, str) or not ACTOR.fullmatch(actor):
            raise FtlabError(f"schedule entry {i}: '{actor}' is not an actor (P, P:rK, ON, W, "
                             "Wk, Hn, Hn:old, Hn:udf, Hn:rK)")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise FtlabError(f"schedule entry {i}: the count must be a positive integer, got "
                             f"{json.dumps(count)[:40]}")
        total += count
        if total > MAX_ACTIONS + 1:
            raise FtlabError(f"the schedule is longer than any run ({MAX_ACTIONS} decisions "
                             "at most)")
