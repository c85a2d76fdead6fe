"""Read herd's litmus format: header, init block, one asm column per thread, final condition.

The grammar follows herd7's documentation (herdtools7 `doc/herd.tex`, "litmus tests"): a first
line `ARCH NAME`, optional doc string and key=value lines, `{ init }`, a table of thread columns
separated by `|` and ending with `;`, then `locations [...]`, `filter P` and one of
`exists P` / `~exists P` / `forall P`, where P combines `loc=value` atoms with `/\\`, `\\/`,
`~` (or `not`) and parentheses. Architecture quirks (register names, instruction spelling) are
left to the per-ISA front-end in `ftlab/arch/<isa>/litmus.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ftlab.errors import FtlabError


class LitmusError(FtlabError):
    """A litmus file this front-end cannot read or does not support (exit 1)."""


@dataclass(frozen=True)
class Loc:
    """A final-state observable: a thread's register (tid >= 0) or a memory location (tid -1)."""

    tid: int
    name: str

    def herd(self) -> str:
        return f"{self.tid}:{self.name}" if self.tid >= 0 else f"[{self.name}]"


@dataclass(frozen=True)
class Atom:
    loc: Loc
    value: int | str  # a symbol (location name) or an integer


@dataclass(frozen=True)
class Not:
    arg: Prop


@dataclass(frozen=True)
class And:
    args: tuple[Prop, ...]


@dataclass(frozen=True)
class Or:
    args: tuple[Prop, ...]


@dataclass(frozen=True)
class Const:
    value: bool


Prop = Atom | Not | And | Or | Const


@dataclass
class Litmus:
    arch: str  # herd's spelling: AArch64, RISCV, X86
    name: str
    path: Path
    locations: dict[str, int]  # memory location -> initial value (an int or another location)
    pointer_init: dict[str, str]  # location -> location whose address it holds initially
    reg_init: dict[tuple[int, str], int | str | Label | Instr]  # (thread, register) -> value
    threads: list[list[tuple[int, str]]]  # per thread: (source line number, instruction text)
    quantifier: str  # exists, ~exists, forall
    condition: Prop
    observed_extra: list[Loc] = field(default_factory=list)  # `locations [...]`
    filter: Prop | None = None
    condition_line: int = 0
    code_init: dict[str, Label | Instr] = field(default_factory=dict)  # location -> code value
    types: dict[tuple[int, str], str] = field(default_factory=dict)  # declared C types, for display
    handlers: dict[int, list[tuple[int, str]]] = field(default_factory=dict)  # Pn.F columns


_TYPES = {"int", "uint64_t", "int64_t", "uint32_t", "int32_t", "long", "char", "short",
          "unsigned", "signed", "int8_t", "uint8_t", "int16_t", "uint16_t", "intptr_t",
          "ins_t"}
_QUANT = re.compile(r"^\s*(~\s*exists|exists|forall)\b")


def _int(text: str) -> int | None:
    try:
        return int(text, 0)
    except ValueError:
        return None


def _strip_comments(text: str) -> str:
    # herd comments are OCaml style (* ... *); keep the line structure for error messages
    return re.sub(r"\(\*.*?\*\)", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)


@dataclass(frozen=True)
class Label:
    """A code address: `P1:L0` or `label:"P1:L0"` (herd's instruction-fetch tests)."""

    name: str


@dataclass(frozen=True)
class Instr:
    """An instruction's encoding as a value: `NOP` or `instr:"B .+12"`."""

    text: str


def _code_value(text: str) -> Label | Instr | None:
    text = text.strip()
    m = re.fullmatch(r'(?:label:"\s*)?(P\d+:\w+)"?', text)
    if m:
        return Label(m.group(1))
    m = re.fullmatch(r'instr:"([^"]*)"', text)
    if m:
        return Instr(m.group(1).strip())
    if text.upper() == "NOP":
        return Instr("NOP")
    return None


def _parse_init(body: str, path: Path, line: int, lit: Litmus) -> None:
    for raw in body.split(";"):
        item = raw.strip()
        if not item:
            continue
        pointer = "*" in item
        words = item.replace("*", " ").split()
        declared = []
        while words and words[0] in _TYPES:
            declared.append(words.pop(0))
        item = " ".join(words).replace("&", "")
        if declared and not pointer and words:
            name = re.sub(r"\s*:\s*", ":", item.split("=")[0]).strip()
            reg = re.fullmatch(r"(\d+):(\w+)", name)
            key = (int(reg.group(1)), reg.group(2)) if reg else (-1, name)
            lit.types[key] = " ".join(declared)
        if "=" not in item:
            if re.fullmatch(r"\d+:\w+", item.replace(" ", "")):
                continue  # a register's type only (`uint64_t 0:x7`): nothing to initialise
            if re.fullmatch(r"[A-Za-z_]\w*", item):
                lit.locations.setdefault(item, 0)
                continue
            raise LitmusError(f"{path}:{line}: cannot read init item '{raw.strip()}'")
        left, right = (s.strip() for s in item.split("=", 1))
        left = re.sub(r"\s*:\s*", ":", left)
        left = left.split()[-1] if left.split() else left  # drop a type herd knows (ins_t)
        left = left.strip("[]")  # `[x]=...` is `x=...`
        m = re.fullmatch(r"(\d+):(\w+)", left.replace(" ", ""))
        code = _code_value(right)
        if code is not None:
            if m:
                lit.reg_init[(int(m.group(1)), m.group(2))] = code
            else:
                lit.code_init[left] = code
            continue
        right = right.replace(" ", "")
        value: int | str | None = _int(right)
        if value is None:
            if not re.fullmatch(r"[A-Za-z_]\w*", right):
                raise LitmusError(f"{path}:{line}: unsupported init value '{right}' "
                                  f"(only integers and location names)")
            value = right
        if m:
            lit.reg_init[(int(m.group(1)), m.group(2))] = value
            if isinstance(value, str):
                lit.locations.setdefault(value, 0)
        elif re.fullmatch(r"[A-Za-z_]\w*", left):
            if isinstance(value, str):
                lit.pointer_init[left] = value
                lit.locations.setdefault(value, 0)
                lit.locations[left] = 0
            else:
                lit.locations[left] = value
        else:
            raise LitmusError(f"{path}:{line}: cannot read init item '{raw.strip()}'")


class _PropParser:
    def __init__(self, text: str, where: str) -> None:
        spaced = text.replace("/\\", " /\\ ").replace("\\/", " \\/ ")
        spaced = re.sub(r"(\d+)\s*:\s*(?=\w)", r"\1:", spaced)  # `0: X3` is `0:X3`
        self.toks = re.findall(r"/\\|\\/|~|\(|\)|!=|<>|=|[\w:.\[\]-]+", spaced)
        self.pos = 0
        self.where = where

    def _err(self, what: str) -> LitmusError:
        return LitmusError(f"{self.where}: {what} in condition")

    def peek(self) -> str | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (want is not None and tok != want):
            raise self._err(f"expected '{want}'" if want else "unexpected end")
        self.pos += 1
        return tok

    def parse(self) -> Prop:
        prop = self.disj()
        if self.peek() is not None:
            raise self._err(f"unexpected '{self.peek()}'")
        return prop

    def disj(self) -> Prop:
        args = [self.conj()]
        while self.peek() == "\\/":
            self.take()
            args.append(self.conj())
        return args[0] if len(args) == 1 else Or(tuple(args))

    def conj(self) -> Prop:
        args = [self.unary()]
        while self.peek() == "/\\":
            self.take()
            args.append(self.unary())
        return args[0] if len(args) == 1 else And(tuple(args))

    def unary(self) -> Prop:
        tok = self.peek()
        if tok in ("~", "not"):
            self.take()
            return Not(self.unary())
        if tok == "(":
            self.take()
            prop = self.disj()
            self.take(")")
            return prop
        if tok in ("true", "false"):
            self.take()
            return Const(tok == "true")
        left = self.take()
        op = self.take()
        if op not in ("=", "!=", "<>"):
            raise self._err(f"expected '=' after '{left}'")
        right = self.take()
        value: int | str = _int(right) if _int(right) is not None else right  # type: ignore[assignment]
        atom = Atom(parse_loc(left, self.where), value)
        return Not(atom) if op in ("!=", "<>") else atom


def parse_loc(text: str, where: str) -> Loc:
    m = re.fullmatch(r"(\d+):(\w+)", text)
    if m:
        return Loc(int(m.group(1)), m.group(2))
    m = re.fullmatch(r"\[?([A-Za-z_]\w*)\]?", text)
    if m:
        return Loc(-1, m.group(1))
    raise LitmusError(f"{where}: cannot read location '{text}'")


def parse_litmus(path: str | Path) -> Litmus:
    path = Path(path)
    try:
        raw = path.read_text()
    except OSError as err:
        raise LitmusError(f"cannot read {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise LitmusError(f"{path}: not a text file") from None
    text = _strip_comments(raw)
    lines = text.split("\n")
    header = lines[0].split()
    if len(header) < 2:
        raise LitmusError(f"{path}:1: expected 'ARCH NAME' on the first line")
    lit = Litmus(arch=header[0], name=header[1], path=path, locations={}, pointer_init={},
                 reg_init={}, threads=[], quantifier="", condition=Const(True))
    # init block: from the first '{' to its '}'
    # the init block opens on the first line that starts with '{' (a doc string may hold one)
    m = re.search(r"^\s*\{", text, flags=re.M)
    start = m.end() - 1 if m else -1
    end = text.find("}", start)
    if start < 0 or end < 0:
        raise LitmusError(f"{path}: no init block '{{ ... }}'")
    init_line = text.count("\n", 0, start) + 1
    _parse_init(text[start + 1:end], path, init_line, lit)
    rest_line = text.count("\n", 0, end)
    rest = text[end + 1:].split("\n")
    i = 0
    # thread table: lines ending in ';' with '|' separators, starting with P0 | P1 ...
    while i < len(rest) and not rest[i].strip():
        i += 1
    if i >= len(rest):
        raise LitmusError(f"{path}: no thread table after the init block")
    head_no = rest_line + i + 1
    heads = [c.strip() for c in rest[i].strip().rstrip(";").split("|")]
    if not all(re.fullmatch(r"P\d+(\.F)?", h) for h in heads):
        raise LitmusError(f"{path}:{head_no}: expected thread names 'P0 | P1 ...;'")
    # columns: threads P0, P1, ... and fault handlers Pn.F (run when thread n takes a fault)
    columns: list[list[tuple[int, str]]] = [[] for _ in heads]
    mains = [h for h in heads if "." not in h]
    if mains != [f"P{k}" for k in range(len(mains))]:
        raise LitmusError(f"{path}:{head_no}: threads must be P0, P1, ... in order")
    for h, col in zip(heads, columns, strict=True):
        if h.endswith(".F"):
            tid = int(h[1:-2])
            if tid >= len(mains):
                raise LitmusError(f"{path}:{head_no}: handler {h} for a thread the test lacks")
            lit.handlers[tid] = col
        else:
            lit.threads.append(col)
    i += 1
    cond_text: list[str] = []
    while i < len(rest):
        line = rest[i]
        no = rest_line + i + 1
        stripped = line.strip()
        i += 1
        if not stripped:
            continue
        if stripped.startswith("locations"):
            inner = stripped[len("locations"):].strip().strip("[]")
            for item in inner.split(";"):
                if item.strip():
                    lit.observed_extra.append(parse_loc(item.strip(), f"{path}:{no}"))
            continue
        if stripped.startswith("filter"):
            lit.filter = _PropParser(stripped[len("filter"):], f"{path}:{no}").parse()
            continue
        if _QUANT.match(stripped) or cond_text:
            if not cond_text:
                lit.condition_line = no
            cond_text.append(stripped)
            continue
        if "|" not in line and not stripped.endswith(";"):
            raise LitmusError(f"{path}:{no}: cannot read '{stripped}'")
        row = line.rstrip().rstrip(";")
        cols = row.split("|") if len(heads) > 1 else [row]
        if len(cols) > len(heads):
            raise LitmusError(f"{path}:{no}: {len(cols)} columns for {len(heads)} threads")
        for k, col in enumerate(cols):
            if col.strip():
                columns[k].append((no, col.strip()))
    if not cond_text:
        raise LitmusError(f"{path}: no final condition (exists, ~exists or forall)")
    cond = " ".join(cond_text)
    m = _QUANT.match(cond)
    assert m
    lit.quantifier = "~exists" if m.group(1).startswith("~") else m.group(1)
    lit.condition = _PropParser(cond[m.end():], f"{path}:{lit.condition_line}").parse()
    return lit


def prop_locs(prop: Prop | None) -> list[Loc]:
    """Observables a proposition mentions, in first-mention order."""
    out: list[Loc] = []

    def walk(p: Prop | None) -> None:
        if isinstance(p, Atom):
            if p.loc not in out:
                out.append(p.loc)
        elif isinstance(p, Not):
            walk(p.arg)
        elif isinstance(p, And | Or):
            for a in p.args:
                walk(a)

    walk(prop)
    return out


def evaluate(prop: Prop, state: dict[Loc, int], symbols: dict[str, int]) -> bool:
    if isinstance(prop, Const):
        return prop.value
    if isinstance(prop, Not):
        return not evaluate(prop.arg, state, symbols)
    if isinstance(prop, And):
        return all(evaluate(a, state, symbols) for a in prop.args)
    if isinstance(prop, Or):
        return any(evaluate(a, state, symbols) for a in prop.args)
    want = symbols[prop.value] if isinstance(prop.value, str) else prop.value
    return state[prop.loc] == want


def show_prop(prop: Prop, top: bool = True) -> str:
    """herd's own spelling of a condition, as in its `Condition` line."""
    if isinstance(prop, Const):
        return "true" if prop.value else "false"
    if isinstance(prop, Atom):
        return f"{prop.loc.herd()}={prop.value}"
    if isinstance(prop, Not):
        return "~" + show_prop(prop.arg, False)
    sep = " /\\ " if isinstance(prop, And) else " \\/ "
    body = sep.join(show_prop(a, False) for a in prop.args)
    return f"({body})"
