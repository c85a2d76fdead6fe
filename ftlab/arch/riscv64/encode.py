"""riscv64 instruction encoders for ftrace patching and trampoline generation.

Every encoder returns little-endian machine code as `bytes` (4 bytes per instruction, 2 for
the compressed `c.nop`). Encodings follow The RISC-V Instruction Set Manual, Volume I
(Unprivileged ISA): the base formats R/I/S/B/U/J and their immediate layouts (RV32I chapter,
"Base Instruction Formats" and "Immediate Encoding Variants"), the RV64I additions (ADDIW,
6-bit SLLI shamt, LD/SD), Zifencei (FENCE.I), and the C extension for C.NOP. The ftrace
helpers (AUIPC_T0, JALR_T0, NOP4, to_auipc_t0, to_jalr_t0, make_call_t0) are reproduced from
the kernel's arch/riscv/include/asm/ftrace.h.

Branch and pc-relative encoders take `pc`, the address of the instruction, and an absolute
`target`; offsets count from the instruction itself. With the C extension instructions are
2-byte aligned, so pc and targets must be even; an out-of-range or odd target raises
`ReachError`.

Registers are the ABI names ("zero", "ra", "sp", "gp", "tp", "t0".."t6", "s0".."s11",
"a0".."a7") plus "fp" for s0 (the psABI's register table).
"""

from __future__ import annotations

import struct

from ftlab.arch.encode_errors import ReachError

_ABI = (
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1",
    "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
    "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
    "t3", "t4", "t5", "t6",
)  # fmt: skip
REGS: dict[str, int] = {name: i for i, name in enumerate(_ABI)}
REGS["fp"] = 8

ADDR_MASK = (1 << 64) - 1

# JAL imm21 bytes: [-1 MiB, 1 MiB - 2]; B-type imm13 bytes: [-4 KiB, 4 KiB - 2].
JAL_REACH = 1 << 20
BRANCH_REACH = 1 << 12
# AUIPC+JALR: pc + sext(imm20 << 12) + sext(imm12) spans exactly
# [-2 GiB - 2 KiB, 2 GiB - 2 KiB - 1] around pc (about +-2 GiB, CALL_REACH).
CALL_REACH = 1 << 31
AUIPC_JALR_MIN = -(1 << 31) - 0x800
AUIPC_JALR_MAX = (1 << 31) - 0x800 - 1

# --- the kernel's ftrace.h constants (arch/riscv/include/asm/ftrace.h) -----------------------
JALR_SIGN_MASK = 0x00000800
JALR_OFFSET_MASK = 0x00000FFF
AUIPC_OFFSET_MASK = 0xFFFFF000
AUIPC_PAD = 0x00001000
JALR_SHIFT = 20
JALR_RA = 0x000080E7  # jalr ra, 0(ra)
AUIPC_RA = 0x00000097  # auipc ra, 0
JALR_T0 = 0x000282E7  # jalr t0, 0(t0)
AUIPC_T0 = 0x00000297  # auipc t0, 0
NOP4 = 0x00000013  # addi zero, zero, 0
JALR_RANGE = JALR_SIGN_MASK - 1  # 0x7ff: the largest positive jalr offset (newer kernels)

C_NOP = 0x0001  # c.nop (c.addi zero, 0)
_U32 = 0xFFFFFFFF

# Opcodes (ISA manual, "RV32/64G Instruction Set Listings").
_OP_LUI, _OP_AUIPC, _OP_JAL, _OP_JALR = 0x37, 0x17, 0x6F, 0x67
_OP_BRANCH, _OP_LOAD, _OP_STORE = 0x63, 0x03, 0x23
_OP_IMM, _OP_IMM32, _OP, _OP_MISC_MEM, _OP_SYSTEM = 0x13, 0x1B, 0x33, 0x0F, 0x73


def _reg(name: str) -> int:
    try:
        return REGS[name]
    except KeyError:
        raise ValueError(f"unknown riscv64 register {name!r}") from None


def _addr(value: int, what: str) -> int:
    if not 0 <= value <= ADDR_MASK:
        raise ValueError(f"{what} {value:#x} is not a 64-bit address")
    return value


def _simm(value: int, bits: int, what: str) -> int:
    lim = 1 << (bits - 1)
    if not -lim <= value < lim:
        raise ValueError(f"{what} {value} does not fit a signed {bits}-bit immediate")
    return value & ((1 << bits) - 1)


def _imm20(value: int) -> int:
    """A U-type immediate, given as the signed or unsigned 20-bit field value."""
    if not -(1 << 19) <= value < (1 << 20):
        raise ValueError(f"upper immediate {value:#x} does not fit 20 bits")
    return value & 0xFFFFF


def _pcrel(pc: int, target: int, bits: int, what: str) -> int:
    """target - pc, checked to be even and to fit a signed `bits`-wide byte offset."""
    if _addr(pc, "pc") % 2:
        raise ReachError(f"{what}: pc {pc:#x} is not 2-byte aligned")
    off = _addr(target, "target") - pc
    if off % 2:
        raise ReachError(f"{what} at {pc:#x}: target {target:#x} is not 2-byte aligned")
    lim = 1 << (bits - 1)
    if not -lim <= off < lim:
        raise ReachError(f"{what} at {pc:#x} cannot reach {target:#x} (offset {off:#x})")
    return off


def _word(insn: int) -> bytes:
    return struct.pack("<I", insn)


def _r_type(funct7: int, rs2: str, rs1: str, funct3: int, rd: str, opcode: int) -> bytes:
    return _word(
        (funct7 << 25) | (_reg(rs2) << 20) | (_reg(rs1) << 15) | (funct3 << 12)
        | (_reg(rd) << 7) | opcode
    )  # fmt: skip


def _i_type(imm: int, rs1: str, funct3: int, rd: str, opcode: int) -> bytes:
    imm12 = _simm(imm, 12, "I-type immediate")
    return _word((imm12 << 20) | (_reg(rs1) << 15) | (funct3 << 12) | (_reg(rd) << 7) | opcode)


def _s_type(imm: int, rs2: str, rs1: str, funct3: int, opcode: int) -> bytes:
    imm12 = _simm(imm, 12, "S-type immediate")
    return _word(
        ((imm12 >> 5) << 25) | (_reg(rs2) << 20) | (_reg(rs1) << 15) | (funct3 << 12)
        | ((imm12 & 0x1F) << 7) | opcode
    )  # fmt: skip


def _b_type(off: int, rs2: str, rs1: str, funct3: int) -> bytes:
    imm = off & 0x1FFF  # imm[12:1], imm[0] implied zero
    return _word(
        (((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3F) << 25) | (_reg(rs2) << 20)
        | (_reg(rs1) << 15) | (funct3 << 12) | (((imm >> 1) & 0xF) << 8)
        | (((imm >> 11) & 1) << 7) | _OP_BRANCH
    )  # fmt: skip


def _u_type(imm20: int, rd: str, opcode: int) -> bytes:
    return _word((_imm20(imm20) << 12) | (_reg(rd) << 7) | opcode)


# --- reach ----------------------------------------------------------------------------------


def split_offset(offset: int) -> tuple[int, int]:
    """(hi20, lo12), both signed, with (hi20 << 12) + lo12 == offset: the auipc/jalr split
    (lo12 sign-extends, so hi20 rounds to nearest: the psABI's %pcrel_hi/%pcrel_lo)."""
    if not AUIPC_JALR_MIN <= offset <= AUIPC_JALR_MAX:
        raise ReachError(f"offset {offset:#x} is out of auipc+jalr reach")
    hi = (offset + 0x800) >> 12
    return hi, offset - (hi << 12)


def in_reach(pc: int, target: int) -> bool:
    """True when an auipc+jalr pair at pc can reach target (the ftrace call sequence)."""
    try:
        auipc_jalr(pc, target, "t0")
    except ReachError:
        return False
    return True


def jal_in_reach(pc: int, target: int) -> bool:
    """True when a single `jal` at pc can reach target."""
    try:
        jal("ra", pc, target)
    except ReachError:
        return False
    return True


# --- jumps and branches ---------------------------------------------------------------------


def jal(rd: str, pc: int, target: int) -> bytes:
    """`jal rd, target` (J-type: imm[20|10:1|11|19:12])."""
    imm = _pcrel(pc, target, 21, "jal") & 0x1FFFFF
    return _word(
        (((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3FF) << 21) | (((imm >> 11) & 1) << 20)
        | (((imm >> 12) & 0xFF) << 12) | (_reg(rd) << 7) | _OP_JAL
    )  # fmt: skip


def j(pc: int, target: int) -> bytes:
    """`j target` (jal zero, target)."""
    return jal("zero", pc, target)


def jalr(rd: str, rs1: str, imm: int = 0) -> bytes:
    """`jalr rd, imm(rs1)`."""
    return _i_type(imm, rs1, 0, rd, _OP_JALR)


def jr(rs: str) -> bytes:
    """`jr rs` (jalr zero, 0(rs))."""
    return jalr("zero", rs, 0)


def ret() -> bytes:
    """`ret` (jalr zero, 0(ra))."""
    return jalr("zero", "ra", 0)


def beq(rs1: str, rs2: str, pc: int, target: int) -> bytes:
    """`beq rs1, rs2, target` (B-type, +-4 KiB)."""
    return _b_type(_pcrel(pc, target, 13, "beq"), rs2, rs1, 0b000)


def bne(rs1: str, rs2: str, pc: int, target: int) -> bytes:
    """`bne rs1, rs2, target` (B-type, +-4 KiB)."""
    return _b_type(_pcrel(pc, target, 13, "bne"), rs2, rs1, 0b001)


def beqz(rs: str, pc: int, target: int) -> bytes:
    """`beqz rs, target` (beq rs, zero)."""
    return beq(rs, "zero", pc, target)


def bnez(rs: str, pc: int, target: int) -> bytes:
    """`bnez rs, target` (bne rs, zero)."""
    return bne(rs, "zero", pc, target)


def auipc_jalr(pc: int, target: int, reg: str, *, rd: str | None = None) -> bytes:
    """`auipc reg, hi20` + `jalr rd, lo12(reg)` at pc, reaching target (rd defaults to reg).

    reg="t0" is the kernel's ftrace call (make_call_t0), reg="ra" the psABI `call`, and
    rd="zero" a tail call (`tail`, via t1 in the psABI).
    """
    if reg == "zero":
        raise ValueError("auipc+jalr needs a scratch register other than zero")
    off = _pcrel(pc, target, 64, "auipc+jalr")
    try:
        hi, lo = split_offset(off)
    except ReachError:
        raise ReachError(f"auipc+jalr at {pc:#x} cannot reach {target:#x}") from None
    return auipc(reg, hi) + jalr(reg if rd is None else rd, reg, lo)


# --- arithmetic and moves -------------------------------------------------------------------


def lui(rd: str, imm20: int) -> bytes:
    """`lui rd, imm20` (rd = sext(imm20 << 12))."""
    return _u_type(imm20, rd, _OP_LUI)


def auipc(rd: str, imm20: int) -> bytes:
    """`auipc rd, imm20` (rd = pc + sext(imm20 << 12))."""
    return _u_type(imm20, rd, _OP_AUIPC)


def addi(rd: str, rs1: str, imm: int) -> bytes:
    """`addi rd, rs1, imm12`."""
    return _i_type(imm, rs1, 0b000, rd, _OP_IMM)


def addiw(rd: str, rs1: str, imm: int) -> bytes:
    """`addiw rd, rs1, imm12` (RV64I: 32-bit add, result sign-extended)."""
    return _i_type(imm, rs1, 0b000, rd, _OP_IMM32)


def slli(rd: str, rs1: str, shamt: int) -> bytes:
    """`slli rd, rs1, shamt` (RV64I: 6-bit shamt)."""
    if not 0 <= shamt < 64:
        raise ValueError(f"shift amount {shamt} is not 0..63")
    return _i_type(shamt, rs1, 0b001, rd, _OP_IMM)


def add(rd: str, rs1: str, rs2: str) -> bytes:
    return _r_type(0, rs2, rs1, 0b000, rd, _OP)


def sub(rd: str, rs1: str, rs2: str) -> bytes:
    return _r_type(0x20, rs2, rs1, 0b000, rd, _OP)


def mv(rd: str, rs: str) -> bytes:
    """`mv rd, rs` (addi rd, rs, 0)."""
    return addi(rd, rs, 0)


def _li_steps(value: int) -> list[tuple[str, int]]:
    """Steps building the signed 64-bit `value`, as LLVM's RISCVMatInt does without Zba/Zbb:
    lui+addiw for 32-bit values, else build the upper bits, slli, and addi the low 12."""
    if -(1 << 31) <= value < (1 << 31):
        lo = ((value & 0xFFF) ^ 0x800) - 0x800
        hi = ((value - lo) >> 12) & 0xFFFFF
        steps: list[tuple[str, int]] = [("lui", hi)] if hi else []
        if lo or not hi:
            # addiw keeps lui's 32-bit result sign-extended (lui 0x80000; addiw -1 = 0x7fffffff)
            steps.append(("addiw" if hi else "addi", lo))
        return steps
    lo = ((value & 0xFFF) ^ 0x800) - 0x800
    hi = (value - lo) >> 12
    shift = 12
    while not hi & 1:
        hi >>= 1
        shift += 1
    steps = _li_steps(((hi + (1 << 63)) & ADDR_MASK) - (1 << 63))
    steps.append(("slli", shift))
    if lo:
        steps.append(("addi", lo))
    return steps


def li(rd: str, value: int) -> bytes:
    """Load a 64-bit constant (signed or unsigned) into rd: 1 to 8 instructions of
    lui/addiw/addi/slli."""
    if not -(1 << 63) <= value <= ADDR_MASK:
        raise ValueError(f"value {value:#x} does not fit 64 bits")
    if rd == "zero":
        raise ValueError("li into zero")
    value = ((value + (1 << 63)) & ADDR_MASK) - (1 << 63)
    out = b""
    src = "zero"
    for op, imm in _li_steps(value):
        if op == "lui":
            out += lui(rd, imm)
        elif op == "slli":
            out += slli(rd, src, imm)
        else:
            out += (addiw if op == "addiw" else addi)(rd, src, imm)
        src = rd
    return out


# --- loads and stores -----------------------------------------------------------------------


def ld(rd: str, rs1: str, imm: int = 0) -> bytes:
    """`ld rd, imm(rs1)`."""
    return _i_type(imm, rs1, 0b011, rd, _OP_LOAD)


def lw(rd: str, rs1: str, imm: int = 0) -> bytes:
    """`lw rd, imm(rs1)` (sign-extending)."""
    return _i_type(imm, rs1, 0b010, rd, _OP_LOAD)


def sd(rs2: str, rs1: str, imm: int = 0) -> bytes:
    """`sd rs2, imm(rs1)`."""
    return _s_type(imm, rs2, rs1, 0b011, _OP_STORE)


def sw(rs2: str, rs1: str, imm: int = 0) -> bytes:
    """`sw rs2, imm(rs1)`."""
    return _s_type(imm, rs2, rs1, 0b010, _OP_STORE)


# --- system, fences, fillers ----------------------------------------------------------------


def nop() -> bytes:
    """`nop` (addi zero, zero, 0): the kernel's NOP4."""
    return _word(NOP4)


def c_nop() -> bytes:
    """`c.nop` (2 bytes), what -fpatchable-function-entry emits when RVC is on."""
    return struct.pack("<H", C_NOP)


def ebreak() -> bytes:
    return _word(0x00100073)


def ecall() -> bytes:
    return _word(0x00000073)


_FENCE_BITS = {"i": 8, "o": 4, "r": 2, "w": 1}


def _fence_set(spec: str) -> int:
    bits = 0
    for ch in spec:
        if ch not in _FENCE_BITS:
            raise ValueError(f"fence set {spec!r} is not a subset of 'iorw'")
        bits |= _FENCE_BITS[ch]
    if not bits:
        raise ValueError("empty fence set")
    return bits


def fence(pred: str = "iorw", succ: str = "iorw") -> bytes:
    """`fence pred, succ` (fm=0000)."""
    return _word((_fence_set(pred) << 24) | (_fence_set(succ) << 20) | _OP_MISC_MEM)


def fence_i() -> bytes:
    """`fence.i` (Zifencei): what the kernel's flush_icache_all() boils down to locally."""
    return _word(0x0000100F)


# --- the kernel's ftrace helpers (arch/riscv/include/asm/ftrace.h), as u32 words ------------


def to_jalr_t0(offset: int) -> int:
    """`(((offset & JALR_OFFSET_MASK) << JALR_SHIFT) | JALR_T0)`."""
    return (((offset & JALR_OFFSET_MASK) << JALR_SHIFT) | JALR_T0) & _U32


def to_auipc_t0(offset: int) -> int:
    """`(offset & JALR_SIGN_MASK) ? (((offset & AUIPC_OFFSET_MASK) + AUIPC_PAD) | AUIPC_T0)
    : ((offset & AUIPC_OFFSET_MASK) | AUIPC_T0)`, in the kernel's unsigned int arithmetic."""
    if offset & JALR_SIGN_MASK:
        return (((offset & AUIPC_OFFSET_MASK) + AUIPC_PAD) | AUIPC_T0) & _U32
    return ((offset & AUIPC_OFFSET_MASK) | AUIPC_T0) & _U32


def to_jalr_ra(offset: int) -> int:
    """As to_jalr_t0 with JALR_RA."""
    return (((offset & JALR_OFFSET_MASK) << JALR_SHIFT) | JALR_RA) & _U32


def to_auipc_ra(offset: int) -> int:
    """As to_auipc_t0 with AUIPC_RA."""
    if offset & JALR_SIGN_MASK:
        return (((offset & AUIPC_OFFSET_MASK) + AUIPC_PAD) | AUIPC_RA) & _U32
    return ((offset & AUIPC_OFFSET_MASK) | AUIPC_RA) & _U32


def make_call_t0(caller: int, callee: int) -> tuple[int, int]:
    """make_call_t0(): `unsigned int offset = callee - caller`, then the auipc/jalr words.
    Like the kernel it does not check reach; the offset wraps to 32 bits."""
    offset = (callee - caller) & _U32
    return to_auipc_t0(offset), to_jalr_t0(offset)
