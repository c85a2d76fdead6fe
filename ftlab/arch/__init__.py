"""Per-ISA support: facts in `<isa>/info.py`, behaviour behind the contracts in `base.py`.

ISAs register themselves: every subpackage with an `info.py` defining `ARCH` is one, listed in
`ArchInfo.rank` order. Generic code asks this registry, never names an ISA."""

from __future__ import annotations

import functools
import importlib
import pkgutil
from pathlib import Path

from ftlab.arch.base import ArchInfo
from ftlab.errors import UsageError


@functools.cache
def all_arches() -> tuple[ArchInfo, ...]:
    found = []
    for mod in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if mod.ispkg:
            found.append(importlib.import_module(f"ftlab.arch.{mod.name}.info").ARCH)
    return tuple(sorted(found, key=lambda a: (a.rank, a.name)))


ARCH_NAMES = tuple(a.name for a in all_arches())


def get_arch(name: str) -> ArchInfo:
    for info in all_arches():
        if name == info.name or name in info.aliases:
            return info
    raise UsageError(f"unknown architecture '{name}'; valid: {', '.join(ARCH_NAMES)}")
