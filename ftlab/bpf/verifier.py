"""The refusals a kernel BPF developer meets before a trampoline is built: libbpf's section
and target lookups, the verifier's ctx access check, the attach checks of
kernel/bpf/trampoline.c, and ftlab's own rules where the kernel's do not carry over."""

from __future__ import annotations

import difflib
import errno
import re

from elftools.elf.elffile import ELFFile

from ftlab.bpf.layout import BpfError, Layout
from ftlab.guest.loader import Image
from ftlab.guest.model import FuncModel

SUPPORTED = ("fentry", "fexit", "fmod_ret", "fentry.multi", "fexit.multi")
SECTION = re.compile(r"^(fentry|fexit|fmod_ret|fentry\.multi|fexit\.multi)/(.+)$")


def bpf_sections(image: Image) -> dict[str, str]:
    """Function symbol -> its section, for functions in a SEC()-style section (a name without
    the leading dot of the compiler's own sections)."""
    cached = image.__dict__.get("_bpf_sections")
    if cached is not None:
        return cached
    out = {}
    with open(image.path, "rb") as f:
        elf = ELFFile(f)
        names = {i: sec.name for i, sec in enumerate(elf.iter_sections())}
        symtab = elf.get_section_by_name(".symtab")
        for sym in symtab.iter_symbols() if symtab else ():
            if sym["st_info"]["type"] != "STT_FUNC" or not isinstance(sym["st_shndx"], int):
                continue
            sec = names.get(sym["st_shndx"], "")
            if sec and not sec.startswith("."):
                out[sym.name] = sec
    image.__dict__["_bpf_sections"] = out
    return out


def check_sections(image: Image) -> None:
    """libbpf refuses a program type it does not know; ftlab one it does not model."""
    for name, sec in bpf_sections(image).items():
        if not SECTION.match(sec):
            kind = sec.split("/", 1)[0]
            raise BpfError(errno.EOPNOTSUPP, f"program '{name}' is in SEC(\"{sec}\"): ftlab "
                           f"attaches {', '.join(SUPPORTED)} programs, not {kind}")


def declared_args(image: Image) -> dict[str, int]:
    """BPF_PROG(name, args...) programs: name -> how many arguments it declares, from the
    DWARF of the always-inline ____name(ctx, args...) the macro generates."""
    cached = image.__dict__.get("_bpf_declared")
    if cached is not None:
        return cached
    out: dict[str, int] = {}
    with open(image.path, "rb") as f:
        elf = ELFFile(f)
        if elf.has_dwarf_info():
            for cu in elf.get_dwarf_info(relocate_dwarf_sections=False).iter_CUs():
                for die in cu.iter_DIEs():
                    if die.tag != "DW_TAG_subprogram" or "DW_AT_name" not in die.attributes:
                        continue
                    name = die.attributes["DW_AT_name"].value.decode(errors="replace")
                    if name.startswith("____") and name[4:] not in out:
                        params = [c for c in die.iter_children()
                                  if c.tag == "DW_TAG_formal_parameter"]
                        if params:
                            out[name[4:]] = len(params) - 1
    image.__dict__["_bpf_declared"] = out
    return out


def check_program(image: Image, prog: str, kind: str) -> None:
    """A program is a function of one `u64 *ctx` (ftlab's rule: anything else cannot be a
    BPF program, whose only argument is its context)."""
    model = image.models.get(prog)
    if model is None:
        return
    params = model.params
    if len(params) != 1 or not params[0].type.name.rstrip().endswith("*") or model.varargs:
        raise BpfError(errno.EINVAL, f"'{prog}' cannot be a BPF program: it is declared "
                       f"{model.prototype()}, a {kind} program takes one u64 *ctx "
                       "(use BPF_PROG to name the arguments)")


def check_ctx_access(image: Image, prog: str, kind: str, func: FuncModel,
                     layout: Layout) -> None:
    """The verifier's btf_ctx_access: a program reads ctx slots the function has; fexit and
    fmod_ret also the one after them (the return value)."""
    declared = declared_args(image).get(prog)
    if declared is None:
        return
    allowed = layout.nr_slots + (1 if kind in ("fexit", "fmod_ret") else 0)
    if declared > allowed:
        has = f"{layout.nr_slots} argument slot{'s' if layout.nr_slots != 1 else ''}"
        extra = " and its return value" if allowed > layout.nr_slots else ""
        raise BpfError(errno.EACCES, f"invalid bpf_context access: {kind} program '{prog}' "
                       f"declares {declared} arguments but {func.prototype()} has {has}"
                       f"{extra}")


def check_modifiable(func: FuncModel, prog: str) -> None:
    """ftlab's rule: fmod_ret needs a return value to replace (the kernel further limits it to
    error-injectable functions, which ftlab does not model)."""
    if func.ret.is_void:
        raise BpfError(errno.EINVAL, f"fmod_ret program '{prog}' on {func.prototype()}: a void "
                       "function has no return value to modify")


def attachable(model: FuncModel | None) -> bool:
    """In the kernel's BTF: pahole (>= 1.25) leaves out functions whose parameter locations
    the compiler changed, so they are never offered for attach."""
    return model is not None and not model.nocall


def missing_target(name: str, candidates: list[str]) -> BpfError:
    """libbpf: no BTF type for the target, -ESRCH; suggest only attachable functions."""
    close = difflib.get_close_matches(name, candidates, n=5, cutoff=0.5)
    hint = f"; closest attachable: {', '.join(close)}" if close else ""
    return BpfError(errno.ESRCH, f"no function '{name}' to attach to{hint}")


def nocall_target(model: FuncModel) -> BpfError:
    return BpfError(errno.ESRCH, f"'{model.name}' cannot be traced: the compiler changed its "
                    "parameter locations (DW_CC_nocall, e.g. an unused argument dropped), so "
                    "its prototype does not say where the arguments are; pahole leaves such "
                    "functions out of BTF")
