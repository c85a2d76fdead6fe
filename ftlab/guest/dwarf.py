"""Read function models from a linked ELF's DWARF (pyelftools)."""

from __future__ import annotations

from elftools.dwarf.die import DIE
from elftools.elf.elffile import ELFFile

from ftlab.guest.model import VOID, FuncModel, Param, TypeInfo

_SIGNED_ENCODINGS = {0x05, 0x06, 0x0D}  # DW_ATE_signed, signed_char, signed_fixed
_FLOAT_ENCODINGS = {0x04, 0x03}  # DW_ATE_float, complex_float
_BOOL_ENCODING = 0x02
_QUALIFIERS = {"DW_TAG_typedef", "DW_TAG_const_type", "DW_TAG_volatile_type",
               "DW_TAG_restrict_type", "DW_TAG_atomic_type"}


def _name(die: DIE) -> str:
    attr = die.attributes.get("DW_AT_name")
    return attr.value.decode(errors="replace") if attr else ""


def _type_die(die: DIE) -> DIE | None:
    return die.get_DIE_from_attribute("DW_AT_type") if "DW_AT_type" in die.attributes else None


def _explicit_align(die: DIE) -> int:
    attr = die.attributes.get("DW_AT_alignment")
    return attr.value if attr is not None else 0


def _align_of(die: DIE | None, ptr_size: int, own: bool = True, depth: int = 0) -> int:
    """A type's alignment: the largest of its members' (a struct: with a member's aligned()
    attribute, and the struct's own one when `own`), its element's (an array) or its size (a
    scalar; an aligned() typedef of a scalar does not change how it is passed)."""
    if die is None or depth > 16:
        return 1
    while die.tag in _QUALIFIERS:
        if (inner := _type_die(die)) is None:
            return 1
        die = inner
    if die.tag in ("DW_TAG_structure_type", "DW_TAG_union_type", "DW_TAG_class_type"):
        members = [max(_explicit_align(m), _align_of(_type_die(m), ptr_size, True, depth + 1))
                   for m in die.iter_children() if m.tag == "DW_TAG_member"]
        return max([_explicit_align(die) if own else 0, 1, *members])
    if die.tag == "DW_TAG_array_type":
        return _align_of(_type_die(die), ptr_size, True, depth + 1)
    if die.tag in ("DW_TAG_pointer_type", "DW_TAG_reference_type", "DW_TAG_subroutine_type"):
        return ptr_size
    size = die.attributes["DW_AT_byte_size"].value if "DW_AT_byte_size" in die.attributes else 1
    return min(size, 16)


def type_info(die: DIE | None, ptr_size: int) -> TypeInfo:
    if die is None:
        return VOID
    shown = _type_name(die)
    align = _align_of(die, ptr_size)
    while die.tag in _QUALIFIERS:
        inner = _type_die(die)
        if inner is None:
            return TypeInfo(shown, 0, is_void=True)
        die = inner
    size = die.attributes["DW_AT_byte_size"].value if "DW_AT_byte_size" in die.attributes else 0
    tag = die.tag
    if tag == "DW_TAG_base_type":
        enc = die.attributes["DW_AT_encoding"].value
        return TypeInfo(shown, size, signed=enc in _SIGNED_ENCODINGS, is_float=enc in
                        _FLOAT_ENCODINGS, is_bool=enc == _BOOL_ENCODING, align=align)
    if tag in ("DW_TAG_pointer_type", "DW_TAG_reference_type", "DW_TAG_subroutine_type"):
        return TypeInfo(shown, size or ptr_size, align=ptr_size)
    if tag in ("DW_TAG_structure_type", "DW_TAG_union_type", "DW_TAG_class_type"):
        return TypeInfo(shown, size, is_struct=True, align=align,
                        natural_align=_align_of(die, ptr_size, own=False))
    if tag == "DW_TAG_enumeration_type":
        under = type_info(_type_die(die), ptr_size) if "DW_AT_type" in die.attributes else None
        return TypeInfo(shown, size, signed=bool(under and under.signed), align=align)
    if tag == "DW_TAG_array_type":
        return TypeInfo(shown, ptr_size, align=ptr_size)
    return TypeInfo(shown, size, align=align)


def _type_name(die: DIE) -> str:
    tag = die.tag
    if tag == "DW_TAG_pointer_type":
        inner = _type_die(die)
        return (_type_name(inner) if inner is not None else "void") + " *"
    if tag in ("DW_TAG_const_type", "DW_TAG_volatile_type"):
        inner = _type_die(die)
        qual = "const" if tag == "DW_TAG_const_type" else "volatile"
        return f"{qual} {_type_name(inner) if inner is not None else 'void'}"
    if tag == "DW_TAG_structure_type":
        return f"struct {_name(die)}".strip()
    if tag == "DW_TAG_union_type":
        return f"union {_name(die)}".strip()
    if tag == "DW_TAG_enumeration_type":
        return f"enum {_name(die)}".strip()
    if tag == "DW_TAG_subroutine_type":
        return "func *"
    return _name(die) or "?"


def _low_pc(die: DIE) -> int | None:
    attr = die.attributes.get("DW_AT_low_pc")
    return attr.value if attr is not None else None


_CALL_SITES = ("DW_TAG_GNU_call_site", "DW_TAG_call_site")
DW_CC_NOCALL = 0x3


def _callees(die: DIE) -> list[str]:
    """Functions this one calls, from its call-site DIEs (inlined bodies included)."""
    out = []
    for child in die.iter_children():
        if child.tag in _CALL_SITES:
            for attr in ("DW_AT_abstract_origin", "DW_AT_call_origin"):
                if attr in child.attributes:
                    callee = child.get_DIE_from_attribute(attr)
                    if _name(callee):
                        out.append(_name(callee))
        elif child.tag in ("DW_TAG_inlined_subroutine", "DW_TAG_lexical_block"):
            out += _callees(child)
    return out


def read_function_models(elf: ELFFile) -> dict[str, FuncModel]:
    """Every defined function's model, keyed by name (the first definition wins)."""
    if not elf.has_dwarf_info():
        return {}
    ptr_size = elf.elfclass // 8
    dwarf = elf.get_dwarf_info(relocate_dwarf_sections=False)
    models: dict[str, FuncModel] = {}
    for cu in dwarf.iter_CUs():
        for die in cu.iter_DIEs():
            if die.tag != "DW_TAG_subprogram":
                continue
            addr = _low_pc(die)
            if addr is None:
                continue
            decl = die
            for link in ("DW_AT_specification", "DW_AT_abstract_origin"):
                if link in die.attributes:
                    decl = die.get_DIE_from_attribute(link)
            name = _name(die) or _name(decl)
            if not name or name in models:
                continue
            params = []
            varargs = False
            tags = []
            holder = decl if decl is not die and not die.has_children else die
            for child in holder.iter_children():
                if child.tag == "DW_TAG_formal_parameter":
                    src = child
                    if "DW_AT_abstract_origin" in child.attributes:
                        src = child.get_DIE_from_attribute("DW_AT_abstract_origin")
                    params.append(Param(_name(src), type_info(_type_die(src), ptr_size)))
                elif child.tag == "DW_TAG_unspecified_parameters":
                    varargs = True
                elif child.tag in ("DW_TAG_LLVM_annotation", 0x6000):
                    value = child.attributes.get("DW_AT_const_value")
                    if value is not None and isinstance(value.value, bytes):
                        tags.append(value.value.decode(errors="replace"))
            ret = type_info(_type_die(decl), ptr_size)
            cc = die.attributes.get("DW_AT_calling_convention",
                                    decl.attributes.get("DW_AT_calling_convention"))
            models[name] = FuncModel(name, addr, ret, tuple(params), varargs, tuple(tags),
                                     tuple(_callees(die)),
                                     nocall=cc is not None and cc.value == DW_CC_NOCALL)
    return models
