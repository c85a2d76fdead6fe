"""The ARMv8 memory model on arm64 instructions: decode, atomics, and aarch64.cat's axioms.

Model: herd7 7.58's `aarch64.cat` (the Arm ARM's B2.3 in cat form; Pulte, Flur, Deacon, French,
Sarkar, Sewell, "Simplifying ARM concurrency", POPL 2018; Deacon and Alglave's later revisions
with local-read/write successors and pick dependencies), restricted to what data litmus tests
use (no VMSA, MTE, instruction fetch, mixed sizes); DSB is DMB plus DSB-ob (a DSB ST also
orders earlier writes before later reads):

    ob = (lob | pick-lob | Exp-haz-ob | rfe | coe | fre)+,   irreflexive ob   (external)
    lob = (dob | pob | aob | bob | lwfs | IFB-ob)+
    internal: coRW1, coWW, coWR;   atomic: rmw & (fr; co) empty (but for fri; coi)

Dependencies come from the executed instructions: register taints through capstone's operand
list (register roles by operand position, flags from its access sets), and through memory along
`lrs` (aarch64deps.cat's dtrm). Every shareability domain is the inner-shareable one (herd's
own restriction).
The status result of a store-exclusive carries no dependency (`[~range(lxsx)]; rf-reg`). CAS
follows herd's event structure: its comparison picks (iico_ctrl) the write and Rs's new value,
a success takes Rs's new value from Rs or from memory (both tried), a failure may write back
the value it read. Approximation: iico_order inside an instruction is folded into aob's
rmw pair.
"""

from __future__ import annotations

from functools import partial

import capstone
import unicorn
from capstone import arm64_const as C
from unicorn import arm64_const as A

from ftlab.explore.memmodel import basic as B
from ftlab.explore.memmodel import relations as R
from ftlab.explore.memmodel.candidates import Candidate, LocalOrder
from ftlab.explore.memmodel.events import NO_TAINT, Insn, Taint, ThreadRun
from ftlab.explore.memmodel.thread import Cpu, ExecError

_UC = {f"x{i}": getattr(A, f"UC_ARM64_REG_X{i}") for i in range(31)}
_UC["nzcv"] = A.UC_ARM64_REG_NZCV
_UC["sp"] = A.UC_ARM64_REG_SP

_COND_BRANCH = {"cbz", "cbnz", "tbz", "tbnz"}
_COMPARE = {"cmp", "cmn", "tst", "ccmp", "ccmn", "fcmp"}
_SELECT = {"csel", "csinc", "csinv", "csneg", "cset", "csetm", "cinc", "cinv", "cneg"}
_FENCE = {"sy": "full", "ish": "full", "osh": "full", "nsh": "full",
          "ld": "ld", "ishld": "ld", "oshld": "ld", "nshld": "ld",
          "st": "st", "ishst": "st", "oshst": "st", "nshst": "st"}
_AMO_OPS = {"add": lambda a, b: a + b, "clr": lambda a, b: a & ~b, "eor": lambda a, b: a ^ b,
            "set": lambda a, b: a | b, "smax": max, "smin": min, "umax": max, "umin": min}


def _canon(name: str) -> str | None:
    """capstone's register name -> the taint key (w and x views are one register)."""
    if name in ("wzr", "xzr"):
        return None
    if name[0] in "wx" and name[1:].isdigit():
        return "x" + name[1:]
    if name in ("fp", "x29"):
        return "x29"
    if name in ("lr", "x30"):
        return "x30"
    return name


def _split(mnemonic: str) -> tuple[str, bool, bool, int]:
    """Atomic mnemonic -> (base operation, acquire, release, size; 0: the register's)."""
    for base in sorted(_ATOMIC_BASES, key=len, reverse=True):
        if mnemonic.startswith(base):
            rest = mnemonic[len(base):]
            size = {"b": 1, "h": 2}.get(rest[-1:], 0)
            order = rest[:-1] if size else rest
            if order in ("", "a", "l", "al"):
                return base, "a" in order, "l" in order, size
    raise KeyError(mnemonic)


_ATOMIC_BASES = {"cas", "swp"} | {f"ld{op}" for op in _AMO_OPS} | {f"st{op}" for op in _AMO_OPS}


def _regsize(name: str) -> int:
    return 4 if name.startswith("w") else 8


class Arm64MemIsa:
    name = "arm64"
    uc_arch = unicorn.UC_ARCH_ARM64
    uc_mode = unicorn.UC_MODE_ARM
    cs_arch = capstone.CS_ARCH_ARM64
    cs_mode = capstone.CS_MODE_ARM
    pc_reg = A.UC_ARM64_REG_PC
    deps_through_memory = True  # aarch64deps.cat: dtrm includes lrs

    def uc_reg(self, name: str) -> int:
        return _UC[name]

    def _reg_ops(self, insn: capstone.CsInsn) -> tuple[list[str], list[str]]:
        regs: list[str] = []
        addr: list[str] = []
        for op in insn.operands:
            if op.type == C.ARM64_OP_REG:
                regs.append(insn.reg_name(op.reg))
            elif op.type == C.ARM64_OP_MEM:
                for r in (op.mem.base, op.mem.index):
                    if r:
                        addr.append(insn.reg_name(r))
        return regs, addr

    def decode(self, insn: capstone.CsInsn, note: frozenset[str]) -> Insn:
        m = insn.mnemonic
        text = f"{m} {insn.op_str}".strip()
        regs, addr = self._reg_ops(insn)
        keys = lambda names: tuple(k for k in map(_canon, names) if k)  # noqa: E731
        if m in ("dmb", "dsb"):
            kind = _FENCE.get(insn.op_str.strip())
            if kind is None:
                raise ExecError(f"unsupported barrier '{text}'")
            return Insn("fence", 4, text, tags=frozenset({kind, m}))
        if m in ("dc", "ic"):
            op = insn.op_str.split(",")[0].strip()
            if (m, op) not in (("dc", "cvau"), ("ic", "ivau"), ("ic", "iallu"), ("ic", "ialluis")):
                raise ExecError(f"unsupported cache maintenance '{text}'")
            return Insn("atomic", 4, text, reads=keys(regs), tags=frozenset({m.upper()}))
        if m == "isb":
            return Insn("fence", 4, text, tags=frozenset({"ISB"}))
        if m == "nop":
            return Insn("op", 4, text)
        if addr or m.startswith(("ld", "st", "cas", "swp")):
            if insn.writeback:
                raise ExecError(f"unsupported addressing with writeback: '{text}'")
            try:
                _split(m)
                return Insn("atomic", 4, text, reads=keys(addr), tags=note)
            except KeyError:
                pass
            if m in ("ldxr", "ldaxr", "stxr", "stlxr", "ldxrb", "ldxrh", "ldaxrb", "ldaxrh",
                     "stxrb", "stxrh", "stlxrb", "stlxrh"):
                return Insn("atomic", 4, text, reads=keys(addr), tags=note)
            if m.startswith(("ldp", "stp", "ldnp", "stnp", "ldxp", "stxp", "ldaxp", "stlxp")):
                raise ExecError(f"unsupported pair access '{text}'")
            if m.startswith(("ldapr", "ldapur")):  # Unicorn's CPU lacks RCpc: run it here
                return Insn("atomic", 4, text, reads=keys(addr), writes=keys(regs[:1]),
                            tags=frozenset({"Q"}) | note)
            if m.startswith("stlur"):  # nor RCpc2's STLUR
                return Insn("atomic", 4, text, reads=keys(addr), data=keys(regs[:1]),
                            tags=frozenset({"L"}) | note)
            if m.startswith("ld"):
                tags = {"A"} if m.startswith("ldar") else {"Q"} if m.startswith("ldapr") else set()
                return Insn("load", 4, text, reads=keys(addr), writes=keys(regs[:1]),
                            tags=frozenset(tags) | note)
            if m.startswith("st"):
                tags = {"L"} if m.startswith("stlr") else set()
                return Insn("store", 4, text, reads=keys(addr), data=keys(regs[:1]),
                            tags=frozenset(tags) | note)
            raise ExecError(f"unsupported memory instruction '{text}'")
        try:
            acc_r, acc_w = insn.regs_access()
        except capstone.CsError:
            acc_r, acc_w = (), ()
        flags_read = any(insn.reg_name(r) == "nzcv" for r in acc_r)
        flags_written = any(insn.reg_name(r) == "nzcv" for r in acc_w)
        if m in _COND_BRANCH or (m.startswith("b.") and m != "b.al"):
            reads = keys(regs) + (("nzcv",) if m.startswith("b.") else ())
            return Insn("branch", 4, text, reads=reads)
        if m in ("b", "bl"):
            return Insn("op", 4, text, writes=("x30",) if m == "bl" else ())
        if m in ("br", "blr", "ret"):  # the target register decides where: a dependency
            target = keys(regs) or ("x30",)
            return Insn("branch", 4, text, reads=target,
                        writes=("x30",) if m == "blr" else ())
        if m == "udf":
            return Insn("undefined", 4, text)
        if m == "eret":
            return Insn("atomic", 4, text)
        if m == "msr" and insn.op_str.lower().startswith("elr_el1"):
            return Insn("atomic", 4, text, reads=keys(regs))
        if m in ("svc", "hvc", "smc", "brk", "hlt", "eret", "wfi", "wfe", "sev", "msr", "mrs"):
            raise ExecError(f"unsupported instruction '{text}'")
        if m in _COMPARE:
            return Insn("op", 4, text, reads=keys(regs), writes=("nzcv",))
        # data processing: operand 0 is the destination, the other registers are sources
        writes = keys(regs[:1]) + (("nzcv",) if flags_written else ())
        reads = keys(regs[1:])
        if flags_read and m in _SELECT:
            # only the chosen source flows into the result; the flags only choose (a pick)
            return Insn("select", 4, text, reads=reads, writes=writes, select=("nzcv",))
        if flags_read:
            reads = reads + ("nzcv",)
        return Insn("op", 4, text, reads=reads, writes=writes)

    def selected(self, insn: Insn, cs: capstone.CsInsn, cpu: Cpu) -> tuple[str, ...]:
        """The source register a conditional select takes, from the live flags."""
        regs, _ = self._reg_ops(cs)
        sources = regs[1:]
        if len(sources) < 2:
            return insn.reads
        nzcv = cpu.get("nzcv") >> 28
        n, z, c, v = nzcv >> 3 & 1, nzcv >> 2 & 1, nzcv >> 1 & 1, nzcv & 1
        base = {C.ARM64_CC_EQ: z, C.ARM64_CC_HS: c, C.ARM64_CC_MI: n, C.ARM64_CC_VS: v,
                C.ARM64_CC_HI: c and not z, C.ARM64_CC_GE: n == v,
                C.ARM64_CC_GT: not z and n == v, C.ARM64_CC_AL: True}
        inverse = {C.ARM64_CC_NE: C.ARM64_CC_EQ, C.ARM64_CC_LO: C.ARM64_CC_HS,
                   C.ARM64_CC_PL: C.ARM64_CC_MI, C.ARM64_CC_VC: C.ARM64_CC_VS,
                   C.ARM64_CC_LS: C.ARM64_CC_HI, C.ARM64_CC_LT: C.ARM64_CC_GE,
                   C.ARM64_CC_LE: C.ARM64_CC_GT}
        cc = cs.cc
        holds = bool(base[cc]) if cc in base else not base[inverse[cc]]
        chosen = _canon(sources[0] if holds else sources[1])
        return (chosen,) if chosen else ()

    def execute(self, insn: Insn, cs: capstone.CsInsn, cpu: Cpu) -> int | None:
        m = cs.mnemonic
        regs, addr_regs = self._reg_ops(cs)
        if m == "msr":  # MSR ELR_EL1, Xn: where ERET returns
            cpu.elr = cpu.get(insn.reads[0]) if insn.reads else 0
            return None
        if m == "eret":  # exception return: a context synchronization event (as ISB)
            cpu.fence(frozenset({"ISB", "EXC-RET"}))
            return cpu.elr
        if m in ("dc", "ic"):
            addr = cpu.get(insn.reads[0]) if insn.reads else -1
            cpu.cache_op(insn.tags, addr, cpu.taint(insn.reads))
            return
        base = _canon(addr_regs[0])
        assert base is not None
        address = cpu.get(base)
        at = cpu.taint(insn.reads)
        if m.startswith(("ldapr", "ldapur", "stlur")):
            address += next(op.mem.disp for op in cs.operands if op.type == C.ARM64_OP_MEM)
            size = _excl_size(m, regs[0])
            if m.startswith("stlur"):
                data = _canon(regs[0])
                cpu.store(address, size, cpu.get(data) if data else 0, insn.tags, at,
                          cpu.taint([data] if data else []))
                return
            value, taint, _ = cpu.load(address, size, insn.tags, at)
            self._set(cpu, regs[0], value, taint)
            return
        if m.startswith(("ldxr", "ldaxr")):
            size = _excl_size(m, regs[0])
            tags = frozenset({"X"} | ({"A"} if m.startswith("lda") else set())) | insn.tags
            value, taint, eid = cpu.load(address, size, tags, at)
            self._set(cpu, regs[0], value, taint)
            cpu.reservation = (eid, address, at)
            return
        if m.startswith(("stxr", "stlxr")):
            size = _excl_size(m, regs[1])
            status = regs[0]
            res = cpu.reservation
            cpu.reservation = None
            if res is None or res[1] != address or cpu.choose(2) == 1:  # herd7: L020
                self._set(cpu, status, 1, NO_TAINT)
                return
            tags = frozenset({"X"} | ({"L"} if m.startswith("stl") else set())) | insn.tags
            data = _canon(regs[1])
            value = cpu.get(data) if data else 0
            w = cpu.store(address, size, value, tags, at, cpu.taint([data] if data else []))
            cpu.rmw.append((res[0], w))
            self._set(cpu, status, 0, NO_TAINT)  # status carries no dependency
            return
        op, acq, rel, size = _split(m)
        if op.startswith("st"):  # STADD Rs,[Xn] is LDADD Rs,ZR,[Xn]
            op = "ld" + op[2:]
            regs = [regs[0], "wzr" if regs[0].startswith("w") else "xzr"]
        size = size or _regsize(regs[1] if op != "cas" else regs[0])
        mask = (1 << (8 * size)) - 1
        rs, rt = _canon(regs[0]), _canon(regs[1])
        noret = rt is None if op != "cas" else rs is None
        # a result discarded into the zero register drops the acquire (MP+rel+SWPacq-noret)
        rtags = {"AMO"} | ({"NoRet"} if noret else {"A"} if acq else set())
        wtags = {"AMO"} | ({"L"} if rel else set())
        value, taint, r = cpu.load(address, size, frozenset(rtags) | insn.tags, at)
        own = Taint(frozenset((r,)), frozenset((r,)))  # the write's intrinsic input: its read
        if op == "cas":
            # herd7's CAS (event structures aarch64_cas_ok/no): the comparison of Rs with
            # memory only chooses (a pick) what reaches Rs and memory; it is no BCC, so no
            # control dependency of later instructions
            expected = (cpu.get(rs) if rs else 0) & mask
            rs_taint = cpu.taint([rs] if rs else [])
            compare = rs_taint | taint
            wtags_all = frozenset(wtags) | insn.tags
            if value == expected:
                new = cpu.get(rt) if rt else 0
                data = cpu.taint([rt] if rt else []) | compare.as_pick()
                w = cpu.store(address, size, new, wtags_all, at, data)
                cpu.rmw.append((r, w))
                # Rs gets its value either from Rs (data) chosen by the comparison, or from
                # memory (data): herd tries both (`DataFromRRs`, `DataFromRx`)
                out = rs_taint | compare.as_pick() if cpu.choose(2) == 0 else taint
                self._set(cpu, regs[0], value, out)
            else:
                if cpu.choose(2) == 1:  # a failing CAS may write back what it read
                    w = cpu.store(address, size, value, wtags_all, at, taint)
                    cpu.rmw.append((r, w))
                self._set(cpu, regs[0], value, taint | rs_taint.as_pick())
            return
        src = (cpu.get(rs) if rs else 0) & mask
        if op == "swp":
            new = src
        else:
            fn = _AMO_OPS.get(op[2:])
            if fn is None:
                raise ExecError(f"unsupported atomic '{insn.text}'")
            new = fn(value, src) & mask
        # herd's swp_or_amo: memory's old value flows into the new one for LD<op> (data),
        # only orders it for SWP (iico_order, covered by the rmw pair)
        w = cpu.store(address, size, new, frozenset(wtags) | insn.tags, at,
                      cpu.taint([rs] if rs else []) | (NO_TAINT if op == "swp" else own))
        cpu.rmw.append((r, w))
        self._set(cpu, regs[1], value, taint)

    def _set(self, cpu: Cpu, name: str, value: int, taint) -> None:
        key = _canon(name)
        if key is None:
            return
        if name.startswith("w"):
            value &= 0xFFFFFFFF
        cpu.set(key, value, taint)


def _excl_size(m: str, reg: str) -> int:
    if m.endswith("b"):
        return 1
    if m.endswith("h"):
        return 2
    return _regsize(reg)


# -- the model ---------------------------------------------------------------------------------


class AArch64Model:
    """herd7 7.58 aarch64.cat (see the module docstring)."""

    name = "ARMv8 (aarch64.cat, herd7 7.58)"
    per_location_coherence = True  # the earlier aarch64.cat's "internal" axiom, implied

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
        lrs = [0] * n  # W -> po-later R of the same location with no write in between
        for i, e in enumerate(ev):
            if e.kind == "W":
                for j in range(i + 1, n):
                    if ev[j].kind == "W" and ev[j].loc == e.loc:
                        break
                    if ev[j].kind == "R" and ev[j].loc == e.loc:
                        lrs[i] |= 1 << j

        addr, data, ctrl = dep("addr"), dep("data"), dep("ctrl")
        p_addr, p_data, p_ctrl = dep("pick_addr"), dep("pick_data"), dep("pick_ctrl")
        fence = lambda k: [i for i, e in enumerate(ev) if e.kind == "F" and k in e.tags]  # noqa: E731
        acq, acqpc, rel, noret = tag("A"), tag("Q"), tag("L"), tag("NoRet")
        rmw = R.from_pairs(n, run.rmw)
        amo_al = R.restrict(rmw, acq, rel)
        isb = fence("ISB")

        def after_fence(kinds: list[int], dom: int, rng: int) -> list[int]:
            out = [0] * n
            for f in kinds:
                before = ((1 << f) - 1) & dom
                for i in R.bits(before):
                    out[i] |= po[f] & rng
            return out

        dob = R.union(addr, data, R.restrict(ctrl, mem, wr),
                      R.restrict(R.seq(R.restrict(addr, mem, mem), po), mem, wr),
                      R.seq(R.restrict(addr, mem, mem), R.restrict(lrs, wr, rd)),
                      R.seq(R.restrict(data, mem, mem), R.restrict(lrs, wr, rd)))
        pob = R.union(R.restrict(p_addr, mem, wr), p_data, R.restrict(p_ctrl, mem, wr),
                      R.restrict(R.seq(R.restrict(p_addr, mem, mem), po), mem, wr))
        aob = R.union(rmw, R.restrict(R.seq(rmw, lrs), mem, acq | acqpc))
        range_al = 0
        for succ in amo_al:
            range_al |= succ
        bob = R.union(after_fence(fence("full"), mem, mem),
                      after_fence(fence("ld"), rd & ~noret, mem),
                      after_fence(fence("st"), wr, wr),
                      R.restrict(po, range_al, mem),
                      R.restrict(po, rel, acq),
                      R.restrict(po, acq | acqpc, mem),
                      R.restrict(po, mem, rel))
        # DSB-ob (aarch64hwreqs.cat): a DSB ST orders earlier writes before everything after
        # it, where a DMB ST orders them before later writes only
        dsb_st = [i for i in fence("st") if "dsb" in ev[i].tags]
        bob = R.union(bob, after_fence(dsb_st, wr, mem))
        lwfs = R.restrict(po_loc, mem, wr)
        ifb = [0] * n
        for f in isb:
            later = po[f] & mem
            for i in R.bits(mem):
                if (ctrl[i] | p_ctrl[i]) >> f & 1:
                    ifb[i] |= later
                if (R.seq(R.restrict(R.union(addr, p_addr), rd, mem), po)[i]) >> f & 1:
                    ifb[i] |= later
        lob = R.closure(R.union(dob, pob, aob, bob, lwfs, ifb))
        # pick-basic-dep also reaches a read through the write it may forward from (lrs)
        pick_dep = R.union(p_addr, p_data, p_ctrl, dep("forwarded"))
        pick_lob = R.restrict(R.seq(pick_dep, lob), rd, wr)
        return LocalOrder(R.closure(R.union(lob, pick_lob)))

    def allowed(self, c: Candidate) -> bool:
        n = len(c.events)
        # internal visibility: coRW1, coWW, coWR
        for r in R.bits(c.reads):
            w = c.rf_src[r]
            if c.same_thread[r] >> w & 1 and (c.po_loc[r] | c.rmw[r]) >> w & 1:
                return False
        for w1 in R.bits(c.writes):
            for x in R.bits(c.po_loc[w1]):
                ca = c.co[x] if c.events[x].kind == "W" else c.fr[x]
                if ca >> w1 & 1:
                    return False
        # atomic: (rmw & (fr; co)) minus (fri; [W]; coi)
        for r in R.bits(c.reads):
            if not c.rmw[r]:
                continue
            w = c.rmw[r].bit_length() - 1
            between = [x for x in R.bits(c.fr[r]) if c.co[x] >> w & 1]
            if between:
                mine = c.same_thread[r]
                exempt = any(mine >> y & 1 and c.co[y] >> w & 1 for y in R.bits(c.fr[r] & mine))
                if not exempt:
                    return False
        # external: ob acyclic
        rfe = c.external(c.rf)
        fre = c.external(c.fr)
        coe = c.external(c.co)
        haz = [0] * n
        for r in R.bits(c.reads):
            for r2 in R.bits(c.po_loc[r] & c.reads):
                haz[r] |= fre[r2]
        return R.acyclic(R.union(c.local, rfe, fre, coe, haz))
