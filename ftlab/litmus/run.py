"""`ftlab litmus`: run a herd litmus test under the architecture's model, print herd7's shape.

The threads' code is assembled by the bundled clang and executed for real (ftlab/explore/memmodel
/thread.py); the candidate executions are judged by the ISA's model (ftlab/arch/<isa>/memmodel.py).
The printed states are the final values of the registers and locations the condition and
`locations [...]` mention, as herd7 prints them; `Positive`/`Negative` and the two numbers after
the Observation word count final states here (herd counts executions: compare only the states and
the verdict words).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from ftlab.arch import ARCH_NAMES
from ftlab.explore.memmodel.candidates import outcomes
from ftlab.explore.memmodel.thread import (
    CODE_BASE,
    DATA_BASE,
    LOC_STRIDE,
    ThreadRunner,
    all_runs,
    thread_base,
)
from ftlab.litmus.assemble import assemble_thread
from ftlab.litmus.parse import (
    And,
    Atom,
    Const,
    Instr,
    Label,
    Litmus,
    LitmusError,
    Loc,
    Not,
    Or,
    Prop,
    evaluate,
    parse_litmus,
    prop_locs,
    show_prop,
)

HANDLER = "ftlab_fault_handler"
MAIN_END = "ftlab_thread_end"


def dialects() -> list:
    """Every herd dialect an ISA's litmus front-end reads (ftlab/arch/<isa>/litmus.py)."""
    found = []
    for isa in ARCH_NAMES:
        try:
            fe = importlib.import_module(f"ftlab.arch.{isa}.litmus")
        except ModuleNotFoundError:
            continue
        found += [fe, *getattr(fe, "DIALECTS", ())]
    return found


def frontend_for(herd_arch: str, path: Path):
    for dialect in dialects():
        if dialect.HERD_ARCH.lower() == herd_arch.lower():
            return dialect
    raise LitmusError(f"{path}:1: unsupported architecture '{herd_arch}' "
                      f"(supported: {', '.join(d.HERD_ARCH for d in dialects())})")


@dataclass
class LitmusResult:
    name: str
    quantifier: str
    condition: Prop
    observed: list[Loc]
    states: list[dict[Loc, int]]
    shown: list[str]  # one herd-style line per state
    positive: int
    negative: int
    ok: bool
    observation: str  # Never, Sometimes, Always
    model: str
    loop: bool = False  # runs were cut at the unrolling bound
    def herd_text(self) -> str:
        kind = {"exists": "Allowed", "~exists": "Forbidden", "forall": "Required"}[self.quantifier]
        cond = show_prop(self.condition)
        if not cond.startswith("("):
            cond = f"({cond})"
        out = [f"Test {self.name} {kind}", f"States {len(self.shown)}", *self.shown,
               ("Loop " if self.loop else "") + ("Ok" if self.ok else "No"), "Witnesses",
               f"Positive: {self.positive} Negative: {self.negative}",
               f"Condition {self.quantifier} {cond}",
               f"Observation {self.name} {self.observation} {self.p_count} {self.q_count}",
               f"Model {self.model}"]
        return "\n".join(out) + "\n"

    @property
    def p_count(self) -> int:
        return self.positive if self.quantifier != "~exists" else self.negative

    @property
    def q_count(self) -> int:
        return self.negative if self.quantifier != "~exists" else self.positive


def _canon_prop(prop: Prop | None, canon) -> Prop | None:
    if prop is None or isinstance(prop, Const):
        return prop
    if isinstance(prop, Atom):
        return Atom(canon(prop.loc), prop.value)
    if isinstance(prop, Not):
        return Not(_canon_prop(prop.arg, canon))  # type: ignore[arg-type]
    args = tuple(_canon_prop(a, canon) for a in prop.args)
    return And(args) if isinstance(prop, And) else Or(args)  # type: ignore[arg-type]


def _typed(prop: Prop | None, ctype) -> Prop | None:
    """Integer literals of a condition, read as the type of what they are compared with."""
    if prop is None or isinstance(prop, Const):
        return prop
    if isinstance(prop, Atom):
        if isinstance(prop.value, int):
            return Atom(prop.loc, as_type(prop.value, ctype(prop.loc)))
        return prop
    if isinstance(prop, Not):
        return Not(_typed(prop.arg, ctype))  # type: ignore[arg-type]
    args = tuple(_typed(a, ctype) for a in prop.args)
    return And(args) if isinstance(prop, And) else Or(args)  # type: ignore[arg-type]


def _symbol_values(prop: Prop | None) -> list[str]:
    if isinstance(prop, Atom):
        return [prop.value] if isinstance(prop.value, str) else []
    if isinstance(prop, Not):
        return _symbol_values(prop.arg)
    if isinstance(prop, And | Or):
        return [n for a in prop.args for n in _symbol_values(a)]
    return []


def _signed(value: int, bits: int = 64) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


_TYPE_BITS = {"char": (8, True), "int8_t": (8, True), "uint8_t": (8, False),
              "short": (16, True), "int16_t": (16, True), "uint16_t": (16, False),
              "int": (32, True), "int32_t": (32, True), "uint32_t": (32, False),
              "unsigned": (32, False), "unsigned int": (32, False),
              "long": (64, True), "int64_t": (64, True), "uint64_t": (64, False),
              "intptr_t": (64, True), "unsigned long": (64, False)}


def as_type(value: int, ctype: str | None) -> int:
    """A value as herd7 prints it: by the declared C type; undeclared, herd's `int` when it
    fits in 32 bits, a signed 64-bit value otherwise."""
    value &= (1 << 64) - 1
    if ctype in _TYPE_BITS:
        bits, signed = _TYPE_BITS[ctype]
        value &= (1 << bits) - 1
        return _signed(value, bits) if signed else value
    return _signed(value, 32) if value < (1 << 32) else _signed(value, 64)


def run_litmus(path: str | Path) -> LitmusResult:
    lit = parse_litmus(path)
    fe = frontend_for(lit.arch, lit.path)
    return run_parsed(lit, fe)


def run_parsed(lit: Litmus, fe) -> LitmusResult:
    where = str(lit.path)
    ntheads = len(lit.threads)

    def canon(loc: Loc) -> Loc:
        if loc.tid < 0:
            return loc
        if loc.tid >= ntheads:
            raise LitmusError(f"{where}: '{loc.herd()}' names thread P{loc.tid}, which the test "
                              "does not have")
        key = fe.canonical_reg(loc.name)
        if key is None:
            raise LitmusError(f"{where}: '{loc.herd()}' is not a register of {lit.arch}")
        return Loc(loc.tid, key)

    types: dict[Loc, str] = {}
    for (t, name), ctype_name in lit.types.items():
        if t < 0:
            types[Loc(-1, name)] = ctype_name
        elif fe.canonical_reg(name):
            types[Loc(t, fe.canonical_reg(name))] = ctype_name

    def ctype(loc: Loc) -> str | None:
        return types.get(loc)

    def canon_atom(loc: Loc) -> Loc:
        return canon(loc)

    condition = _typed(_canon_prop(lit.condition, canon_atom), ctype)
    filt = _typed(_canon_prop(lit.filter, canon_atom), ctype)
    extra = [canon(loc) for loc in lit.observed_extra]
    # every memory location: init, condition, locations, and the ones the code names
    names = dict(lit.locations)
    for loc in prop_locs(condition) + prop_locs(filt) + extra:
        if loc.tid < 0:
            names.setdefault(loc.name, 0)
    for name in _symbol_values(condition) + _symbol_values(filt):
        names.setdefault(name, 0)  # `1:X0=y`: y is a location, compared by its address
    for thread in lit.threads:
        for _, text in thread:
            for name in fe.locations_in(text):
                names.setdefault(name, 0)
    symbols = {name: DATA_BASE + LOC_STRIDE * i for i, name in enumerate(sorted(names))}
    init_mem = {symbols[n]: (symbols[lit.pointer_init[n]] if n in lit.pointer_init
                             else v & (2**64 - 1))
                for n, v in names.items()}
    observed = prop_locs(condition) + [loc for loc in extra if loc not in prop_locs(condition)]
    needed = observed + [loc for loc in prop_locs(filt) if loc not in observed]
    for (t, name) in lit.reg_init:
        if t >= ntheads:
            raise LitmusError(f"{where}: init '{t}:{name}' names thread P{t}, which the test "
                              "does not have")
    # a thread's fault handler (Pn.F) follows its code and a never-run NOP (so that the end of
    # the thread, where it stops, is not the handler's first instruction)
    asms = [assemble_thread(fe, tid, lines + ([(0, f"{MAIN_END}:"), (0, "nop"),
                                               (0, f"{HANDLER}:")] + lit.handlers[tid]
                                              if tid in lit.handlers else []),
                            symbols, lit.path)
            for tid, lines in enumerate(lit.threads)]
    main_len = [a.labels.get(MAIN_END, len(a.code)) for a in asms]
    image = bytearray()
    labels: dict[str, int] = {}
    for tid, asm in enumerate(asms):
        if len(asm.code) > thread_base(1):
            raise LitmusError(f"{where}: P{tid} is longer than {thread_base(1)} bytes")
        image += bytes(thread_base(tid) - len(image)) + asm.code
        for name, off in asm.labels.items():
            labels[f"P{tid}:{name}"] = CODE_BASE + thread_base(tid) + off
    encoded: dict[str, int] = {}

    def code_value(value: Label | Instr) -> int:
        if isinstance(value, Label):
            if value.name not in labels:
                raise LitmusError(f"{where}: init names the label '{value.name}', which the "
                                  "threads do not define")
            return labels[value.name]
        if value.text not in encoded:
            one = assemble_thread(fe, 0, [(lit.condition_line, value.text)], symbols, lit.path)
            encoded[value.text] = int.from_bytes(one.code[:4], "little")
        return encoded[value.text]

    # code the test can write: every label it hands to a thread or stores in memory
    code_locs = {v.name for v in [*lit.reg_init.values(), *lit.code_init.values()]
                 if isinstance(v, Label)}
    fetched = frozenset(labels[n] for n in code_locs if n in labels
                        and labels[n] - CODE_BASE + 4 <= len(image))
    all_locs = dict(symbols)
    for name in code_locs:
        if name in labels:
            all_locs[name] = labels[name]
    for addr in fetched:
        off = addr - CODE_BASE
        init_mem[addr] = int.from_bytes(image[off:off + 4], "little")
    for name, value in lit.code_init.items():
        init_mem[symbols[name]] = code_value(value)
    model = fe.MODEL
    if fetched:
        model = getattr(fe, "IFETCH_MODEL", None)
        if model is None:
            raise LitmusError(f"{where}: the test modifies code; instruction fetch is not "
                              f"modelled for {lit.arch}")
    ends = frozenset(CODE_BASE + thread_base(t) + main_len[t] for t in range(len(asms)))
    runners = []
    for tid, asm in enumerate(asms):
        regs: dict[str, int] = {}
        for (t, name), value in lit.reg_init.items():
            if t != tid:
                continue
            key = fe.canonical_reg(name)
            if key is None:
                raise LitmusError(f"{where}: init '{t}:{name}' is not a register of {lit.arch}")
            if isinstance(value, Label | Instr):
                regs[key] = code_value(value)
            else:
                regs[key] = symbols[value] if isinstance(value, str) else value
        want = sorted({loc.name for loc in needed if loc.tid == tid})
        handler = (CODE_BASE + thread_base(tid) + asm.labels[HANDLER]
                   if HANDLER in asm.labels else None)
        runners.append(ThreadRunner(fe.ISA, tid, asm.code[:main_len[tid]], asm.notes,
                                    {o: f"{where}:{no}" for o, (no, _) in asm.lines.items()},
                                    regs, all_locs, want, bytes(image), fetched, ends, handler))
    per_thread = all_runs(runners, init_mem)
    addr_name = {a: n for n, a in symbols.items()}

    def shown_value(v: int) -> str:
        return addr_name.get(v, str(v))

    states: dict[tuple, dict[Loc, int]] = {}
    for out in outcomes(per_thread, init_mem, model):
        state: dict[Loc, int] = {}
        for loc in needed:
            if loc.tid >= 0:
                state[loc] = as_type(out.runs[loc.tid].regs[loc.name], ctype(loc))
            else:
                v = out.final_mem[symbols[loc.name]]
                state[loc] = v if v in addr_name else as_type(v, ctype(loc))
        if filt is not None and not evaluate(filt, state, symbols):
            continue
        key = tuple(state[loc] for loc in observed)
        states.setdefault(key, state)
    order = sorted(observed, key=lambda loc: (loc.tid < 0, loc.tid,
                                              fe.reg_order(loc.name) if loc.tid >= 0 else 0,
                                              loc.name))

    def herd_loc(loc: Loc) -> str:
        return f"{loc.tid}:{fe.show_reg(loc.name)}" if loc.tid >= 0 else f"[{loc.name}]"

    shown = []
    positive = 0
    final_states = list(states.values())
    for state in final_states:
        if evaluate(condition, state, symbols):
            positive += 1
    for key in sorted(states, key=lambda k: [(shown_value(v)) for v in k]):
        state = states[key]
        shown.append(" ".join(f"{herd_loc(loc)}={shown_value(state[loc])};" for loc in order))
    shown.sort()
    negative = len(final_states) - positive
    if lit.quantifier == "exists":
        ok = positive > 0
    elif lit.quantifier == "~exists":
        ok = positive == 0
    else:
        ok = negative == 0
    observation = "Never" if positive == 0 else "Always" if negative == 0 else "Sometimes"

    def show_cond_loc(loc: Loc) -> Loc:
        return Loc(loc.tid, fe.show_reg(loc.name)) if loc.tid >= 0 else loc

    shown_cond = _canon_prop(condition, show_cond_loc)
    pos, neg = (negative, positive) if lit.quantifier == "~exists" else (positive, negative)
    return LitmusResult(lit.name, lit.quantifier, shown_cond, observed, final_states, shown,  # type: ignore[arg-type]
                        pos, neg, ok, observation, model.name,
                        any(r.unrolled for r in runners))
