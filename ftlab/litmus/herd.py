"""herd7's output files (`NAME.herd7`): the expected states and verdict, and the comparison."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

State = frozenset[tuple[str, str]]


@dataclass
class HerdOutput:
    states: set[State]
    ok: bool
    observation: str  # Never, Sometimes, Always


def parse_state(line: str) -> State:
    pairs = []
    for item in line.split(";"):
        item = item.strip()
        if item:
            key, _, value = item.partition("=")
            pairs.append((key.strip(), value.strip()))
    return frozenset(pairs)


def read_herd(path: str | Path) -> HerdOutput:
    lines = Path(path).read_text().splitlines()
    states: set[State] = set()
    ok = False
    observation = ""
    for i, line in enumerate(lines):
        m = re.match(r"States (\d+)", line)
        if m:
            count = int(m.group(1))
            states = {parse_state(s) for s in lines[i + 1:i + 1 + count]}
            ok = lines[i + 1 + count].strip().endswith("Ok")  # also "Loop Ok"
        m = re.match(r"Observation \S+ (\w+)", line)
        if m:
            observation = m.group(1)
    return HerdOutput(states, ok, observation)


def compare(expected: HerdOutput, shown: list[str], ok: bool, observation: str) -> list[str]:
    """Differences, in words (empty: the same states and verdict)."""
    got = {parse_state(s) for s in shown}
    problems = []
    missing = expected.states - got
    extra = got - expected.states
    if missing:
        problems.append(f"unsound: {len(missing)} herd7 state(s) not reached, e.g. "
                        + "; ".join(f"{k}={v}" for k, v in sorted(next(iter(missing)))))
    if extra:
        problems.append(f"imprecise: {len(extra)} state(s) herd7 forbids, e.g. "
                        + "; ".join(f"{k}={v}" for k, v in sorted(next(iter(extra)))))
    if ok != expected.ok or observation != expected.observation:
        problems.append(f"verdict {'Ok' if ok else 'No'}/{observation}, herd7 "
                        f"{'Ok' if expected.ok else 'No'}/{expected.observation}")
    return problems
