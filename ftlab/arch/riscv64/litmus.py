"""herd's RISCV litmus dialect: ABI or xN register names, herd's `.aq.rl` and `lw.aq`/`sw.rl`."""

from __future__ import annotations

import re

from ftlab.arch.riscv64.memmodel import RiscvMemIsa, RvwmoModel

HERD_ARCH = "RISCV"
ZIG_TARGET = "riscv64-freestanding"
ASM_PROLOGUE = ".option norvc\n"  # 4-byte encodings only: the operand-role table decodes them
CFLAGS: tuple[str, ...] = ("-mcpu=generic_rv64+a",)
ISA = RiscvMemIsa()
MODEL = RvwmoModel()

_ABI = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3",
        "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
        "t3", "t4", "t5", "t6"]


def canonical_reg(name: str) -> str | None:
    m = re.fullmatch(r"x(\d+)", name)
    if m and int(m.group(1)) < 32:
        return f"x{int(m.group(1))}"
    if name == "fp":
        return "x8"
    if name in _ABI:
        return f"x{_ABI.index(name)}"
    return None


def show_reg(key: str) -> str:
    return key  # herd prints RISC-V registers as xN


def reg_order(key: str) -> int:
    return int(key[1:])


def translate(text: str, symbols: dict[str, int]) -> tuple[str, frozenset[str]]:
    """herd spellings -> the assembler's: `amoswap.w.aq.rl` is `amoswap.w.aqrl`; plain loads and
    stores with .aq/.rl (herd's extension) assemble as plain ones carrying the annotation."""
    words = text.split(None, 1)
    mnem = words[0].lower()
    rest = words[1] if len(words) > 1 else ""
    mnem = mnem.replace(".aq.rl", ".aqrl")
    m = re.fullmatch(r"(l[bhwd]u?|s[bhwd])\.(aq|rl|aqrl)", mnem)
    if m:
        note = {"aq": {"AQ"}, "rl": {"RL"}, "aqrl": {"AQ", "RL"}}[m.group(2)]
        return f"{m.group(1)} {rest}", frozenset(note)
    return f"{mnem} {rest}".strip(), frozenset()


def locations_in(text: str) -> list[str]:
    return []
