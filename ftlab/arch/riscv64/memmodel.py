"""RVWMO on riscv64 instructions: decode by encoding format, atomics, and riscv.cat's axioms.

Model: the RISC-V unprivileged specification, chapter "RVWMO Memory Consistency Model"
(preserved program order rules 1-13; load value, atomicity and progress axioms) as herd7 7.58's
`riscv.cat`/`riscv-defs.cat` write it:

    acyclic co | rf | fr | po-loc        (coherence)
    acyclic co | rfe | fr | ppo          (the model)
    empty rmw & (fre; coe)               (atomicity)

capstone 5 has no register access sets for RISC-V (regs_access raises CS_ERR_ARCH), so the
operand roles come from the encoding: rd, rs1, rs2 by format (R, I, S, B, U, J; AMO is R with
rs1 the address and rs2 the data). Dependencies are register data flow only (herd's riscv
dependencies do not pass through memory; rule 12 covers forwarding). A store-conditional
succeeds only with a reservation for its own address; its result register then depends on its
write (herd's `[M]; addr` starts at the SC's write). herd7 makes an AMO one event that is both
a read and a write; here it is a read and a write joined by rmw (in ppo, rule 8), both carrying
the .aq/.rl annotation, and rd depends on rs2 as through herd's single event. Approximation:
`fence.i` orders nothing among data accesses (it is an instruction-fetch fence).
"""

from __future__ import annotations

from functools import partial

import capstone
import unicorn
from unicorn import riscv_const as U

from ftlab.explore.memmodel import basic as B
from ftlab.explore.memmodel import relations as R
from ftlab.explore.memmodel.candidates import Candidate, LocalOrder, atomic_ok, coherence_ok
from ftlab.explore.memmodel.events import NO_TAINT, Insn, Taint, ThreadRun
from ftlab.explore.memmodel.thread import Cpu, ExecError

_UC = {f"x{i}": getattr(U, f"UC_RISCV_REG_X{i}") for i in range(32)}
_AMO = {0b00001: lambda a, b: b, 0b00000: lambda a, b: a + b, 0b00100: lambda a, b: a ^ b,
        0b01100: lambda a, b: a & b, 0b01000: lambda a, b: a | b, 0b11000: min, 0b11100: max}
_SIGNED_AMO = {0b10000: min, 0b10100: max}
_LR, _SC = 0b00010, 0b00011
_LOAD_SIZE = {0: 1, 1: 2, 2: 4, 3: 8, 4: 1, 5: 2, 6: 4}
_STORE_SIZE = {0: 1, 1: 2, 2: 4, 3: 8}


def _x(n: int) -> tuple[str, ...]:
    return (f"x{n}",) if n else ()  # x0 is the constant zero: no dependency through it


def _sext(value: int, size: int) -> int:
    bits = 8 * size
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _fence_tags(word: int) -> frozenset[str]:
    fm, pred, succ = word >> 28, (word >> 24) & 0xF, (word >> 20) & 0xF
    if fm == 0b1000 and pred == 0b0011 and succ == 0b0011:
        return frozenset({"fence.tso"})
    sets = lambda bits: ("r" if bits & 2 else "") + ("w" if bits & 1 else "")  # noqa: E731
    return frozenset({f"fence.{sets(pred)}.{sets(succ)}"})


class RiscvMemIsa:
    name = "riscv64"
    uc_arch = unicorn.UC_ARCH_RISCV
    uc_mode = unicorn.UC_MODE_RISCV64
    cs_arch = capstone.CS_ARCH_RISCV
    cs_mode = capstone.CS_MODE_RISCV64
    pc_reg = U.UC_RISCV_REG_PC
    deps_through_memory = False

    def uc_reg(self, name: str) -> int:
        return _UC[name]

    def decode(self, insn: capstone.CsInsn, note: frozenset[str]) -> Insn:
        text = f"{insn.mnemonic} {insn.op_str}".strip()
        if insn.size != 4:
            raise ExecError(f"unsupported compressed instruction '{text}'")
        w = int.from_bytes(insn.bytes, "little")
        opcode, rd, f3 = w & 0x7F, (w >> 7) & 31, (w >> 12) & 7
        rs1, rs2 = (w >> 15) & 31, (w >> 20) & 31
        if opcode == 0x03:  # LOAD (I)
            return Insn("load", 4, text, reads=_x(rs1), writes=_x(rd), tags=note)
        if opcode == 0x23:  # STORE (S)
            return Insn("store", 4, text, reads=_x(rs1), data=_x(rs2), tags=note)
        if opcode in (0x13, 0x1B):  # OP-IMM (I)
            return Insn("op", 4, text, reads=_x(rs1), writes=_x(rd))
        if opcode in (0x33, 0x3B):  # OP (R)
            return Insn("op", 4, text, reads=_x(rs1) + _x(rs2), writes=_x(rd))
        if opcode in (0x37, 0x17, 0x6F):  # LUI, AUIPC, JAL (U, J): no register sources
            return Insn("op", 4, text, writes=_x(rd))
        if opcode == 0x63:  # BRANCH (B)
            return Insn("branch", 4, text, reads=_x(rs1) + _x(rs2))
        if opcode == 0x0F:  # MISC-MEM
            if f3 == 1:
                return Insn("fence", 4, text, tags=frozenset({"fence.i"}))
            return Insn("fence", 4, text, tags=_fence_tags(w))
        if opcode == 0x2F and f3 in (2, 3):  # AMO (R): rs1 address, rs2 data
            f5 = w >> 27
            if f5 not in _AMO and f5 not in _SIGNED_AMO and f5 not in (_LR, _SC):
                raise ExecError(f"unsupported atomic '{text}'")
            tags = set(note)
            if (w >> 26) & 1:
                tags.add("AQ")
            if (w >> 25) & 1:
                tags.add("RL")
            return Insn("atomic", 4, text, reads=_x(rs1), data=_x(rs2), writes=_x(rd),
                        tags=frozenset(tags))
        raise ExecError(f"unsupported instruction '{text}'")

    def execute(self, insn: Insn, cs: capstone.CsInsn, cpu: Cpu) -> int | None:
        w = int.from_bytes(cs.bytes, "little")
        f3, f5 = (w >> 12) & 7, w >> 27
        rd, rs1, rs2 = (w >> 7) & 31, (w >> 15) & 31, (w >> 20) & 31
        size = 4 if f3 == 2 else 8
        address = cpu.get(f"x{rs1}")
        at = cpu.taint(insn.reads)
        ann = insn.tags

        def set_rd(value: int, taint: Taint) -> None:
            if rd:
                cpu.set(f"x{rd}", _sext(value, size), taint)

        if f5 == _LR:
            value, taint, eid = cpu.load(address, size, frozenset({"X"}) | ann, at)
            set_rd(value, taint)
            cpu.reservation = (eid, address, at)
            return
        if f5 == _SC:
            res = cpu.reservation
            cpu.reservation = None
            # no reservation, or one for another address: fails (herd pairs LR/SC by address)
            if res is None or res[1] != address or cpu.choose(2) == 1:
                set_rd(1, NO_TAINT)
                return
            data = cpu.get(f"x{rs2}") if rs2 else 0
            ev = cpu.store(address, size, data, frozenset({"X", "SC"}) | ann, at,
                           cpu.taint(insn.data))
            cpu.rmw.append((res[0], ev))
            set_rd(0, Taint(frozenset((ev,)), frozenset((ev,))))  # herd: [M]; addr from the W
            return
        value, taint, r = cpu.load(address, size, frozenset({"AMO"}) | ann, at)
        src = cpu.get(f"x{rs2}") if rs2 else 0
        if f5 in _SIGNED_AMO:
            new = _SIGNED_AMO[f5](_sext(value, size), _sext(src, size)) & ((1 << (8 * size)) - 1)
        else:
            new = _AMO[f5](value & ((1 << (8 * size)) - 1), src & ((1 << (8 * size)) - 1))
            new &= (1 << (8 * size)) - 1
        ev = cpu.store(address, size, new, frozenset({"AMO"}) | ann, at, cpu.taint(insn.data))
        cpu.rmw.append((r, ev))
        set_rd(value, taint | cpu.taint(insn.data))  # herd: rd also depends on rs2


def _fence_sets(tag: str) -> tuple[str, str] | None:
    if tag.startswith("fence.") and tag.count(".") == 2:
        _, pred, succ = tag.split(".")
        return pred, succ
    return None


class RvwmoModel:
    """riscv.cat (see the module docstring)."""

    name = "RVWMO (riscv.cat, herd7 7.58)"
    per_location_coherence = True  # an axiom of riscv.cat

    def local(self, run: ThreadRun) -> LocalOrder:
        ev = run.events
        n = len(ev)
        po = B.program_order(n)
        rd, wr = B.of_kind(ev, "R"), B.of_kind(ev, "W")
        mem = rd | wr
        dep = partial(B.dependency, ev)
        tag = partial(B.tagged, ev)
        loc = B.same_location(ev)
        po_loc = [po[i] & loc[i] for i in range(n)]

        addr, data, ctrl = dep("addr"), dep("data"), dep("ctrl")
        aq, rl = tag("AQ"), tag("RL")
        rcsc = (aq | rl) & (tag("X") | tag("AMO"))
        sets = {"r": rd, "w": wr, "rw": mem}
        fence = [0] * n
        for f, e in enumerate(ev):
            if e.kind != "F":
                continue
            before = (1 << f) - 1
            pairs: list[tuple[int, int]] = []
            if "fence.tso" in e.tags:
                pairs = [(wr, wr), (rd, mem)]
            for t in e.tags:
                ps = _fence_sets(t)
                if ps and ps[0] in sets and ps[1] in sets:
                    pairs.append((sets[ps[0]], sets[ps[1]]))
            for dom, rng in pairs:
                for i in R.bits(before & dom):
                    fence[i] |= po[f] & rng
        ppo = R.union(
            R.restrict(po_loc, mem, wr),  # r1
            fence,  # r4
            R.restrict(po, aq & mem, mem),  # r5
            R.restrict(po, mem, rl & mem),  # r6
            R.restrict(po, rcsc, rcsc),  # r7
            R.from_pairs(n, run.rmw),  # r8
            R.restrict(addr, mem, mem),  # r9
            R.restrict(data, mem, wr),  # r10
            R.restrict(ctrl, mem, wr),  # r11
            R.restrict(R.seq(R.restrict(addr, mem, mem), po), mem, wr),  # r13
        )
        # rule 2's static part: R po-loc R with no same-location write in between
        r2 = [0] * n
        for i in R.bits(rd):
            for j in range(i + 1, n):
                if ev[j].kind == "W" and ev[j].loc == ev[i].loc:
                    break
                if ev[j].kind == "R" and ev[j].loc == ev[i].loc:
                    r2[i] |= 1 << j
        # rule 12's static part: (addr | data) into a write
        return LocalOrder(ppo, (r2, R.restrict(R.union(addr, data), mem, wr)))

    def allowed(self, c: Candidate) -> bool:
        if not coherence_ok(c) or not atomic_ok(c):
            return False
        n = len(c.events)
        extra = [0] * n
        rfi = c.internal(c.rf)
        amo_sc = c.tagged("AMO") | c.tagged("SC")
        # the per-run static parts of rules 2 and 12, lifted; rule 3 from rf
        for base, local in zip(c.offsets, c.locals, strict=True):
            r2, dep_w = local.facts
            for i, succ in enumerate(r2):
                g = base + i
                for j in R.bits(succ << base):
                    if c.rf_src[g] != c.rf_src[j]:  # minus rsw
                        extra[g] |= 1 << j
            for i, succ in enumerate(dep_w):
                for w in R.bits(succ << base):
                    extra[base + i] |= rfi[w]
        for w in R.bits(amo_sc & c.writes):
            extra[w] |= rfi[w]  # r3
        rfe = c.external(c.rf)
        return R.acyclic(R.union(c.co, rfe, c.fr, c.local, extra))

