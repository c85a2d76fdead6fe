"""Schemes: how sites are compiled, initialised and patched, per architecture."""

from __future__ import annotations

import importlib

from ftlab.arch import get_arch
from ftlab.errors import UsageError
from ftlab.ftrace.arch_ops import ArchFtrace


def arch_ftrace_module(arch: str):
    """The ISA's ftrace module: SCHEMES, DEFAULT and the cost lab's BENCH_* choices."""
    return _module(arch)


def _module(arch: str):
    return importlib.import_module(f"ftlab.arch.{get_arch(arch).name}.ftrace")


def schemes(arch: str) -> dict[str, ArchFtrace]:
    return dict(_module(arch).SCHEMES)


def default_scheme(arch: str) -> str:
    return _module(arch).DEFAULT


def get_scheme(arch: str, name: str | None) -> ArchFtrace:
    table = schemes(arch)
    name = name or default_scheme(arch)
    if name not in table:
        raise UsageError(f"unknown scheme '{name}' for {get_arch(arch).name}; valid: "
                         f"{', '.join(table)}")
    return table[name]


def describe_all() -> str:
    from ftlab.arch import ARCH_NAMES

    lines = []
    for arch in ARCH_NAMES:
        default = default_scheme(arch)
        for name, s in schemes(arch).items():
            mark = " (default)" if name == default else ""
            lines.append(f"{arch:8} {name:14} {s.description}{mark}")
    return "\n".join(lines)
