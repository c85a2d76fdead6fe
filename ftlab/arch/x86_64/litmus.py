"""herd's X86 litmus dialect: Intel operand order, `$n` immediates, `[x]` for a location."""

from __future__ import annotations

import re

from ftlab.arch.x86_64.memmodel import TsoModel, X86MemIsa

HERD_ARCH = "X86"
ZIG_TARGET = "x86_64-freestanding"
ASM_PROLOGUE = ".intel_syntax noprefix\n"
CFLAGS: tuple[str, ...] = ()
ISA = X86MemIsa()
MODEL = TsoModel()

_REGS = ["EAX", "EBX", "ECX", "EDX", "ESI", "EDI", "EBP", "ESP"]
_FULL = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"]


def canonical_reg(name: str) -> str | None:
    upper = name.upper()
    if upper in _REGS:
        return _FULL[_REGS.index(upper)]
    return None


def show_reg(key: str) -> str:
    return _REGS[_FULL.index(key)]


def reg_order(key: str) -> int:
    return _FULL.index(key)


def locations_in(text: str) -> list[str]:
    return re.findall(r"\[\s*([A-Za-z_]\w*)\s*\]", text)


def translate(text: str, symbols: dict[str, int]) -> tuple[str, frozenset[str]]:
    """herd's X86 is 32-bit: `[x]` is a dword at the location's absolute address."""
    def loc(m: re.Match) -> str:
        name = m.group(1)
        if name.upper() in _REGS or name.lower() in _FULL:
            return f"dword ptr [{name}]"
        return f"dword ptr [{symbols[name]:#x}]"

    asm = re.sub(r"\$(-?\w+)", r"\1", text)
    asm = re.sub(r"^\s*(lock\s*;?\s*)?(\w+)",
                 lambda m: ("lock " if m.group(1) else "") + m.group(2).lower(), asm, flags=re.I)
    asm = re.sub(r"\[\s*([A-Za-z_]\w*)\s*\]", loc, asm)
    return asm, frozenset()


class _AttDialect:
    """herd's X86_64 dialect: AT&T syntax (`movl $1,(x)`, `movl (x),%eax`), 64-bit register
    names in conditions (`1:rax=1`)."""

    HERD_ARCH = "X86_64"
    ZIG_TARGET = ZIG_TARGET
    ASM_PROLOGUE = ".att_syntax\n"
    CFLAGS = CFLAGS
    ISA = ISA
    MODEL = MODEL

    @staticmethod
    def canonical_reg(name: str) -> str | None:
        low = name.lower().lstrip("%")
        if low in _FULL:
            return low
        if low.upper() in _REGS:
            return _FULL[_REGS.index(low.upper())]
        return None

    @staticmethod
    def show_reg(key: str) -> str:
        return key

    reg_order = staticmethod(reg_order)

    @staticmethod
    def locations_in(text: str) -> list[str]:
        return re.findall(r"\(\s*([A-Za-z_]\w*)\s*\)", text)

    @staticmethod
    def translate(text: str, symbols: dict[str, int]) -> tuple[str, frozenset[str]]:
        asm = re.sub(r"\(\s*([A-Za-z_]\w*)\s*\)", lambda m: f"({symbols[m.group(1)]:#x})", text)
        return asm, frozenset()


DIALECTS = (_AttDialect,)
