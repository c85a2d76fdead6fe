"""Instruction fetch on ARMv8 (CTR_EL0.DIC=0, IDC=0): herd7 7.58's `aarch64.cat` with
`-variant ifetch`, after Simner, Flur, Pulte, Armstrong, Pichon-Pharabod, Maranget, Sewell,
"ARMv8-A system semantics: instruction fetch in relaxed architectures" (ESOP 2020).

A fetch from code the test writes is an implicit read (`Instr`) whose value is the instruction
that runs. Besides the data model's orderings (restricted to explicit accesses):

- f-ob: a fetch is ordered before every later non-fetch event of its thread;
- DSB-ob: accesses, DC CVAU and IC before a DSB are ordered before everything after it except
  fetches; an ISB after that (IFB-ob) also orders the later fetches;
- po-scl-ob and the DMB rules for DC CVAU; ctrl/addr dependencies into DC and IC;
- Instr-obs: rf into a fetch (internal too), IC-after and DC-after, and IC-ca:
  `[IC]; IC-after; [Instr R]; ca; [W]; DC-after; [DC.CVAU]`;
- IC-ob: `[Instr R]; po; [Instr R]; IC-after; [IC]; po; [dsb.full]; po; [~Imp]`.

IC-after and DC-after are not given by the execution: as herd's `enumerations.cat`, every pair
(IC followed by a DSB, fetch of the same cache line) and (DC CVAU, write of the same line) not
already ordered by the local orderings is tried both ways, and an execution is allowed when one
choice satisfies every axiom. Each location is its own cache line (herd's assumption).
A fetched undefined instruction faults into the test's handler (Pn.F); exception entry and
ERET are context synchronization events (herd's IFB). Not modelled: CMODX's flag (a warning
in herd, not a verdict).
"""

from __future__ import annotations

import itertools
from functools import partial

from ftlab.explore.memmodel import basic as B
from ftlab.explore.memmodel import relations as R
from ftlab.explore.memmodel.candidates import Candidate, LocalOrder
from ftlab.explore.memmodel.events import ThreadRun


class _Local:
    """Per-run facts: the local-hw-reqs closure and what the enumerations need."""

    def __init__(self, hw: list[int], cic: int, fetch: int, dc: int, ic: int, exp: int,
                 dsb_after: list[int], ic_all: int) -> None:
        self.hw = hw
        self.cic = cic
        self.fetch = fetch
        self.dc = dc
        self.ic = ic
        self.exp = exp
        self.dsb_after = dsb_after  # IC -> events after a po-later dsb.full, but fetches
        self.ic_all = ic_all


def _mask(ev, pred) -> int:
    return sum(1 << i for i, e in enumerate(ev) if pred(e))


class AArch64IfetchModel:
    name = "ARMv8 instruction fetch (aarch64.cat -variant ifetch, DIC=0 IDC=0, herd7 7.58)"
    per_location_coherence = True  # for explicit accesses; fetches may see new then old
    coherence_exempt = "Instr"

    def local(self, run: ThreadRun) -> LocalOrder:
        ev = run.events
        n = len(ev)
        full = (1 << n) - 1
        po = B.program_order(n)
        fetch = _mask(ev, lambda e: e.kind == "R" and "Instr" in e.tags)
        rd = _mask(ev, lambda e: e.kind == "R") & ~fetch
        wr = _mask(ev, lambda e: e.kind == "W")
        mem = rd | wr
        dc = _mask(ev, lambda e: e.kind == "C" and "DC" in e.tags)
        ic = _mask(ev, lambda e: e.kind == "C" and "IC" in e.tags)
        ic_all = _mask(ev, lambda e: e.kind == "C" and "IC" in e.tags and e.loc < 0)
        loc = B.same_location(ev, "RWC")
        po_loc = [po[i] & loc[i] for i in range(n)]
        lrs = [0] * n
        for i, e in enumerate(ev):
            if e.kind == "W":
                for j in range(i + 1, n):
                    if ev[j].kind == "W" and ev[j].loc == e.loc:
                        break
                    if (rd >> j) & 1 and ev[j].loc == e.loc:
                        lrs[i] |= 1 << j

        def dep(field: str) -> list[int]:  # from explicit reads only, not fetches
            return R.restrict(B.dependency(ev, field), rd, full)

        addr, data, ctrl = dep("addr"), dep("data"), dep("ctrl")
        p_addr, p_data, p_ctrl = dep("pick_addr"), dep("pick_data"), dep("pick_ctrl")
        tag = partial(B.tagged, ev)
        acq, acqpc, rel, noret = tag("A"), tag("Q"), tag("L"), tag("NoRet")
        fences = lambda *ts: [i for i, e in enumerate(ev)  # noqa: E731
                              if e.kind == "F" and all(t in e.tags for t in ts)]
        rmw = R.from_pairs(n, run.rmw)

        def across(fs: list[int], dom: int, rng: int) -> list[int]:
            out = [0] * n
            for f in fs:
                for i in R.bits(((1 << f) - 1) & dom):
                    out[i] |= po[f] & rng
            return out

        not_fetch = full & ~fetch
        dsb_ob = R.union(across(fences("full", "dsb"), mem | dc | ic, not_fetch),
                         across(fences("ld", "dsb"), rd & ~noret, not_fetch),
                         across(fences("st", "dsb"), wr, not_fetch))
        isb = fences("ISB")
        ifb = [0] * n
        addr_po = R.seq(R.restrict(R.union(addr, p_addr), rd, mem), po)
        for f in isb:
            for i in range(n):
                if ((ctrl[i] | p_ctrl[i]) >> f & 1 and (rd >> i) & 1) or addr_po[i] >> f & 1 \
                        or dsb_ob[i] >> f & 1:
                    ifb[i] |= po[f]
        maint = dc | ic
        dob = R.union(addr, data, R.restrict(ctrl, rd, wr | maint),
                      R.restrict(R.seq(R.restrict(addr, rd, mem), po), rd, wr),
                      R.seq(R.restrict(R.union(addr, data), rd, mem), R.restrict(lrs, wr, rd)))
        pob = R.union(R.restrict(p_addr, rd, wr | maint), R.restrict(p_data, rd, wr),
                      R.restrict(p_ctrl, rd, wr | maint),
                      R.restrict(R.seq(R.restrict(p_addr, rd, mem), po), rd, wr))
        aob = R.union(R.restrict(rmw, mem, mem), R.restrict(R.seq(rmw, lrs), mem, acq | acqpc))
        amo_al = R.restrict(rmw, acq, rel)
        range_al = 0
        for succ in amo_al:
            range_al |= succ
        full_f = fences("full")
        bob = R.union(across(full_f, mem, mem), across(full_f, mem, dc),
                      across(full_f, dc, mem | dc),
                      across(fences("ld"), rd & ~noret, mem), across(fences("st"), wr, wr),
                      R.restrict(po, range_al, mem), R.restrict(po, rel, acq),
                      R.restrict(po, acq | acqpc, mem), R.restrict(po, mem, rel))
        lwfs = R.restrict(po_loc, mem, wr)
        f_ob = R.restrict(po, fetch, not_fetch)
        scl = [po_loc[i] | (po[i] if (ic_all >> i) & 1 else 0) for i in range(n)]
        po_scl = R.union(R.restrict(scl, mem, dc), R.restrict(scl, dc, mem | dc))
        lob = R.closure(R.union(dob, pob, aob, bob, lwfs, dsb_ob, ifb, f_ob, po_scl))
        # pick-basic-dep also reaches a read through the write it may forward from (lrs)
        pick_dep = R.union(p_addr, p_data, p_ctrl, dep("forwarded"))
        pick_lob = R.restrict(R.seq(pick_dep, lob), rd, wr)
        hw = R.closure(R.union(lob, pick_lob))
        dsb_full = fences("full", "dsb")
        cic = 0
        dsb_after = [0] * n
        for i in R.bits(ic):
            later = [f for f in dsb_full if f > i]
            if later:
                cic |= 1 << i
                dsb_after[i] = po[later[0]] & not_fetch
        return LocalOrder(hw, _Local(hw, cic, fetch, dc, ic, mem, dsb_after, ic_all))

    def allowed(self, c: Candidate) -> bool:
        n = len(c.events)
        facts = [local.facts for local in c.locals]
        exp = fetch = dc = ic = cic = ic_all = 0
        dsb_after = [0] * n
        for base, f in zip(c.offsets, facts, strict=True):
            exp |= f.exp << base
            fetch |= f.fetch << base
            dc |= f.dc << base
            ic |= f.ic << base
            cic |= f.cic << base
            ic_all |= f.ic_all << base
            for i, succ in enumerate(f.dsb_after):
                dsb_after[base + i] = succ << base
        exp |= sum(1 << i for i in range(n) if c.tid[i] < 0)  # initial writes are explicit
        # internal visibility, on explicit accesses only
        for r in R.bits(c.reads & exp):
            w = c.rf_src[r]
            if c.same_thread[r] >> w & 1 and (c.po_loc[r] | c.rmw[r]) >> w & 1:
                return False
        for w1 in R.bits(c.writes & exp):
            for x in R.bits(c.po_loc[w1] & exp):
                ca = c.co[x] if c.events[x].kind == "W" else c.fr[x]
                if ca >> w1 & 1:
                    return False
        for r in R.bits(c.reads):
            if not c.rmw[r]:
                continue
            w = c.rmw[r].bit_length() - 1
            if any(c.co[x] >> w & 1 for x in R.bits(c.fr[r])):
                mine = c.same_thread[r]
                if not any(c.co[y] >> w & 1 for y in R.bits(c.fr[r] & mine)):
                    return False
        ext = [~s for s in c.same_thread]
        exp_obs = [0] * n
        for i in R.bits(exp):
            exp_obs[i] = (c.rf[i] | c.co[i] | c.fr[i]) & ext[i] & exp
        instr_rf = [succ & fetch for succ in c.rf]
        haz = [0] * n
        for r in R.bits(c.reads & exp):
            for r2 in R.bits(c.po_loc[r] & c.reads & exp):
                haz[r] |= c.fr[r2] & ext[r2] & c.writes & exp
        base_rel = R.union(c.local, exp_obs, instr_rf, haz)
        # the pairs IC-after and DC-after must order, each one way or the other
        loc = [c.events[i].loc for i in range(n)]
        ic_pairs = [(i, f) for i in R.bits(cic) for f in R.bits(fetch)
                    if loc[i] == loc[f] or (ic_all >> i) & 1]
        dc_pairs = [(d, w) for d in R.bits(dc) for w in R.bits(c.writes & exp)
                    if loc[d] == loc[w]]
        fixed_ic, open_ic = _split_pairs(ic_pairs, c.local)
        fixed_dc, open_dc = _split_pairs(dc_pairs, c.local,
                                         first=lambda x, y: c.tid[x] < 0)
        fr_or_co = [c.fr[i] | c.co[i] for i in range(n)]
        for choice_ic in itertools.product((0, 1), repeat=len(open_ic)):
            ic_after = list(fixed_ic) + [p if k == 0 else (p[1], p[0])
                                         for p, k in zip(open_ic, choice_ic, strict=True)]
            ic_rel = R.from_pairs(n, ic_after)
            # IC-ob: fetch po fetch', fetch' IC-after ic, ic po dsb.full po E (E not a fetch)
            ic_ob = [0] * n
            for a, b in ic_after:
                if (fetch >> a) & 1 and (ic >> b) & 1:
                    for f1 in R.bits(fetch):
                        if c.po[f1] >> a & 1:
                            ic_ob[f1] |= dsb_after[b]
            for choice_dc in itertools.product((0, 1), repeat=len(open_dc)):
                dc_after = list(fixed_dc) + [p if k == 0 else (p[1], p[0])
                                             for p, k in zip(open_dc, choice_dc, strict=True)]
                dc_rel = R.from_pairs(n, dc_after)
                # IC-ca: [IC]; IC-after; [Instr R]; ca; [W]; DC-after; [DC.CVAU]
                ic_ca = [0] * n
                for a, b in ic_after:
                    if (ic >> a) & 1 and (fetch >> b) & 1:
                        for w in R.bits(fr_or_co[b] & c.writes):
                            ic_ca[a] |= dc_rel[w] & dc
                if R.acyclic(R.union(base_rel, ic_rel, dc_rel, ic_ca, ic_ob)):
                    return True
        return False


def _split_pairs(pairs, local, first=None):
    """Pairs the local orderings (or `first`) already orient, and the ones left to choose."""
    fixed, open_ = [], []
    for a, b in pairs:
        if local[a] >> b & 1 or (first is not None and first(a, b)):
            fixed.append((a, b))
        elif local[b] >> a & 1 or (first is not None and first(b, a)):
            fixed.append((b, a))
        else:
            open_.append((a, b))
    return fixed, open_
