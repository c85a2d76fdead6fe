"""From a function model (struct btf_func_model) to where each ctx slot comes from, per the
arch's calling convention, as each JIT's arch_prepare_bpf_trampoline works it out."""

from __future__ import annotations

import errno
from dataclasses import dataclass

from ftlab.errors import FtlabError
from ftlab.guest.model import MAX_BPF_FUNC_ARGS, FuncModel

BPF_MAX_TRAMP_LINKS = 38  # include/linux/bpf.h


class BpfError(FtlabError):
    """A refusal with the kernel's error code."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(f"{message} (-{errno.errorcode.get(code, code)})")


@dataclass(frozen=True)
class Source:
    """Where a ctx slot's 8 bytes are at the traced function's entry."""

    reg: str | None = None  # an argument register
    stack: int | None = None  # or the k-th 8-byte stack slot above the entry sp


@dataclass(frozen=True)
class Layout:
    slots: tuple[Source, ...]
    stack_slots: int  # 8-byte stack slots the original function expects
    nr_args: int
    shared: bool = False  # saves every argument register; counts come from the ip table

    @property
    def nr_slots(self) -> int:
        return len(self.slots)


def check_model(model: FuncModel) -> None:
    """The kernel's refusals at load/attach time (btf_distill_func_proto)."""
    if model.varargs:
        raise BpfError(errno.EINVAL, f"{model.name} is variadic")
    if model.nr_args > MAX_BPF_FUNC_ARGS:
        raise BpfError(errno.EINVAL, f"{model.name} takes {model.nr_args} arguments, more than "
                       f"{MAX_BPF_FUNC_ARGS}")
    if model.ret.is_struct:
        raise BpfError(errno.EINVAL, f"{model.name} returns a struct or union by value")
    for p in model.params:
        if p.type.is_struct and p.type.size > 16:
            raise BpfError(errno.EINVAL, f"{model.name}: argument '{p.name}' is a struct of "
                           f"{p.type.size} bytes passed by value (at most 16)")
        if p.type.is_float:
            raise BpfError(errno.EINVAL, f"{model.name}: argument '{p.name}' is floating-point")


def slots_of(size: int) -> int:
    return 2 if size > 8 else 1


def layout_for(model: FuncModel, arg_regs: tuple[str, ...], split_pairs: bool,
               composite_all_or_stack: bool) -> Layout:
    """The generic register-then-stack assignment, with the two ISA differences that matter
    for arguments of at most 16 bytes:
    - `split_pairs` (riscv LP64): a 2-slot struct with one register left takes it for its
      first half and the stack for the second;
    - `composite_all_or_stack` (AAPCS64 C.12): a struct that does not fit the registers left
      goes to the stack and no later argument uses a register."""
    check_model(model)
    regs = list(arg_regs)
    slots: list[Source] = []
    stack = 0
    for p in model.params:
        n = slots_of(p.type.size)
        if len(regs) >= n:
            slots += [Source(reg=regs.pop(0)) for _ in range(n)]
        elif n == 2 and len(regs) == 1 and split_pairs:
            slots.append(Source(reg=regs.pop(0)))
            slots.append(Source(stack=stack))
            stack += 1
        else:
            if p.type.is_struct and composite_all_or_stack:
                regs.clear()
            slots += [Source(stack=stack + i) for i in range(n)]
            stack += n
    return Layout(tuple(slots), stack, model.nr_args)


def shared_layout(arg_regs: tuple[str, ...]) -> Layout:
    """The layout a mass-attach trampoline uses for functions with register arguments only."""
    return Layout(tuple(Source(reg=r) for r in arg_regs), 0, len(arg_regs), shared=True)
