"""x86-32 instruction encoders for ftrace patching and trampoline generation.

The encodings are x86_64's without a REX prefix (Intel SDM vol. 2): ModRM/SIB forms and the
branch and trap opcodes are shared (`ftlab.arch.x86_64.encode`); operations are 32-bit.
rel32 displacements wrap modulo 2^32, so a call reaches every address. The NOP ftrace keeps in
a site is the 32-bit kernel's nop5 (arch/x86/include/asm/nops.h, BYTES_NOP5 on CONFIG_X86_32:
`ds lea esi, [esi + eiz*1 + 0]`), not x86_64's `nopl 0(%rax,%rax,1)`.
"""

from __future__ import annotations

import struct

from ftlab.arch.x86_64.encode import (  # noqa: F401  (shared with x86_64, re-exported)
    CALL_LEN,
    CALL_OPCODE,
    INT3,
    JCC_LEN,
    JMP_LEN,
    JMP_OPCODE,
    _mem,
    _modrm,
    int3,
    leave,
    ret,
    ud2,
)

REGS: dict[str, int] = {
    "eax": 0, "ecx": 1, "edx": 2, "ebx": 3, "esp": 4, "ebp": 5, "esi": 6, "edi": 7,
}  # fmt: skip

MASK = 0xFFFFFFFF
NOP5 = bytes.fromhex("3e8d742600")


def _reg(name: str) -> int:
    try:
        return REGS[name]
    except KeyError:
        raise ValueError(f"unknown x86_32 register {name!r}") from None


def _addr(value: int, what: str) -> int:
    if not 0 <= value <= MASK:
        raise ValueError(f"{what} {value:#x} is not a 32-bit address")
    return value


def _rel32(pc: int, target: int, length: int) -> bytes:
    disp = (_addr(target, "target") - (_addr(pc, "pc") + length)) & MASK
    return struct.pack("<I", disp)


def in_reach(pc: int, target: int) -> bool:
    """Every 32-bit address is within `call rel32` reach (the displacement wraps)."""
    return 0 <= pc <= MASK and 0 <= target <= MASK


def call_rel32(pc: int, target: int) -> bytes:
    """`call target` (e8 rel32)."""
    return bytes([CALL_OPCODE]) + _rel32(pc, target, CALL_LEN)


def jmp_rel32(pc: int, target: int) -> bytes:
    """`jmp target` (e9 rel32)."""
    return bytes([JMP_OPCODE]) + _rel32(pc, target, JMP_LEN)


def je_rel32(pc: int, target: int) -> bytes:
    """`je target` (0f 84 rel32)."""
    return b"\x0f\x84" + _rel32(pc, target, JCC_LEN)


def jne_rel32(pc: int, target: int) -> bytes:
    """`jne target` (0f 85 rel32)."""
    return b"\x0f\x85" + _rel32(pc, target, JCC_LEN)


def call_reg(reg: str) -> bytes:
    """`call reg` (ff /2)."""
    return bytes([0xFF, _modrm(3, 2, _reg(reg))])


def jmp_reg(reg: str) -> bytes:
    """`jmp reg` (ff /4)."""
    return bytes([0xFF, _modrm(3, 4, _reg(reg))])


def nop5() -> bytes:
    return NOP5


def push(reg: str) -> bytes:
    """`push reg` (50+r)."""
    return bytes([0x50 + _reg(reg)])


def pop(reg: str) -> bytes:
    """`pop reg` (58+r)."""
    return bytes([0x58 + _reg(reg)])


def push_imm32(imm: int) -> bytes:
    """`push imm32` (68 id)."""
    return b"\x68" + struct.pack("<I", imm & MASK)


def push_mem(base: str, disp: int = 0) -> bytes:
    """`push dword ptr [base + disp]` (ff /6)."""
    return b"\xff" + _mem(6, _reg(base), disp, False)


def mov_reg_reg(dst: str, src: str) -> bytes:
    """`mov dst, src` (89 /r, the form gas emits)."""
    return bytes([0x89, _modrm(3, _reg(src), _reg(dst))])


def mov_imm32(reg: str, imm: int) -> bytes:
    """`mov reg, imm32` (b8+r id); imm may be given signed or unsigned."""
    if not -(1 << 31) <= imm <= MASK:
        raise ValueError(f"immediate {imm:#x} does not fit 32 bits")
    return bytes([0xB8 + _reg(reg)]) + struct.pack("<I", imm & MASK)


def mov_load(dst: str, base: str, disp: int = 0, *, disp32: bool = False) -> bytes:
    """`mov dst, dword ptr [base + disp]` (8b /r)."""
    return b"\x8b" + _mem(_reg(dst), _reg(base), disp, disp32)


def mov_store(base: str, disp: int, src: str, *, disp32: bool = False) -> bytes:
    """`mov dword ptr [base + disp], src` (89 /r)."""
    return b"\x89" + _mem(_reg(src), _reg(base), disp, disp32)


def mov_store_imm(base: str, disp: int, imm: int) -> bytes:
    """`mov dword ptr [base + disp], imm32` (c7 /0 id)."""
    return b"\xc7" + _mem(0, _reg(base), disp, True) + struct.pack("<I", imm & MASK)


def lea(dst: str, base: str, disp: int = 0, *, disp32: bool = False) -> bytes:
    """`lea dst, [base + disp]` (8d /r)."""
    return b"\x8d" + _mem(_reg(dst), _reg(base), disp, disp32)


def _alu_imm(ext: int, reg: str, imm: int) -> bytes:
    r = _reg(reg)
    if -128 <= imm < 128:
        return bytes([0x83, _modrm(3, ext, r)]) + struct.pack("<b", imm)
    if not -(1 << 31) <= imm < (1 << 31):
        raise ValueError(f"immediate {imm:#x} does not fit a sign-extended imm32")
    return bytes([0x81, _modrm(3, ext, r)]) + struct.pack("<i", imm)


def add_imm(reg: str, imm: int) -> bytes:
    """`add reg, imm` (83 /0 ib or 81 /0 id)."""
    return _alu_imm(0, reg, imm)


def sub_imm(reg: str, imm: int) -> bytes:
    """`sub reg, imm` (83 /5 ib or 81 /5 id)."""
    return _alu_imm(5, reg, imm)


def test_reg_reg(a: str, b: str) -> bytes:
    """`test a, b` (85 /r)."""
    return bytes([0x85, _modrm(3, _reg(b), _reg(a))])


def or_reg_reg(dst: str, src: str) -> bytes:
    """`or dst, src` (09 /r)."""
    return bytes([0x09, _modrm(3, _reg(src), _reg(dst))])


def xor_reg_reg(dst: str, src: str) -> bytes:
    """`xor dst, src` (31 /r)."""
    return bytes([0x31, _modrm(3, _reg(src), _reg(dst))])


def pop_mem(base: str, disp: int = 0) -> bytes:
    """`pop dword ptr [base + disp]` (8f /0); an esp base counts after the pop."""
    return b"\x8f" + _mem(0, _reg(base), disp, False)


def call_mem(base: str, disp: int = 0) -> bytes:
    """`call dword ptr [base + disp]` (ff /2)."""
    return b"\xff" + _mem(2, _reg(base), disp, False)


def add_mem_imm8(base: str, disp: int, imm: int) -> bytes:
    """`add dword ptr [base + disp], imm8` (83 /0 ib)."""
    return b"\x83" + _mem(0, _reg(base), disp, False) + struct.pack("<b", imm)


def sub_mem_imm8(base: str, disp: int, imm: int) -> bytes:
    """`sub dword ptr [base + disp], imm8` (83 /5 ib)."""
    return b"\x83" + _mem(5, _reg(base), disp, False) + struct.pack("<b", imm)
