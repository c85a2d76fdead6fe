"""Per-ISA support: facts in `<isa>/info.py`, behaviour behind the contracts in `base.py`."""

from __future__ import annotations

import importlib

from ftlab.arch.base import ArchInfo
from ftlab.errors import UsageError

ARCH_NAMES = ("x86_64", "arm64", "riscv64")


def get_arch(name: str) -> ArchInfo:
    for isa in ARCH_NAMES:
        info: ArchInfo = importlib.import_module(f"ftlab.arch.{isa}.info").ARCH
        if name == info.name or name in info.aliases:
            return info
    raise UsageError(f"unknown architecture '{name}'; valid: {', '.join(ARCH_NAMES)}")
