"""arm64 (A64) instruction encoders for ftrace patching and trampoline generation.

Every encoder returns one or more little-endian 32-bit instruction words as `bytes`.
Encodings are from the Arm Architecture Reference Manual for A-profile (DDI 0487), section
C6 (A64 base instruction descriptions); the kernel's own encoder is
arch/arm64/lib/insn.c (aarch64_insn_gen_*), whose reach checks these mirror.
Branch and pc-relative encoders take `pc`, the address of the instruction, and an absolute
`target`; offsets count from the instruction itself, and an out-of-range or misaligned
target raises `ReachError`.

Registers are "x0".."x30", "fp" (x29), "lr" (x30), "sp" and "xzr". Register number 31 is
SP or XZR depending on the operand (Arm ARM, "Register names"); each encoder accepts only
the one its field means. All operations are 64-bit.
"""

from __future__ import annotations

import struct
from typing import Literal

from ftlab.arch.encode_errors import ReachError

REGS: dict[str, int] = {f"x{i}": i for i in range(31)}
REGS.update({"fp": 29, "lr": 30, "sp": 31, "xzr": 31})

ADDR_MASK = (1 << 64) - 1

# B/BL imm26 words: [-128 MiB, 128 MiB - 4]; B.cond/CBZ/LDR (literal) imm19 words and ADR
# imm21 bytes: [-1 MiB, 1 MiB); ADRP imm21 pages: [-4 GiB, 4 GiB).
B_REACH = 128 << 20
BL_REACH = 128 << 20
COND_REACH = 1 << 20
CBZ_REACH = 1 << 20
LDR_LITERAL_REACH = 1 << 20
ADR_REACH = 1 << 20
ADRP_REACH = 4 << 30

INSN_SIZE = 4
NOP = 0xD503201F  # HINT #0 (Arm ARM: NOP); aarch64_insn_gen_nop()

# Condition codes (Arm ARM, "Condition code"), with the HS/LO aliases of CS/CC.
CONDS: dict[str, int] = {
    "eq": 0, "ne": 1, "cs": 2, "hs": 2, "cc": 3, "lo": 3, "mi": 4, "pl": 5, "vs": 6,
    "vc": 7, "hi": 8, "ls": 9, "ge": 10, "lt": 11, "gt": 12, "le": 13, "al": 14, "nv": 15,
}  # fmt: skip

PairIndex = Literal["offset", "pre", "post"]


def _words(*words: int) -> bytes:
    return struct.pack(f"<{len(words)}I", *words)


def _reg(name: str, *, sp: bool = False, zr: bool = False) -> int:
    """Register number of `name` for a field where 31 means SP (sp=True) or XZR (zr=True)."""
    try:
        num = REGS[name]
    except KeyError:
        raise ValueError(f"unknown arm64 register {name!r}") from None
    if (name == "sp" and not sp) or (name == "xzr" and not zr):
        raise ValueError(f"register {name!r} cannot be encoded in this operand")
    return num


def _addr(value: int, what: str) -> int:
    if not 0 <= value <= ADDR_MASK:
        raise ValueError(f"{what} {value:#x} is not a 64-bit address")
    return value


def _pcrel(pc: int, target: int, bits: int, scale: int, what: str) -> int:
    """(target - pc) / scale as a `bits`-wide two's-complement field, checked for reach."""
    if _addr(pc, "pc") % INSN_SIZE:
        raise ReachError(f"{what}: pc {pc:#x} is not 4-byte aligned")
    off = _addr(target, "target") - pc
    if off % scale:
        raise ReachError(f"{what} at {pc:#x}: target {target:#x} is not {scale}-byte aligned")
    imm = off // scale
    lim = 1 << (bits - 1)
    if not -lim <= imm < lim:
        raise ReachError(f"{what} at {pc:#x} cannot reach {target:#x} (offset {off:#x})")
    return imm & ((1 << bits) - 1)


def _uimm(value: int, bits: int, what: str) -> int:
    if not 0 <= value < (1 << bits):
        raise ValueError(f"{what} {value:#x} does not fit {bits} bits")
    return value


def in_reach(pc: int, target: int) -> bool:
    """True when `bl` at pc can reach target (what ftrace needs, else a PLT is used)."""
    try:
        bl(pc, target)
    except ReachError:
        return False
    return True


# --- branches -------------------------------------------------------------------------------


def b(pc: int, target: int) -> bytes:
    """`b target` (0b000101 imm26)."""
    return _words(0x14000000 | _pcrel(pc, target, 26, 4, "b"))


def bl(pc: int, target: int) -> bytes:
    """`bl target` (0b100101 imm26); aarch64_insn_gen_branch_imm()."""
    return _words(0x94000000 | _pcrel(pc, target, 26, 4, "bl"))


def b_cond(cond: str, pc: int, target: int) -> bytes:
    """`b.<cond> target` (0x54 imm19 0 cond)."""
    try:
        cc = CONDS[cond]
    except KeyError:
        raise ValueError(f"unknown condition {cond!r}") from None
    return _words(0x54000000 | (_pcrel(pc, target, 19, 4, f"b.{cond}") << 5) | cc)


def cbz(reg: str, pc: int, target: int) -> bytes:
    """`cbz xN, target` (sf=1)."""
    return _words(0xB4000000 | (_pcrel(pc, target, 19, 4, "cbz") << 5) | _reg(reg, zr=True))


def cbnz(reg: str, pc: int, target: int) -> bytes:
    """`cbnz xN, target` (sf=1)."""
    return _words(0xB5000000 | (_pcrel(pc, target, 19, 4, "cbnz") << 5) | _reg(reg, zr=True))


def br(reg: str) -> bytes:
    """`br xN`."""
    return _words(0xD61F0000 | (_reg(reg) << 5))


def blr(reg: str) -> bytes:
    """`blr xN`."""
    return _words(0xD63F0000 | (_reg(reg) << 5))


def ret(reg: str = "x30") -> bytes:
    """`ret`, returning through x30 unless another register is given."""
    return _words(0xD65F0000 | (_reg(reg) << 5))


# --- hints, barriers, traps -----------------------------------------------------------------


def nop() -> bytes:
    return _words(NOP)


def bti_c() -> bytes:
    """`bti c` (HINT #34): landing pad for indirect calls (BLR)."""
    return _words(0xD503245F)


def isb() -> bytes:
    """`isb` (sy)."""
    return _words(0xD5033FDF)


def dsb_ish() -> bytes:
    """`dsb ish` (CRm=0b1011)."""
    return _words(0xD5033B9F)


def brk(imm: int = 0) -> bytes:
    """`brk #imm16`; the kernel's BUG()/kgdb use fixed immediates."""
    return _words(0xD4200000 | (_uimm(imm, 16, "brk immediate") << 5))


def udf(imm: int = 0) -> bytes:
    """`udf #imm16`: permanently undefined."""
    return _words(_uimm(imm, 16, "udf immediate"))


# --- moves and arithmetic -------------------------------------------------------------------


def add_imm(rd: str, rn: str, imm: int) -> bytes:
    """`add rd, rn, #imm` (64-bit); imm is imm12, or imm12 << 12; rd/rn may be sp."""
    return _addsub_imm(0x91000000, rd, rn, imm)


def sub_imm(rd: str, rn: str, imm: int) -> bytes:
    """`sub rd, rn, #imm` (64-bit); imm is imm12, or imm12 << 12; rd/rn may be sp."""
    return _addsub_imm(0xD1000000, rd, rn, imm)


def _addsub_imm(base: int, rd: str, rn: str, imm: int) -> bytes:
    if 0 <= imm < (1 << 12):
        sh, imm12 = 0, imm
    elif imm & 0xFFF == 0 and 0 <= imm >> 12 < (1 << 12):
        sh, imm12 = 1, imm >> 12
    else:
        raise ValueError(f"immediate {imm:#x} is not a 12-bit value, optionally shifted by 12")
    return _words(base | (sh << 22) | (imm12 << 10) | (_reg(rn, sp=True) << 5) | _reg(rd, sp=True))


def mov_reg(dst: str, src: str) -> bytes:
    """`mov dst, src`: ORR dst, xzr, src; or ADD dst, src, #0 when either is sp, since
    ORR's register 31 is xzr. `mov x9, x30` is the ftrace entry's stash of the return
    address (-fpatchable-function-entry=2, arch/arm64/kernel/entry-ftrace.S).
    """
    if "sp" in (dst, src):
        return add_imm(dst, src, 0)
    return _words(0xAA0003E0 | (_reg(src, zr=True) << 16) | _reg(dst, zr=True))


def _move_wide(base: int, reg: str, imm: int, shift: int) -> int:
    if shift not in (0, 16, 32, 48):
        raise ValueError(f"move-wide shift {shift} is not 0, 16, 32 or 48")
    hw = shift // 16
    return base | (hw << 21) | (_uimm(imm, 16, "move-wide immediate") << 5) | _reg(reg, zr=True)


def movz(reg: str, imm: int, shift: int = 0) -> bytes:
    """`movz xN, #imm16, lsl #shift`."""
    return _words(_move_wide(0xD2800000, reg, imm, shift))


def movk(reg: str, imm: int, shift: int = 0) -> bytes:
    """`movk xN, #imm16, lsl #shift`."""
    return _words(_move_wide(0xF2800000, reg, imm, shift))


def mov_imm64(reg: str, value: int) -> bytes:
    """Load a 64-bit constant: a MOVZ for the lowest non-zero halfword, then MOVK for each
    other non-zero halfword (1 to 4 instructions; `movz xN, #0` for zero)."""
    if not -(1 << 63) <= value <= ADDR_MASK:
        raise ValueError(f"value {value:#x} does not fit 64 bits")
    value &= ADDR_MASK
    halves = [(value >> s) & 0xFFFF for s in (0, 16, 32, 48)]
    out: list[int] = []
    for i, half in enumerate(halves):
        if half:
            out.append(_move_wide(0xF2800000 if out else 0xD2800000, reg, half, 16 * i))
    return _words(*out) if out else movz(reg, 0)


def adr(reg: str, pc: int, target: int) -> bytes:
    """`adr xN, target`: immlo in bits 30:29, immhi in 23:5."""
    imm = _pcrel(pc, target, 21, 1, "adr")
    return _words(0x10000000 | ((imm & 3) << 29) | ((imm >> 2) << 5) | _reg(reg, zr=True))


def adrp(reg: str, pc: int, target: int) -> bytes:
    """`adrp xN, target`: the 4 KiB page of target, relative to pc's page."""
    if _addr(pc, "pc") % INSN_SIZE:
        raise ReachError(f"adrp: pc {pc:#x} is not 4-byte aligned")
    imm = _pcrel(pc & ~0xFFF, _addr(target, "target") & ~0xFFF, 21, 4096, "adrp")
    return _words(0x90000000 | ((imm & 3) << 29) | ((imm >> 2) << 5) | _reg(reg, zr=True))


# --- loads and stores (64-bit) --------------------------------------------------------------


def ldr_literal(reg: str, pc: int, target: int) -> bytes:
    """`ldr xN, target` (literal, opc=01): pc-relative 64-bit load."""
    imm = _pcrel(pc, target, 19, 4, "ldr literal")
    return _words(0x58000000 | (imm << 5) | _reg(reg, zr=True))


def _ls_uimm(base: int, rt: str, rn: str, offset: int) -> bytes:
    if offset % 8 or not 0 <= offset < (1 << 12) * 8:
        raise ValueError(f"offset {offset} is not a multiple of 8 in [0, 32760] (use ldur/stur)")
    return _words(base | ((offset // 8) << 10) | (_reg(rn, sp=True) << 5) | _reg(rt, zr=True))


def _ls_unscaled(base: int, rt: str, rn: str, offset: int) -> bytes:
    if not -256 <= offset < 256:
        raise ValueError(f"offset {offset} does not fit the signed imm9 of ldur/stur")
    imm9 = offset & 0x1FF
    return _words(base | (imm9 << 12) | (_reg(rn, sp=True) << 5) | _reg(rt, zr=True))


def ldr_imm(rt: str, rn: str, offset: int = 0) -> bytes:
    """`ldr xt, [xn, #offset]` (unsigned offset): offset a multiple of 8, 0..32760."""
    return _ls_uimm(0xF9400000, rt, rn, offset)


def str_imm(rt: str, rn: str, offset: int = 0) -> bytes:
    """`str xt, [xn, #offset]` (unsigned offset): offset a multiple of 8, 0..32760."""
    return _ls_uimm(0xF9000000, rt, rn, offset)


def ldur(rt: str, rn: str, offset: int) -> bytes:
    """`ldur xt, [xn, #offset]`: unscaled signed offset, -256..255."""
    return _ls_unscaled(0xF8400000, rt, rn, offset)


def stur(rt: str, rn: str, offset: int) -> bytes:
    """`stur xt, [xn, #offset]`: unscaled signed offset, -256..255."""
    return _ls_unscaled(0xF8000000, rt, rn, offset)


# LDP/STP 64-bit: opc=10 101 0 <index> L imm7 Rt2 Rn Rt.
_PAIR_INDEX: dict[str, int] = {"post": 0b001, "offset": 0b010, "pre": 0b011}


def _pair(load: bool, rt1: str, rt2: str, rn: str, offset: int, index: PairIndex) -> bytes:
    try:
        idx = _PAIR_INDEX[index]
    except KeyError:
        raise ValueError(f"pair index mode {index!r} is not offset, pre or post") from None
    if offset % 8 or not -512 <= offset <= 504:
        raise ValueError(f"pair offset {offset} is not a multiple of 8 in [-512, 504]")
    t1, t2, n = _reg(rt1, zr=True), _reg(rt2, zr=True), _reg(rn, sp=True)
    # Arm ARM "CONSTRAINED UNPREDICTABLE behavior": LDP with Rt == Rt2, and writeback
    # with Rn == Rt or Rt2 (Rn != SP).
    if load and t1 == t2:
        raise ValueError("ldp with rt1 == rt2 is CONSTRAINED UNPREDICTABLE")
    if index != "offset" and n != 31 and n in (t1, t2):
        raise ValueError("pair writeback with rn == rt is CONSTRAINED UNPREDICTABLE")
    word = 0xA8000000 | (idx << 23) | (load << 22) | (((offset // 8) & 0x7F) << 15)
    return _words(word | (t2 << 10) | (n << 5) | t1)


def stp(rt1: str, rt2: str, rn: str, offset: int = 0, *, index: PairIndex = "offset") -> bytes:
    """`stp rt1, rt2, [rn, #offset]` / `[rn, #offset]!` (pre) / `[rn], #offset` (post)."""
    return _pair(False, rt1, rt2, rn, offset, index)


def ldp(rt1: str, rt2: str, rn: str, offset: int = 0, *, index: PairIndex = "offset") -> bytes:
    """`ldp rt1, rt2, [rn, #offset]` / `[rn, #offset]!` (pre) / `[rn], #offset` (post)."""
    return _pair(True, rt1, rt2, rn, offset, index)
