"""x86-TSO on x86_64 instructions: decode with capstone's access sets, and x86tso's axioms.

Model: x86-TSO (Owens, Sarkar, Sewell, "A better x86 memory model: x86-TSO", TPHOLs 2009;
Sewell et al., CACM 2010) in the axiomatic form of herd7's `x86tso.cat`:

    acyclic po-loc | rf | co | fr                      (SC per location)
    acyclic ppo | rfe | co | fr | implied              (TSO: ppo = po minus W->R)
    empty rmw & (fre; coe)                             (atomicity of locked instructions)

where `implied` orders everything across MFENCE and around locked instructions (XCHG with
memory, LOCK-prefixed ADD/SUB/AND/OR/XOR/INC/DEC/XADD/CMPXCHG; a failed CMPXCHG writes nothing,
and flags are not computed). Store forwarding is the absence of rfi from the
global order. Dependencies play no part in TSO, so none are needed from the instructions.
"""

from __future__ import annotations

import capstone
import unicorn
from capstone import x86_const as C
from unicorn import x86_const as U

from ftlab.explore.memmodel import basic as B
from ftlab.explore.memmodel import relations as R
from ftlab.explore.memmodel.candidates import Candidate, LocalOrder, atomic_ok, coherence_ok
from ftlab.explore.memmodel.events import Insn, ThreadRun
from ftlab.explore.memmodel.thread import Cpu, ExecError

_GPR = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"] + [f"r{i}" for i in range(8, 16)]
_UC = {n: getattr(U, f"UC_X86_REG_{n.upper()}") for n in _GPR}
_UC["rflags"] = U.UC_X86_REG_RFLAGS
_VIEWS = {}
for _full, _e, _x, _l in (("rax", "eax", "ax", "al"), ("rbx", "ebx", "bx", "bl"),
                          ("rcx", "ecx", "cx", "cl"), ("rdx", "edx", "dx", "dl"),
                          ("rsi", "esi", "si", "sil"), ("rdi", "edi", "di", "dil"),
                          ("rbp", "ebp", "bp", "bpl"), ("rsp", "esp", "sp", "spl")):
    for _v in (_full, _e, _x, _l):
        _VIEWS[_v] = _full
for _i in range(8, 16):
    for _v in (f"r{_i}", f"r{_i}d", f"r{_i}w", f"r{_i}b"):
        _VIEWS[_v] = f"r{_i}"
_VIEWS["eflags"] = _VIEWS["rflags"] = "rflags"


_LOCKED = {"xchg": None, "xadd": None, "cmpxchg": None,
           "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "and": lambda a, b: a & b,
           "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b,
           "inc": lambda a, b: a + 1, "dec": lambda a, b: a - 1}


def _canon(names) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_VIEWS[n] for n in names if n in _VIEWS))


class X86MemIsa:
    name = "x86_64"
    uc_arch = unicorn.UC_ARCH_X86
    uc_mode = unicorn.UC_MODE_64
    cs_arch = capstone.CS_ARCH_X86
    cs_mode = capstone.CS_MODE_64
    pc_reg = U.UC_X86_REG_RIP
    deps_through_memory = False

    def uc_reg(self, name: str) -> int:
        return _UC[name]

    def decode(self, insn: capstone.CsInsn, note: frozenset[str]) -> Insn:
        m = insn.mnemonic.removeprefix("lock ")
        text = f"{m} {insn.op_str}".strip()
        if m in ("mfence", "lfence", "sfence"):
            return Insn("fence", insn.size, text, tags=frozenset({m.upper()}))
        acc_r, acc_w = insn.regs_access()
        reads = _canon(insn.reg_name(r) for r in acc_r)
        writes = _canon(insn.reg_name(r) for r in acc_w)
        mem = [op for op in insn.operands if op.type == C.X86_OP_MEM]
        if mem:
            addr = _canon(insn.reg_name(r) for r in (mem[0].mem.base, mem[0].mem.index) if r)
            locked = m.startswith("xchg") or insn.prefix[0] == C.X86_PREFIX_LOCK
            if locked:
                if m not in _LOCKED:
                    raise ExecError(f"unsupported locked instruction '{text}'")
                data = tuple(r for r in reads if r not in addr)
                return Insn("atomic", insn.size, text, reads=addr, data=data, writes=writes,
                            tags=frozenset({"X"}) | note)
            if m != "mov":
                raise ExecError(f"unsupported memory instruction '{text}' (only MOV)")
            if insn.operands[0].type == C.X86_OP_MEM:
                data = tuple(r for r in reads if r not in addr)
                return Insn("store", insn.size, text, reads=addr, data=data, tags=note)
            return Insn("load", insn.size, text, reads=addr, writes=writes, tags=note)
        if insn.group(C.X86_GRP_JUMP) and m != "jmp":
            return Insn("branch", insn.size, text, reads=reads)
        if insn.group(C.X86_GRP_CALL) or insn.group(C.X86_GRP_RET) or insn.group(C.X86_GRP_INT):
            raise ExecError(f"unsupported instruction '{text}'")
        return Insn("op", insn.size, text, reads=reads, writes=writes)

    def execute(self, insn: Insn, cs: capstone.CsInsn, cpu: Cpu) -> int | None:
        """A locked read-modify-write: one read and one write, atomic and fully fenced. Flags
        are not computed (no litmus condition reads them)."""
        m = cs.mnemonic.removeprefix("lock ")
        mem = next(op for op in cs.operands if op.type == C.X86_OP_MEM)
        address = mem.mem.disp
        for reg, scale in ((mem.mem.base, 1), (mem.mem.index, mem.mem.scale)):
            if reg:
                address += scale * cpu.get(_VIEWS[cs.reg_name(reg)])
        size = mem.size
        mask = (1 << (8 * size)) - 1
        other = [op for op in cs.operands if op.type != C.X86_OP_MEM]
        src_reg = _VIEWS.get(cs.reg_name(other[0].reg)) if other and other[0].type == C.X86_OP_REG \
            else None
        src = (cpu.get(src_reg) if src_reg else other[0].imm if other else 0) & mask
        src_taint = cpu.taint([src_reg] if src_reg else [])
        at = cpu.taint(insn.reads)
        value, taint, r = cpu.load(address, size, insn.tags, at)
        new: int | None
        if m == "xchg":
            new = src
        elif m == "cmpxchg":
            new = src if value == cpu.get("rax") & mask else None
        elif m == "xadd":
            new = value + src
        else:
            new = _LOCKED[m](value, src)
        if new is not None:
            w = cpu.store(address, size, new & mask, insn.tags, at, src_taint)
            cpu.rmw.append((r, w))
        if m in ("xchg", "xadd") and src_reg:
            cpu.set(src_reg, value, taint)
        elif m == "cmpxchg" and new is None:
            cpu.set("rax", value, taint)


class TsoModel:
    name = "x86-TSO (x86tso.cat, herd7 7.58)"
    per_location_coherence = True  # an axiom of x86tso.cat

    def local(self, run: ThreadRun) -> LocalOrder:
        ev = run.events
        n = len(ev)
        po = B.program_order(n)
        rd, wr = B.of_kind(ev, "R"), B.of_kind(ev, "W")
        mem = rd | wr
        ppo = [0] * n
        for i in R.bits(mem):
            ppo[i] = po[i] & (mem if ev[i].kind == "R" else wr)
        for f, e in enumerate(ev):
            if e.kind == "F" and "MFENCE" in e.tags:
                for i in R.bits(((1 << f) - 1) & mem):
                    ppo[i] |= po[f] & mem
        locked = B.tagged(ev, "X")
        # implied: [W]; po; [X] | [X]; po; [R]  (locked instructions act as fences)
        return LocalOrder(R.union(ppo, R.restrict(po, wr, locked), R.restrict(po, locked, rd)))

    def allowed(self, c: Candidate) -> bool:
        if not coherence_ok(c) or not atomic_ok(c):
            return False
        return R.acyclic(R.union(c.local, c.external(c.rf), c.co, c.fr))
