"""The x86_64, arm64 and riscv64 instruction encoders, checked against capstone's decoder.

Each encoding is decoded with capstone (detail on) and its mnemonic, operand registers,
immediates, memory operands and branch targets are compared with what was asked for.
capstone prints aliases (riscv `mv`/`jr`/`ret`/`j`/`bnez`/`sext.w`/`neg`, arm64 `mov` for
MOVZ/ORR/ADD #0), so riscv instructions are first normalised back to the base instruction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import capstone
import pytest
import unicorn
from capstone import arm64 as cs_arm64
from capstone import riscv as cs_riscv
from capstone import x86 as cs_x86
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from unicorn import riscv_const

from ftlab.arch.arm64 import encode as a64
from ftlab.arch.encode_errors import ReachError
from ftlab.arch.riscv64 import encode as rv
from ftlab.arch.x86_64 import encode as x86

MASK64 = (1 << 64) - 1
FAST = settings(max_examples=100, deadline=None)
SOME = settings(max_examples=25, deadline=None)
KERNEL_TEXT = 0xFFFFFFFF81000000  # x86_64 kernel text: within 2 GiB of the top of memory
MID = 0xFFFF800080000000  # where +-4 GiB boundary tests stay inside the address space


def _cs(arch: int, mode: int) -> capstone.Cs:
    md = capstone.Cs(arch, mode)
    md.detail = True
    return md


X86 = _cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
ARM64 = _cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
RISCV = _cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)


@dataclass
class Insn:
    mnemonic: str
    op_str: str
    size: int
    ops: list[tuple[Any, ...]]  # ("reg", name) | ("imm", value) | ("mem", base, disp)
    raw: Any


def _reg_name(md: capstone.Cs, reg: int) -> str:
    name: str = md.reg_name(reg)
    # capstone's arm64 reg_name() says "fp"/"lr" for x29/x30, though op_str says x29/x30
    return {"fp": "x29", "lr": "x30"}.get(name, name) if md is ARM64 else name


def _ops(md: capstone.Cs, insn: Any) -> list[tuple[Any, ...]]:
    reg_t, imm_t, mem_t = {
        id(X86): (cs_x86.X86_OP_REG, cs_x86.X86_OP_IMM, cs_x86.X86_OP_MEM),
        id(ARM64): (cs_arm64.ARM64_OP_REG, cs_arm64.ARM64_OP_IMM, cs_arm64.ARM64_OP_MEM),
        id(RISCV): (cs_riscv.RISCV_OP_REG, cs_riscv.RISCV_OP_IMM, cs_riscv.RISCV_OP_MEM),
    }[id(md)]
    out: list[tuple[Any, ...]] = []
    for op in insn.operands:
        if op.type == reg_t:
            out.append(("reg", _reg_name(md, op.reg)))
        elif op.type == imm_t:
            imm = op.imm
            if md is ARM64 and op.shift.type == cs_arm64.ARM64_SFT_LSL:
                imm <<= op.shift.value  # `#imm, lsl #n`: compare the effective value
            out.append(("imm", imm))
        elif op.type == mem_t:
            mem = ("mem", _reg_name(md, op.mem.base), op.mem.disp)
            if md is not RISCV and op.mem.index:  # [base + index*scale + disp]: kept whole
                mem += (_reg_name(md, op.mem.index), getattr(op.mem, "scale", 1))
            out.append(mem)
        else:
            out.append(("other", op.type))
    return out


def decode(md: capstone.Cs, code: bytes, pc: int = 0) -> list[Insn]:
    insns = [Insn(i.mnemonic, i.op_str, i.size, _ops(md, i), i) for i in md.disasm(code, pc)]
    assert sum(i.size for i in insns) == len(code), f"{code.hex()} did not decode fully"
    return insns


def one(md: capstone.Cs, code: bytes, pc: int = 0) -> Insn:
    insns = decode(md, code, pc)
    assert len(insns) == 1 and insns[0].size == len(code), code.hex()
    return insns[0]


def target(op: tuple[Any, ...]) -> int:
    """An absolute branch target operand (capstone gives int64; addresses are unsigned)."""
    assert op[0] == "imm"
    return int(op[1]) & MASK64


def check_reach(
    enc: Callable[[int, int], bytes],
    pc: int,
    lo: int,
    hi: int,
    align: int,
    verify: Callable[[bytes, int, int], None],
) -> None:
    """enc(pc, pc+off) works for off = lo and hi (verify(code, pc, target) checks the
    decoding) and raises ReachError one alignment step outside."""
    for off in (lo, hi):
        verify(enc(pc, pc + off), pc, pc + off)
    with pytest.raises(ReachError):
        enc(pc, pc + hi + align)
    with pytest.raises(ReachError):
        enc(pc, pc + lo - align)


# =========================================================================================
# x86_64
# =========================================================================================

X86_REG = st.sampled_from(sorted(x86.REGS))
X86_PC = st.one_of(st.integers(0, MASK64), st.integers(KERNEL_TEXT, KERNEL_TEXT + (1 << 24)))

X86_BRANCHES = [
    (x86.call_rel32, "call", 5, 32, b"\xe8"),
    (x86.jmp_rel32, "jmp", 5, 32, b"\xe9"),
    (x86.jmp_rel8, "jmp", 2, 8, b"\xeb"),
    (x86.je_rel32, "je", 6, 32, b"\x0f\x84"),
    (x86.jne_rel32, "jne", 6, 32, b"\x0f\x85"),
]


@pytest.mark.parametrize(("enc", "mnemonic", "length", "bits", "opcode"), X86_BRANCHES)
@FAST
@given(pc=X86_PC, data=st.data())
def test_x86_branch(
    enc: Callable[[int, int], bytes],
    mnemonic: str,
    length: int,
    bits: int,
    opcode: bytes,
    pc: int,
    data: st.DataObject,
) -> None:
    disp = data.draw(st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1))
    tgt = pc + length + disp
    assume(0 <= tgt <= MASK64)
    code = enc(pc, tgt)
    assert len(code) == length and code.startswith(opcode)
    insn = one(X86, code, pc)
    assert insn.mnemonic == mnemonic
    assert len(insn.ops) == 1 and target(insn.ops[0]) == tgt


@pytest.mark.parametrize(("enc", "mnemonic", "length", "bits", "opcode"), X86_BRANCHES)
def test_x86_branch_reach_boundaries(
    enc: Callable[[int, int], bytes], mnemonic: str, length: int, bits: int, opcode: bytes
) -> None:
    lim = 1 << (bits - 1)

    def verify(code: bytes, pc: int, tgt: int) -> None:
        insn = one(X86, code, pc)
        assert insn.mnemonic == mnemonic and [target(o) for o in insn.ops] == [tgt]

    check_reach(enc, MID, length - lim, length + lim - 1, 1, verify)


def test_x86_in_reach() -> None:
    pc = MID
    assert x86.CALL_REACH == 1 << 31
    assert x86.in_reach(pc, pc + 5 + x86.CALL_REACH - 1)
    assert not x86.in_reach(pc, pc + 5 + x86.CALL_REACH)
    assert x86.in_reach(pc, pc + 5 - x86.CALL_REACH)
    assert not x86.in_reach(pc, pc + 5 - x86.CALL_REACH - 1)
    assert not x86.in_reach(pc, 0x1000)
    with pytest.raises(ValueError):
        x86.call_rel32(-1, 0)


def test_x86_nops() -> None:
    for n in range(1, 9):
        insn = one(X86, x86.nop(n))
        assert insn.mnemonic == "nop" and insn.size == n
    assert x86.NOP5 == x86.nop(5) == bytes.fromhex("0f1f440000")
    assert x86.nop() == b"\x90"
    for bad in (0, 9):
        with pytest.raises(ValueError):
            x86.nop(bad)


@pytest.mark.parametrize(
    ("code", "mnemonic"),
    [
        (x86.ret(), "ret"),
        (x86.leave(), "leave"),
        (x86.ud2(), "ud2"),
        (x86.endbr64(), "endbr64"),
        (x86.int3(), "int3"),
        (x86.INT3, "int3"),
    ],
)
def test_x86_fixed(code: bytes, mnemonic: str) -> None:
    insn = one(X86, code)
    assert insn.mnemonic == mnemonic and insn.ops == []


@pytest.mark.parametrize(
    ("enc", "mnemonic"),
    [(x86.push, "push"), (x86.pop, "pop"), (x86.call_reg, "call"), (x86.jmp_reg, "jmp")],
)
@given(reg=X86_REG)
def test_x86_one_reg(enc: Callable[[str], bytes], mnemonic: str, reg: str) -> None:
    insn = one(X86, enc(reg))
    assert (insn.mnemonic, insn.ops) == (mnemonic, [("reg", reg)])


@pytest.mark.parametrize(
    ("enc", "mnemonic"),
    [(x86.mov_reg_reg, "mov"), (x86.test_reg_reg, "test"), (x86.xor_reg_reg, "xor")],
)
@given(a=X86_REG, b=X86_REG)
def test_x86_two_regs(enc: Callable[[str, str], bytes], mnemonic: str, a: str, b: str) -> None:
    insn = one(X86, enc(a, b))
    assert (insn.mnemonic, insn.ops) == (mnemonic, [("reg", a), ("reg", b)])
    assert insn.size == 3


@FAST
@given(reg=X86_REG, imm=st.integers(-(1 << 63), MASK64))
def test_x86_mov_imm64(reg: str, imm: int) -> None:
    insn = one(X86, x86.mov_imm64(reg, imm))
    assert insn.mnemonic == "movabs" and insn.size == 10
    assert insn.ops[0] == ("reg", reg) and insn.ops[1][1] & MASK64 == imm & MASK64
    with pytest.raises(ValueError):
        x86.mov_imm64(reg, 1 << 64)


def _x86_mem_len(base: str, disp: int, disp32: bool) -> int:
    """REX + opcode + ModRM, + SIB for rsp/r12, + the shortest displacement allowed."""
    sib = base in ("rsp", "r12")
    if disp32 or not -128 <= disp < 128:
        size = 4
    elif disp == 0 and base not in ("rbp", "r13"):
        size = 0
    else:
        size = 1
    return 3 + sib + size


# imm8/disp8 and imm32/disp32 edges, where the encoders switch between short and long forms
EDGES_32 = st.sampled_from([0, -129, -128, 127, 128, -(1 << 31), (1 << 31) - 1])
DISP = st.one_of(st.integers(-(1 << 31), (1 << 31) - 1), st.integers(-130, 130), EDGES_32)


@FAST
@given(reg=X86_REG, base=X86_REG, disp=DISP, disp32=st.booleans())
def test_x86_memory(reg: str, base: str, disp: int, disp32: bool) -> None:
    load = one(X86, x86.mov_load(reg, base, disp, disp32=disp32))
    assert (load.mnemonic, load.ops) == ("mov", [("reg", reg), ("mem", base, disp)])
    store = one(X86, x86.mov_store(base, disp, reg, disp32=disp32))
    assert (store.mnemonic, store.ops) == ("mov", [("mem", base, disp), ("reg", reg)])
    lea = one(X86, x86.lea(reg, base, disp, disp32=disp32))
    assert lea.mnemonic == "lea" and lea.ops[0] == ("reg", reg)
    assert lea.ops[1] == ("mem", base, disp)
    assert load.raw.operands[1].size == store.raw.operands[0].size == 8  # qword
    expect = _x86_mem_len(base, disp, disp32)
    assert load.size == store.size == lea.size == expect


def test_x86_memory_special_bases() -> None:
    # rsp/r12 need a SIB byte; rbp/r13 with mod=00 would mean rip-relative
    assert x86.mov_load("rax", "rsp") == bytes.fromhex("488b0424")
    assert x86.mov_load("rax", "r12") == bytes.fromhex("498b0424")
    assert x86.mov_load("rax", "rbp") == bytes.fromhex("488b4500")
    assert x86.mov_store("r13", 0, "r9") == bytes.fromhex("4d894d00")
    assert x86.mov_store("rsp", 8, "rdi", disp32=True) == bytes.fromhex("4889bc2408000000")
    with pytest.raises(ValueError):
        x86.mov_load("rax", "rbx", 1 << 31)


@pytest.mark.parametrize(("enc", "mnemonic"), [(x86.add_imm, "add"), (x86.sub_imm, "sub")])
@FAST
@given(reg=X86_REG, imm=DISP)
def test_x86_alu_imm(enc: Callable[[str, int], bytes], mnemonic: str, reg: str, imm: int) -> None:
    insn = one(X86, enc(reg, imm))
    assert (insn.mnemonic, insn.ops) == (mnemonic, [("reg", reg), ("imm", imm)])
    assert insn.size == (4 if -128 <= imm < 128 else 7)


def test_x86_bad_operands() -> None:
    with pytest.raises(ValueError):
        x86.push("eax")
    with pytest.raises(ValueError):
        x86.add_imm("rax", 1 << 31)


# =========================================================================================
# arm64
# =========================================================================================

A64_X = [f"x{i}" for i in range(31)]
A64_REG = st.sampled_from(A64_X)
A64_REG_ZR = st.sampled_from([*A64_X, "xzr"])
A64_REG_SP = st.sampled_from([*A64_X, "sp"])
A64_PC = st.one_of(
    st.integers(0, MASK64 >> 2), st.integers(KERNEL_TEXT >> 2, (KERNEL_TEXT >> 2) + (1 << 22))
).map(lambda w: w << 2)
CANON_COND = {"cs": "hs", "cc": "lo"}


@dataclass
class A64Branch:
    name: str
    enc: Callable[[str, int, int], bytes]  # (reg or cond, pc, target)
    bits: int
    scale: int
    regs: st.SearchStrategy[str]

    def expect(self, arg: str, tgt: int) -> tuple[str, list[tuple[Any, ...]]]:
        if self.name in ("b", "bl"):
            return self.name, [("imm", tgt)]
        if self.name == "b.cond":
            return "b." + CANON_COND.get(arg, arg), [("imm", tgt)]
        mnemonic = "ldr" if self.name == "ldr_literal" else self.name
        return mnemonic, [("reg", arg), ("imm", tgt)]


A64_BRANCHES = [
    A64Branch("b", lambda _r, pc, t: a64.b(pc, t), 26, 4, st.just("")),
    A64Branch("bl", lambda _r, pc, t: a64.bl(pc, t), 26, 4, st.just("")),
    A64Branch("b.cond", a64.b_cond, 19, 4, st.sampled_from(sorted(a64.CONDS))),
    A64Branch("cbz", a64.cbz, 19, 4, A64_REG_ZR),
    A64Branch("cbnz", a64.cbnz, 19, 4, A64_REG_ZR),
    A64Branch("ldr_literal", a64.ldr_literal, 19, 4, A64_REG_ZR),
    A64Branch("adr", a64.adr, 21, 1, A64_REG_ZR),
]


@pytest.mark.parametrize("br", A64_BRANCHES, ids=lambda b: b.name)
@FAST
@given(pc=A64_PC, data=st.data())
def test_arm64_pcrel(br: A64Branch, pc: int, data: st.DataObject) -> None:
    arg = data.draw(br.regs)
    lim = 1 << (br.bits - 1)
    off = data.draw(st.integers(-lim, lim - 1)) * br.scale
    tgt = pc + off
    assume(0 <= tgt <= MASK64)
    insn = one(ARM64, br.enc(arg, pc, tgt), pc)
    mnemonic, ops = br.expect(arg, tgt)
    assert (insn.mnemonic, _absolute(insn.ops)) == (mnemonic, ops)


def _absolute(ops: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Immediates as unsigned 64-bit addresses (capstone reports arm64 targets as int64)."""
    return [("imm", target(o)) if o[0] == "imm" else o for o in ops]


@pytest.mark.parametrize("br", A64_BRANCHES, ids=lambda b: b.name)
def test_arm64_pcrel_boundaries(br: A64Branch) -> None:
    arg = {"b.cond": "ne"}.get(br.name, "x1")
    lim = (1 << (br.bits - 1)) * br.scale

    def enc(pc: int, tgt: int) -> bytes:
        return br.enc(arg, pc, tgt)

    def verify(code: bytes, pc: int, tgt: int) -> None:
        insn = one(ARM64, code, pc)
        assert (insn.mnemonic, _absolute(insn.ops)) == br.expect(arg, tgt)

    check_reach(enc, MID, -lim, lim - br.scale, br.scale, verify)
    with pytest.raises(ReachError):  # a misaligned pc
        enc(MID + 2, MID + 2)
    if br.scale == 4:
        with pytest.raises(ReachError):
            enc(MID, MID + 2)


def test_arm64_in_reach() -> None:
    pc = MID
    assert a64.BL_REACH == a64.B_REACH == 128 << 20
    assert a64.in_reach(pc, pc + a64.BL_REACH - 4)
    assert not a64.in_reach(pc, pc + a64.BL_REACH)
    assert a64.in_reach(pc, pc - a64.BL_REACH)
    assert not a64.in_reach(pc, pc - a64.BL_REACH - 4)
    assert not a64.in_reach(pc, pc + 6)


@FAST
@given(
    pc=A64_PC,
    reg=A64_REG_ZR,
    pages=st.integers(-(1 << 20), (1 << 20) - 1),
    low=st.integers(0, 0xFFF),
)
def test_arm64_adrp(pc: int, reg: str, pages: int, low: int) -> None:
    tgt = (pc & ~0xFFF) + (pages << 12) + low
    assume(0 <= tgt <= MASK64)
    insn = one(ARM64, a64.adrp(reg, pc, tgt), pc)
    assert insn.mnemonic == "adrp" and insn.ops[0] == ("reg", reg)
    assert target(insn.ops[1]) == tgt & ~0xFFF


def test_arm64_adrp_boundaries() -> None:
    pc = MID + 0x804
    base = pc & ~0xFFF
    a64.adrp("x0", pc, base + a64.ADRP_REACH - 1)
    a64.adrp("x0", pc, base - a64.ADRP_REACH)
    with pytest.raises(ReachError):
        a64.adrp("x0", pc, base + a64.ADRP_REACH)
    with pytest.raises(ReachError):
        a64.adrp("x0", pc, base - a64.ADRP_REACH - 1)


@given(dst=A64_REG_ZR | st.just("sp"), src=A64_REG_ZR | st.just("sp"))
def test_arm64_mov_reg(dst: str, src: str) -> None:
    if {"sp", "xzr"} <= {dst, src}:
        with pytest.raises(ValueError):
            a64.mov_reg(dst, src)
        return
    insn = one(ARM64, a64.mov_reg(dst, src))
    assert (insn.mnemonic, insn.ops) == ("mov", [("reg", dst), ("reg", src)])


def test_arm64_mov_examples() -> None:
    # the ftrace entry's `mov x9, x30` and the frame setup `mov x29, sp`
    assert a64.mov_reg("x9", "lr") == a64.mov_reg("x9", "x30") == bytes.fromhex("e9031eaa")
    assert a64.mov_reg("fp", "sp") == bytes.fromhex("fd030091")
    assert one(ARM64, a64.mov_reg("x9", "x30")).op_str == "x9, x30"


@pytest.mark.parametrize("name", ["movz", "movk"])
@FAST
@given(reg=A64_REG_ZR, imm=st.integers(0, 0xFFFF), shift=st.sampled_from([0, 16, 32, 48]))
def test_arm64_move_wide(name: str, reg: str, imm: int, shift: int) -> None:
    insn = one(ARM64, getattr(a64, name)(reg, imm, shift))
    if name == "movz":
        # MOVZ prints as `mov xN, #value` except `movz xN, #0, lsl #n`
        assert insn.mnemonic == ("movz" if imm == 0 and shift else "mov")
    else:
        assert insn.mnemonic == "movk"
    assert insn.ops[0] == ("reg", reg) and insn.ops[1][1] & MASK64 == imm << shift


def _run_movs(insns: list[Insn], reg: str) -> int:
    value = 0
    for insn in insns:
        assert insn.ops[0] == ("reg", reg)
        shift = insn.raw.operands[1].shift.value
        if insn.mnemonic in ("mov", "movz"):
            value = insn.ops[1][1] & MASK64
        else:
            assert insn.mnemonic == "movk"
            value = (value & ~(0xFFFF << shift)) | (insn.ops[1][1] & MASK64)
    return value


@FAST
@given(
    reg=A64_REG, value=st.integers(-(1 << 63), MASK64) | st.sampled_from([0, 1, MASK64, 0xFFFF0000])
)
def test_arm64_mov_imm64(reg: str, value: int) -> None:
    insns = decode(ARM64, a64.mov_imm64(reg, value))
    halves = [(value >> s) & 0xFFFF for s in (0, 16, 32, 48)]
    assert len(insns) == max(1, sum(1 for h in halves if h))
    assert _run_movs(insns, reg) == value & MASK64


@pytest.mark.parametrize(("enc", "mnemonic"), [(a64.ldr_imm, "ldr"), (a64.str_imm, "str")])
@FAST
@given(rt=A64_REG_ZR, rn=A64_REG_SP, scaled=st.integers(0, 4095))
def test_arm64_ldr_str_imm(
    enc: Callable[..., bytes], mnemonic: str, rt: str, rn: str, scaled: int
) -> None:
    insn = one(ARM64, enc(rt, rn, scaled * 8))
    assert (insn.mnemonic, insn.ops) == (mnemonic, [("reg", rt), ("mem", rn, scaled * 8)])
    for bad in (-8, 4, 32768):
        with pytest.raises(ValueError):
            enc(rt, rn, bad)


@pytest.mark.parametrize(("enc", "mnemonic"), [(a64.ldur, "ldur"), (a64.stur, "stur")])
@FAST
@given(rt=A64_REG_ZR, rn=A64_REG_SP, off=st.integers(-256, 255))
def test_arm64_ldur_stur(
    enc: Callable[..., bytes], mnemonic: str, rt: str, rn: str, off: int
) -> None:
    insn = one(ARM64, enc(rt, rn, off))
    assert (insn.mnemonic, insn.ops) == (mnemonic, [("reg", rt), ("mem", rn, off)])
    for bad in (-257, 256):
        with pytest.raises(ValueError):
            enc(rt, rn, bad)


@pytest.mark.parametrize("load", [False, True])
@pytest.mark.parametrize("index", ["offset", "pre", "post"])
@FAST
@given(rt1=A64_REG_ZR, rt2=A64_REG_ZR, rn=A64_REG_SP, scaled=st.integers(-64, 63))
def test_arm64_pairs(
    load: bool, index: a64.PairIndex, rt1: str, rt2: str, rn: str, scaled: int
) -> None:
    enc = a64.ldp if load else a64.stp
    off = scaled * 8
    clash = (load and rt1 == rt2) or (index != "offset" and rn in (rt1, rt2))
    if clash:
        with pytest.raises(ValueError):
            enc(rt1, rt2, rn, off, index=index)
        return
    insn = one(ARM64, enc(rt1, rt2, rn, off, index=index))
    regs = [("reg", rt1), ("reg", rt2)]
    if index == "post":
        expect = [*regs, ("mem", rn, 0), ("imm", off)]
    else:
        expect = [*regs, ("mem", rn, off)]
    assert (insn.mnemonic, insn.ops) == ("ldp" if load else "stp", expect)
    assert insn.raw.writeback == (index != "offset")


def test_arm64_pair_examples() -> None:
    # the frame record push/pop of every kernel prologue/epilogue and ftrace trampoline
    assert a64.stp("fp", "lr", "sp", -16, index="pre") == bytes.fromhex("fd7bbfa9")
    assert a64.ldp("x29", "x30", "sp", 16, index="post") == bytes.fromhex("fd7bc1a8")
    for bad in (-520, 512, 4):
        with pytest.raises(ValueError):
            a64.stp("x0", "x1", "sp", bad)
    with pytest.raises(ValueError):
        a64.stp("x0", "x1", "sp", 0, index="bogus")  # type: ignore[arg-type]


@pytest.mark.parametrize(("enc", "mnemonic"), [(a64.add_imm, "add"), (a64.sub_imm, "sub")])
@FAST
@given(rd=A64_REG_SP, rn=A64_REG_SP, imm12=st.integers(0, 4095), shifted=st.booleans())
def test_arm64_add_sub_imm(
    enc: Callable[..., bytes], mnemonic: str, rd: str, rn: str, imm12: int, shifted: bool
) -> None:
    imm = imm12 << 12 if shifted else imm12
    insn = one(ARM64, enc(rd, rn, imm))
    if mnemonic == "add" and imm == 0 and "sp" in (rd, rn):
        assert (insn.mnemonic, insn.ops) == ("mov", [("reg", rd), ("reg", rn)])
    else:
        assert (insn.mnemonic, insn.ops) == (mnemonic, [("reg", rd), ("reg", rn), ("imm", imm)])
    for bad in (-1, 4097, 1 << 24):
        with pytest.raises(ValueError):
            enc(rd, rn, bad)


@pytest.mark.parametrize(("enc", "mnemonic"), [(a64.br, "br"), (a64.blr, "blr"), (a64.ret, "ret")])
@given(reg=A64_REG)
def test_arm64_branch_reg(enc: Callable[[str], bytes], mnemonic: str, reg: str) -> None:
    insn = one(ARM64, enc(reg))
    # `ret` through x30 prints without its operand
    ops = [] if mnemonic == "ret" and reg == "x30" else [("reg", reg)]
    assert (insn.mnemonic, insn.ops) == (mnemonic, ops)


def test_arm64_fixed() -> None:
    assert a64.ret() == a64.ret("lr") == bytes.fromhex("c0035fd6")
    for code, text in [
        (a64.nop(), "nop "),
        (a64.isb(), "isb "),
        (a64.dsb_ish(), "dsb ish"),
        (a64.bti_c(), "bti c"),
        (a64.ret(), "ret "),
    ]:
        insn = one(ARM64, code)
        assert f"{insn.mnemonic} {insn.op_str}" == text
    assert a64.nop() == bytes.fromhex("1f2003d5")


@pytest.mark.parametrize(("enc", "mnemonic"), [(a64.brk, "brk"), (a64.udf, "udf")])
@given(imm=st.integers(0, 0xFFFF))
def test_arm64_traps(enc: Callable[[int], bytes], mnemonic: str, imm: int) -> None:
    insn = one(ARM64, enc(imm))
    assert (insn.mnemonic, insn.ops) == (mnemonic, [("imm", imm)])
    with pytest.raises(ValueError):
        enc(0x10000)


def test_arm64_register_fields() -> None:
    assert a64.REGS["fp"] == 29 and a64.REGS["lr"] == 30
    with pytest.raises(ValueError):
        a64.add_imm("xzr", "x0", 1)  # 31 is sp in ADD (immediate)
    with pytest.raises(ValueError):
        a64.ldr_imm("x0", "xzr", 0)  # 31 is sp as a base
    with pytest.raises(ValueError):
        a64.ldr_imm("sp", "x0", 0)  # 31 is xzr as a transfer register
    with pytest.raises(ValueError):
        a64.mov_reg("sp", "xzr")
    with pytest.raises(ValueError):
        a64.b_cond("zz", 0, 0)
    with pytest.raises(ValueError):
        a64.blr("w0")


# =========================================================================================
# riscv64
# =========================================================================================

RV_NAMES = sorted(rv.REGS)
RV_REG = st.sampled_from(RV_NAMES)
RV_PC = st.one_of(
    st.integers(0, MASK64 >> 1), st.integers(KERNEL_TEXT >> 1, (KERNEL_TEXT >> 1) + (1 << 22))
).map(lambda h: h << 1)


def _rv(reg: str) -> str:
    return "s0" if reg == "fp" else reg


def rv_canon(insn: Insn) -> tuple[str, list[tuple[Any, ...]]]:
    """Undo capstone's riscv aliases: the base mnemonic and all its operands."""
    m = insn.mnemonic
    ops = [(o[0], _rv(o[1]), *o[2:]) if o[0] in ("reg", "mem") else o for o in insn.ops]
    zero, ra = ("reg", "zero"), ("reg", "ra")
    match m, len(ops):
        case "ret", 0:
            return "jalr", [zero, ra, ("imm", 0)]
        case "jr", 1:
            return "jalr", [zero, ops[0], ("imm", 0)]
        case "jalr", 1:
            return "jalr", [ra, ops[0], ("imm", 0)]
        case "j", 1:
            return "jal", [zero, ops[0]]
        case "jal", 1:
            return "jal", [ra, ops[0]]
        case "mv", 2:
            return "addi", [*ops, ("imm", 0)]
        case "nop", 0:
            return "addi", [zero, zero, ("imm", 0)]
        case "sext.w", 2:
            return "addiw", [*ops, ("imm", 0)]
        case "neg", 2:
            return "sub", [ops[0], zero, ops[1]]
        case (("beqz" | "bnez"), 2):
            return m[:3], [ops[0], zero, ops[1]]
    return m, ops


def rv_one(code: bytes, pc: int = 0) -> tuple[str, list[tuple[Any, ...]]]:
    return rv_canon(one(RISCV, code, pc))


def sext(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def op_reg(reg: str) -> tuple[str, str]:
    return ("reg", _rv(reg))


def op_imm(value: int) -> tuple[str, int]:
    return ("imm", value)


@pytest.mark.parametrize("name", ["jal", "beq", "bne", "beqz", "bnez"])
@FAST
@given(pc=RV_PC, r1=RV_REG, r2=RV_REG, data=st.data())
def test_riscv_branches(name: str, pc: int, r1: str, r2: str, data: st.DataObject) -> None:
    bits = 21 if name == "jal" else 13
    off = data.draw(st.integers(-(1 << (bits - 2)), (1 << (bits - 2)) - 1)) * 2
    tgt = pc + off
    assume(0 <= tgt <= MASK64)
    # capstone prints riscv branch targets as offsets relative to the instruction
    if name == "jal":
        code, expect = rv.jal(r1, pc, tgt), ("jal", [op_reg(r1), op_imm(off)])
    elif name in ("beq", "bne"):
        code = getattr(rv, name)(r1, r2, pc, tgt)
        expect = (name, [op_reg(r1), op_reg(r2), op_imm(off)])
    else:
        code = getattr(rv, name)(r1, pc, tgt)
        expect = (name[:3], [op_reg(r1), op_reg("zero"), op_imm(off)])
    assert rv_one(code, pc) == expect


@pytest.mark.parametrize("name", ["jal", "beq", "bne", "bnez", "j"])
def test_riscv_branch_boundaries(name: str) -> None:
    lim = rv.JAL_REACH if name in ("jal", "j") else rv.BRANCH_REACH
    encs: dict[str, Callable[[int, int], bytes]] = {
        "jal": lambda pc, t: rv.jal("ra", pc, t),
        "j": rv.j,
        "beq": lambda pc, t: rv.beq("a0", "a1", pc, t),
        "bne": lambda pc, t: rv.bne("a0", "a1", pc, t),
        "bnez": lambda pc, t: rv.bnez("a0", pc, t),
    }
    enc = encs[name]
    base = {"j": "jal", "bnez": "bne"}.get(name, name)

    def verify(code: bytes, pc: int, tgt: int) -> None:
        mnemonic, ops = rv_one(code, pc)
        assert (mnemonic, ops[-1]) == (base, op_imm(tgt - pc))

    pc = MID + 2
    check_reach(enc, pc, -lim, lim - 2, 2, verify)
    with pytest.raises(ReachError):
        enc(pc, pc + 1)  # odd target
    with pytest.raises(ReachError):
        enc(pc + 1, pc + 1)  # odd pc
    assert rv.jal_in_reach(pc, pc + rv.JAL_REACH - 2)
    assert not rv.jal_in_reach(pc, pc + rv.JAL_REACH)


def _land(pc: int, insns: list[Insn], reg: str, rd: str) -> int:
    """Execute auipc reg, hi; jalr rd, lo(reg) from decoded operands: the jump target."""
    (m1, ops1), (m2, ops2) = (rv_canon(i) for i in insns)
    assert m1 == "auipc" and ops1[0] == op_reg(reg)
    assert m2 == "jalr" and ops2[:2] == [op_reg(rd), op_reg(reg)]
    reg_value = (pc + sext(ops1[1][1] << 12, 32)) & MASK64  # auipc imm prints unsigned
    return (reg_value + ops2[2][1]) & MASK64 & ~1


EVEN_OFF = st.integers(rv.AUIPC_JALR_MIN >> 1, rv.AUIPC_JALR_MAX >> 1).map(lambda h: h * 2)


@FAST
@given(
    pc=RV_PC,
    off=EVEN_OFF | st.integers(-4096, 4096).map(lambda h: h * 2),
    reg=RV_REG,
    rd=RV_REG | st.none(),
)
def test_riscv_auipc_jalr(pc: int, off: int, reg: str, rd: str | None) -> None:
    tgt = pc + off
    assume(0 <= tgt <= MASK64)
    if reg == "zero":  # auipc zero would drop the upper part
        with pytest.raises(ValueError):
            rv.auipc_jalr(pc, tgt, reg, rd=rd)
        return
    code = rv.auipc_jalr(pc, tgt, reg, rd=rd)
    insns = decode(RISCV, code, pc)
    assert len(insns) == 2 and len(code) == 8
    assert _land(pc, insns, reg, reg if rd is None else rd) == tgt
    assert rv.in_reach(pc, tgt)


def test_riscv_auipc_jalr_boundaries() -> None:
    pc = MID
    hi = rv.AUIPC_JALR_MAX - 1  # the largest even offset
    assert rv.AUIPC_JALR_MIN == -(1 << 31) - 0x800 and rv.AUIPC_JALR_MAX == (1 << 31) - 0x801

    def enc(p: int, t: int) -> bytes:
        return rv.auipc_jalr(p, t, "t0")

    def verify(code: bytes, p: int, tgt: int) -> None:
        assert _land(p, decode(RISCV, code, p), "t0", "t0") == tgt

    check_reach(enc, pc, rv.AUIPC_JALR_MIN, hi, 2, verify)
    assert rv.in_reach(pc, pc + hi) and not rv.in_reach(pc, pc + hi + 2)
    assert rv.in_reach(pc, pc + rv.AUIPC_JALR_MIN)
    assert not rv.in_reach(pc, pc + rv.AUIPC_JALR_MIN - 2)
    assert not rv.in_reach(pc, pc + 3)
    assert rv.split_offset(rv.AUIPC_JALR_MAX) == ((1 << 19) - 1, 0x7FF)
    assert rv.split_offset(rv.AUIPC_JALR_MIN) == (-(1 << 19), -0x800)
    with pytest.raises(ReachError):
        rv.split_offset(rv.AUIPC_JALR_MAX + 1)


def _words(*words: int) -> bytes:
    return b"".join(w.to_bytes(4, "little") for w in words)


def test_riscv_kernel_helpers_examples() -> None:
    assert (rv.AUIPC_T0, rv.JALR_T0, rv.NOP4, rv.JALR_RANGE) == (0x297, 0x282E7, 0x13, 0x7FF)
    # 0x1800: bit 11 set, so auipc rounds up to 0x2000 and jalr adds -0x800
    assert rv.to_auipc_t0(0x1800) == 0x00002297
    assert rv.to_jalr_t0(0x1800) == 0x800282E7
    # 0x12345678: bit 11 clear, so auipc takes the upper 20 bits as they are
    assert rv.to_auipc_t0(0x12345678) == 0x12345297
    assert rv.to_jalr_t0(0x12345678) == 0x678282E7
    # -16 (0xfffffff0 as the kernel's unsigned int): auipc 0x100000 wraps to 0
    assert rv.to_auipc_t0(-16) == rv.to_auipc_t0(0xFFFFFFF0) == 0x00000297
    assert rv.to_jalr_t0(-16) == 0xFF0282E7
    auipc, jalr = decode(RISCV, _words(0x12345297, 0x678282E7))
    assert (auipc.mnemonic, auipc.op_str) == ("auipc", "t0, 0x12345")
    assert (jalr.mnemonic, jalr.op_str) == ("jalr", "t0, t0, 0x678")
    assert rv.make_call_t0(0x1000, 0x1000 + 0x1800) == (0x2297, 0x800282E7)
    assert (rv.to_auipc_ra(0x1800), rv.to_jalr_ra(0x1800)) == (0x2097, 0x800080E7)
    # just past the exact reach the macros do not fail, they wrap: auipc 0x80000 is -2 GiB,
    # so an offset of 2 GiB - 2 KiB lands 4 GiB lower (reach must be checked beforehand)
    off = (1 << 31) - 0x800
    assert not rv.in_reach(MID, MID + off)
    code = _words(*rv.make_call_t0(MID, MID + off))
    assert _land(MID, decode(RISCV, code, MID), "t0", "t0") == MID + off - (1 << 32)


@FAST
@given(
    pc=RV_PC,
    off=st.integers(-(1 << 30), (1 << 30) - 1).map(lambda h: h * 2)
    | st.integers(-(1 << 31), -(1 << 31) + 8192)
    | st.integers(rv.AUIPC_JALR_MAX - 8192, rv.AUIPC_JALR_MAX),
)
def test_riscv_kernel_helpers_reach(pc: int, off: int) -> None:
    """The kernel's make_call_t0() words land on pc+off and equal auipc_jalr(..., "t0").

    Its u32 offset holds [-2 GiB, 2 GiB - 2 KiB - 1]: the exact auipc+jalr reach minus the
    bottom 2 KiB, which need an offset below -2**31.
    """
    tgt = pc + off
    assume(0 <= tgt <= MASK64 and off <= rv.AUIPC_JALR_MAX)
    words = rv.make_call_t0(pc, tgt)
    assert words == (rv.to_auipc_t0(off), rv.to_jalr_t0(off))
    code = _words(*words)
    assert _land(pc, decode(RISCV, code, pc), "t0", "t0") == tgt & ~1
    if off % 2 == 0:
        assert code == rv.auipc_jalr(pc, tgt, "t0")


def _run_li(insns: list[Insn], rd: str) -> int:
    regs = {"zero": 0}
    for insn in insns:
        m, ops = rv_canon(insn)
        assert ops[0] == op_reg(rd)
        if m == "lui":
            regs[rd] = sext(ops[1][1] << 12, 32) & MASK64
            continue
        src, imm = regs[ops[1][1]], ops[2][1]
        if m == "addi":
            regs[rd] = (src + imm) & MASK64
        elif m == "addiw":
            regs[rd] = sext(src + imm, 32) & MASK64
        elif m == "slli":
            regs[rd] = (src << imm) & MASK64
        else:
            raise AssertionError(f"unexpected {m} in li")
    return regs[rd]


LI_VALUES = (
    st.integers(-(1 << 63), MASK64)
    | st.integers(-(1 << 33), 1 << 33)
    | st.sampled_from(
        [0, 1, -1, 0x7FF, 0x800, 0x7FFFFFFF, 0x80000000, -(1 << 31), (1 << 63) - 1, 1 << 63, MASK64]
    )
)


@FAST
@given(rd=st.sampled_from([r for r in RV_NAMES if r != "zero"]), value=LI_VALUES)
def test_riscv_li(rd: str, value: int) -> None:
    insns = decode(RISCV, rv.li(rd, value))
    assert 1 <= len(insns) <= 8
    assert _run_li(insns, _rv(rd)) == value & MASK64


@SOME
@given(value=LI_VALUES)
def test_riscv_li_unicorn(value: int) -> None:
    """The same sequences run on unicorn's rv64 hart."""
    code = rv.li("a0", value)
    uc = unicorn.Uc(unicorn.UC_ARCH_RISCV, unicorn.UC_MODE_RISCV64)
    uc.mem_map(0x10000, 0x1000)
    uc.mem_write(0x10000, code)
    uc.reg_write(riscv_const.UC_RISCV_REG_A0, 0xDEADBEEF)
    uc.emu_start(0x10000, 0x10000 + len(code))
    assert uc.reg_read(riscv_const.UC_RISCV_REG_A0) == value & MASK64


@FAST
@given(rd=RV_REG, rs1=RV_REG, rs2=RV_REG, imm=st.integers(-2048, 2047), data=st.data())
def test_riscv_alu_and_memory(rd: str, rs1: str, rs2: str, imm: int, data: st.DataObject) -> None:
    imm20 = data.draw(st.integers(-(1 << 19), (1 << 20) - 1))
    shamt = data.draw(st.integers(0, 63))
    cases: list[tuple[bytes, tuple[str, list[tuple[Any, ...]]]]] = [
        (rv.addi(rd, rs1, imm), ("addi", [op_reg(rd), op_reg(rs1), op_imm(imm)])),
        (rv.addiw(rd, rs1, imm), ("addiw", [op_reg(rd), op_reg(rs1), op_imm(imm)])),
        (rv.slli(rd, rs1, shamt), ("slli", [op_reg(rd), op_reg(rs1), op_imm(shamt)])),
        (rv.add(rd, rs1, rs2), ("add", [op_reg(rd), op_reg(rs1), op_reg(rs2)])),
        (rv.sub(rd, rs1, rs2), ("sub", [op_reg(rd), op_reg(rs1), op_reg(rs2)])),
        (rv.mv(rd, rs1), ("addi", [op_reg(rd), op_reg(rs1), op_imm(0)])),
        (rv.lui(rd, imm20), ("lui", [op_reg(rd), op_imm(imm20 & 0xFFFFF)])),
        (rv.auipc(rd, imm20), ("auipc", [op_reg(rd), op_imm(imm20 & 0xFFFFF)])),
        (rv.jalr(rd, rs1, imm), ("jalr", [op_reg(rd), op_reg(rs1), op_imm(imm)])),
        (rv.jr(rs1), ("jalr", [op_reg("zero"), op_reg(rs1), op_imm(0)])),
        (rv.ld(rd, rs1, imm), ("ld", [op_reg(rd), ("mem", _rv(rs1), imm)])),
        (rv.lw(rd, rs1, imm), ("lw", [op_reg(rd), ("mem", _rv(rs1), imm)])),
        (rv.sd(rs2, rs1, imm), ("sd", [op_reg(rs2), ("mem", _rv(rs1), imm)])),
        (rv.sw(rs2, rs1, imm), ("sw", [op_reg(rs2), ("mem", _rv(rs1), imm)])),
    ]
    for code, expect in cases:
        assert len(code) == 4
        assert rv_one(code) == expect, code.hex()


def test_riscv_bad_operands() -> None:
    for bad in (
        lambda: rv.addi("a0", "a0", 2048),
        lambda: rv.sd("a0", "sp", -2049),
        lambda: rv.slli("a0", "a0", 64),
        lambda: rv.lui("a0", 1 << 20),
        lambda: rv.add("a0", "x5", "a1"),
        lambda: rv.li("zero", 1),
        lambda: rv.fence("x", "rw"),
    ):
        with pytest.raises(ValueError):
            bad()


def test_riscv_fixed() -> None:
    for code, mnemonic, size in [
        (rv.nop(), "nop", 4),
        (rv.c_nop(), "c.nop", 2),
        (rv.ebreak(), "ebreak", 4),
        (rv.ecall(), "ecall", 4),
        (rv.fence(), "fence", 4),
        (rv.fence_i(), "fence.i", 4),
        (rv.ret(), "ret", 4),
    ]:
        insn = one(RISCV, code)
        assert (insn.mnemonic, insn.size, insn.op_str) == (mnemonic, size, "")
    assert rv.nop() == _words(rv.NOP4) and rv.c_nop() == b"\x01\x00"
    assert rv.ret() == _words(0x00008067)
    assert rv.REGS["fp"] == rv.REGS["s0"] == 8


FENCE_SET = st.sets(st.sampled_from("iorw"), min_size=1).map(
    lambda s: "".join(c for c in "iorw" if c in s)
)


@given(pred=FENCE_SET, succ=FENCE_SET)
def test_riscv_fence(pred: str, succ: str) -> None:
    insn = one(RISCV, rv.fence(pred, succ))
    # capstone omits the sets of a full `fence iorw, iorw`
    expect = "" if pred == succ == "iorw" else f"{pred}, {succ}"
    assert (insn.mnemonic, insn.op_str) == ("fence", expect)
