"""Function models read from DWARF, with the fields of the kernel's struct btf_func_model."""

from __future__ import annotations

from dataclasses import dataclass

# include/linux/bpf.h
BTF_FMODEL_STRUCT_ARG = 1 << 0
BTF_FMODEL_SIGNED_ARG = 1 << 1
MAX_BPF_FUNC_ARGS = 12


@dataclass(frozen=True)
class TypeInfo:
    name: str
    size: int
    signed: bool = False
    is_struct: bool = False  # struct or union by value
    is_void: bool = False
    is_float: bool = False
    is_bool: bool = False
    align: int = 0  # alignment in bytes, with a struct's own aligned() attribute; 0: unknown
    natural_align: int = 0  # without it (clang's "unadjusted" alignment, which AAPCS64 uses)

    @property
    def alignment(self) -> int:
        return self.align or min(max(self.size, 1), 8)

    @property
    def unadjusted_alignment(self) -> int:
        return self.natural_align or self.alignment


VOID = TypeInfo("void", 0, is_void=True)


@dataclass(frozen=True)
class Param:
    name: str
    type: TypeInfo


@dataclass(frozen=True)
class FuncModel:
    name: str
    addr: int
    ret: TypeInfo
    params: tuple[Param, ...]
    varargs: bool = False
    tags: tuple[str, ...] = ()  # btf_decl_tag annotations (e.g. "exception_callback:cb")
    calls: tuple[str, ...] = ()  # functions it calls (DWARF call sites)
    # DW_CC_nocall: the compiler changed its parameter locations (an unused argument dropped),
    # so the prototype no longer says where the arguments are
    nocall: bool = False

    @property
    def nr_args(self) -> int:
        return len(self.params)

    @property
    def arg_size(self) -> tuple[int, ...]:
        return tuple(p.type.size for p in self.params)

    @property
    def arg_flags(self) -> tuple[int, ...]:
        return tuple(_flags(p.type) for p in self.params)

    @property
    def ret_size(self) -> int:
        return self.ret.size

    @property
    def ret_flags(self) -> int:
        return _flags(self.ret)

    def prototype(self) -> str:
        args = ", ".join(f"{p.type.name} {p.name}".strip() for p in self.params)
        if self.varargs:
            args = f"{args}, ..." if args else "..."
        return f"{self.ret.name} {self.name}({args or 'void'})"


def _flags(t: TypeInfo) -> int:
    flags = 0
    if t.is_struct:
        flags |= BTF_FMODEL_STRUCT_ARG
    if t.signed:
        flags |= BTF_FMODEL_SIGNED_ARG
    return flags


def extend(value: int, t: TypeInfo) -> int:
    """A raw register value as the C type says: truncated to its size, sign-extended if signed."""
    if t.is_void or t.size == 0:
        return 0
    bits = 8 * min(t.size, 8)
    value &= (1 << bits) - 1
    if t.is_bool:
        return 1 if value & 0xFF else 0
    if t.signed and value >> (bits - 1):
        value -= 1 << bits
    return value
