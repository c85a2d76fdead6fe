"""herd's AArch64 litmus dialect: gas syntax already; registers are X/W views of one register."""

from __future__ import annotations

import re

from ftlab.arch.arm64.ifetch import AArch64IfetchModel
from ftlab.arch.arm64.memmodel import AArch64Model, Arm64MemIsa

HERD_ARCH = "AArch64"
ZIG_TARGET = "aarch64-freestanding"
ASM_PROLOGUE = ".arch armv8.4-a\n"  # LSE atomics (8.1) and LDAPR (8.3)
CFLAGS: tuple[str, ...] = ()
ISA = Arm64MemIsa()
MODEL = AArch64Model()
IFETCH_MODEL = AArch64IfetchModel()  # tests that write code (herd7 -variant ifetch)


def canonical_reg(name: str) -> str | None:
    """herd's register name -> the executor's key (None: not a register of this ISA)."""
    m = re.fullmatch(r"[XxWw](\d+)", name)
    if m and int(m.group(1)) <= 30:
        return f"x{int(m.group(1))}"
    return None


def show_reg(key: str) -> str:
    return "X" + key[1:]


def reg_order(key: str) -> int:
    return int(key[1:])


def translate(text: str, symbols: dict[str, int]) -> tuple[str, frozenset[str]]:
    """One instruction of a thread column -> assembler text and event annotations."""
    return text, frozenset()


def locations_in(text: str) -> list[str]:
    """Locations the instruction names directly (none: arm64 code reaches them via registers)."""
    return []
