"""x86_64 instruction encoders for ftrace patching and trampoline generation.

Every encoder returns little-endian machine code as `bytes`. Encodings follow the Intel SDM
vol. 2 (REX prefix 2.2.1, ModRM/SIB tables 2-2 and 2-3, the per-instruction opcode pages);
the multi-byte NOPs are the kernel's `x86_nops` table (arch/x86/include/asm/nops.h,
arch/x86/kernel/alternative.c). Branch and call encoders take `pc`, the address of the
instruction itself, and an absolute `target`; rel8/rel32 displacements count from the end of
the instruction, and an out-of-range target raises `ReachError`.

Registers are named "rax".."r15" (the 64-bit names); all register operations are 64-bit.
"""

from __future__ import annotations

import struct

from ftlab.arch.encode_errors import ReachError

# SDM vol. 2, table 3-1: register numbers; r8..r15 set the REX.R/X/B extension bit.
REGS: dict[str, int] = {
    "rax": 0, "rcx": 1, "rdx": 2, "rbx": 3, "rsp": 4, "rbp": 5, "rsi": 6, "rdi": 7,
    "r8": 8, "r9": 9, "r10": 10, "r11": 11, "r12": 12, "r13": 13, "r14": 14, "r15": 15,
}  # fmt: skip

ADDR_MASK = (1 << 64) - 1

# rel32 reaches [-2 GiB, 2 GiB) from the end of the instruction; rel8 [-128, 128).
CALL_REACH = 1 << 31
JMP_REACH = 1 << 31
JCC_REACH = 1 << 31
JMP8_REACH = 1 << 7

CALL_LEN = 5  # e8 rel32
JMP_LEN = 5  # e9 rel32
JMP8_LEN = 2  # eb rel8
JCC_LEN = 6  # 0f 8x rel32

# The kernel's x86_nops[] (arch/x86/include/asm/nops.h, BYTES_NOP1..BYTES_NOP8).
NOPS: dict[int, bytes] = {
    1: bytes.fromhex("90"),
    2: bytes.fromhex("6690"),
    3: bytes.fromhex("0f1f00"),
    4: bytes.fromhex("0f1f4000"),
    5: bytes.fromhex("0f1f440000"),
    6: bytes.fromhex("660f1f440000"),
    7: bytes.fromhex("0f1f8000000000"),
    8: bytes.fromhex("0f1f840000000000"),
}
NOP5 = NOPS[5]  # what ftrace writes over a `call __fentry__` (x86_nops[5], ASM_NOP5)
INT3 = b"\xcc"  # text_poke_bp() writes this first when patching live code
CALL_OPCODE = 0xE8
JMP_OPCODE = 0xE9


def _reg(name: str) -> int:
    try:
        return REGS[name]
    except KeyError:
        raise ValueError(f"unknown x86_64 register {name!r}") from None


def _addr(value: int, what: str) -> int:
    if not 0 <= value <= ADDR_MASK:
        raise ValueError(f"{what} {value:#x} is not a 64-bit address")
    return value


def _rel(pc: int, target: int, length: int, bits: int, what: str) -> int:
    """Displacement from the end of a `length`-byte instruction at pc, checked to fit `bits`."""
    disp = _addr(target, "target") - (_addr(pc, "pc") + length)
    lim = 1 << (bits - 1)
    if not -lim <= disp < lim:
        raise ReachError(f"{what} at {pc:#x} cannot reach {target:#x} (rel{bits} {disp:#x})")
    return disp


def _rex(w: bool, r: int = 0, x: int = 0, b: int = 0) -> bytes:
    """REX prefix (SDM 2.2.1), omitted when it would be a bare 0x40."""
    byte = 0x40 | (w << 3) | ((r >> 3) << 2) | ((x >> 3) << 1) | (b >> 3)
    return b"" if byte == 0x40 else bytes([byte])


def _modrm(mod: int, reg: int, rm: int) -> int:
    return (mod << 6) | ((reg & 7) << 3) | (rm & 7)


def _imm32(imm: int) -> bytes:
    if not -(1 << 31) <= imm < (1 << 31):
        raise ValueError(f"immediate {imm:#x} does not fit a sign-extended imm32")
    return struct.pack("<i", imm)


def _mem(reg: int, base: int, disp: int, disp32: bool) -> bytes:
    """ModRM (+SIB) (+disp) for [base + disp].

    rm=100 (rsp/r12) means "a SIB byte follows", so those bases need SIB 0x24 (no index);
    mod=00 rm=101 (rbp/r13) means RIP-relative, so those bases always carry a displacement.
    The shortest form is chosen unless disp32 forces the 4-byte displacement.
    """
    if not -(1 << 31) <= disp < (1 << 31):
        raise ValueError(f"displacement {disp:#x} does not fit disp32")
    if disp32 or not -128 <= disp < 128:
        mod, tail = 2, struct.pack("<i", disp)
    elif disp == 0 and base & 7 != 5:
        mod, tail = 0, b""
    else:
        mod, tail = 1, struct.pack("<b", disp)
    sib = b"\x24" if base & 7 == 4 else b""
    return bytes([_modrm(mod, reg, base)]) + sib + tail


def _rr(opcode: int, reg: str, rm: str) -> bytes:
    """REX.W opcode /r with a register-direct ModRM (mod=11)."""
    r, m = _reg(reg), _reg(rm)
    return _rex(True, r=r, b=m) + bytes([opcode, _modrm(3, r, m)])


def in_reach(pc: int, target: int) -> bool:
    """True when `call rel32` at pc can reach target."""
    try:
        call_rel32(pc, target)
    except ReachError:
        return False
    return True


# --- branches and calls -------------------------------------------------------------------


def call_rel32(pc: int, target: int) -> bytes:
    """`call target` (e8 rel32): what ftrace patches over the NOP5 at a function's entry."""
    return bytes([CALL_OPCODE]) + struct.pack("<i", _rel(pc, target, CALL_LEN, 32, "call"))


def jmp_rel32(pc: int, target: int) -> bytes:
    """`jmp target` (e9 rel32)."""
    return bytes([JMP_OPCODE]) + struct.pack("<i", _rel(pc, target, JMP_LEN, 32, "jmp"))


def jmp_rel8(pc: int, target: int) -> bytes:
    """`jmp short target` (eb rel8)."""
    return b"\xeb" + struct.pack("<b", _rel(pc, target, JMP8_LEN, 8, "jmp rel8"))


def je_rel32(pc: int, target: int) -> bytes:
    """`je target` (0f 84 rel32)."""
    return b"\x0f\x84" + struct.pack("<i", _rel(pc, target, JCC_LEN, 32, "je"))


def jne_rel32(pc: int, target: int) -> bytes:
    """`jne target` (0f 85 rel32)."""
    return b"\x0f\x85" + struct.pack("<i", _rel(pc, target, JCC_LEN, 32, "jne"))


def call_reg(reg: str) -> bytes:
    """`call reg` (ff /2)."""
    r = _reg(reg)
    return _rex(False, b=r) + bytes([0xFF, _modrm(3, 2, r)])


def jmp_reg(reg: str) -> bytes:
    """`jmp reg` (ff /4)."""
    r = _reg(reg)
    return _rex(False, b=r) + bytes([0xFF, _modrm(3, 4, r)])


def ret() -> bytes:
    return b"\xc3"


def leave() -> bytes:
    return b"\xc9"


# --- fillers and traps --------------------------------------------------------------------


def nop(n: int = 1) -> bytes:
    """One n-byte NOP (n = 1..8) from the kernel's x86_nops table."""
    try:
        return NOPS[n]
    except KeyError:
        raise ValueError(f"no single {n}-byte NOP (1..8)") from None


def int3() -> bytes:
    return INT3


def ud2() -> bytes:
    return b"\x0f\x0b"


def endbr64() -> bytes:
    """IBT landing pad (f3 0f 1e fa), the kernel's ENDBR."""
    return b"\xf3\x0f\x1e\xfa"


# --- data movement and arithmetic ---------------------------------------------------------


def push(reg: str) -> bytes:
    """`push reg` (50+r, REX.B for r8..r15)."""
    r = _reg(reg)
    return _rex(False, b=r) + bytes([0x50 + (r & 7)])


def pop(reg: str) -> bytes:
    """`pop reg` (58+r, REX.B for r8..r15)."""
    r = _reg(reg)
    return _rex(False, b=r) + bytes([0x58 + (r & 7)])


def mov_reg_reg(dst: str, src: str) -> bytes:
    """`mov dst, src` (REX.W 89 /r, the form gas emits)."""
    return _rr(0x89, src, dst)


def mov_imm64(reg: str, imm: int) -> bytes:
    """`movabs reg, imm` (REX.W b8+r imm64); imm may be given signed or unsigned."""
    if not -(1 << 63) <= imm <= ADDR_MASK:
        raise ValueError(f"immediate {imm:#x} does not fit 64 bits")
    r = _reg(reg)
    return _rex(True, b=r) + bytes([0xB8 + (r & 7)]) + struct.pack("<Q", imm & ADDR_MASK)


def mov_load(dst: str, base: str, disp: int = 0, *, disp32: bool = False) -> bytes:
    """`mov dst, qword ptr [base + disp]` (REX.W 8b /r)."""
    r, b = _reg(dst), _reg(base)
    return _rex(True, r=r, b=b) + b"\x8b" + _mem(r, b, disp, disp32)


def mov_store(base: str, disp: int, src: str, *, disp32: bool = False) -> bytes:
    """`mov qword ptr [base + disp], src` (REX.W 89 /r)."""
    r, b = _reg(src), _reg(base)
    return _rex(True, r=r, b=b) + b"\x89" + _mem(r, b, disp, disp32)


def lea(dst: str, base: str, disp: int = 0, *, disp32: bool = False) -> bytes:
    """`lea dst, [base + disp]` (REX.W 8d /r)."""
    r, b = _reg(dst), _reg(base)
    return _rex(True, r=r, b=b) + b"\x8d" + _mem(r, b, disp, disp32)


def _alu_imm(ext: int, reg: str, imm: int) -> bytes:
    """Group-1 ALU op with an immediate: 83 /ext ib when it fits imm8, else 81 /ext id."""
    r = _reg(reg)
    prefix = _rex(True, b=r)
    if -128 <= imm < 128:
        return prefix + bytes([0x83, _modrm(3, ext, r)]) + struct.pack("<b", imm)
    return prefix + bytes([0x81, _modrm(3, ext, r)]) + _imm32(imm)


def add_imm(reg: str, imm: int) -> bytes:
    """`add reg, imm` with imm a sign-extended imm8/imm32 (83 /0 or 81 /0)."""
    return _alu_imm(0, reg, imm)


def sub_imm(reg: str, imm: int) -> bytes:
    """`sub reg, imm` with imm a sign-extended imm8/imm32 (83 /5 or 81 /5)."""
    return _alu_imm(5, reg, imm)


def test_reg_reg(a: str, b: str) -> bytes:
    """`test a, b` (REX.W 85 /r)."""
    return _rr(0x85, b, a)


def xor_reg_reg(dst: str, src: str) -> bytes:
    """`xor dst, src` (REX.W 31 /r)."""
    return _rr(0x31, src, dst)
