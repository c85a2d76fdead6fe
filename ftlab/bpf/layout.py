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
        # EOPNOTSUPP, as the kernel names it (Linux's ENOTSUP is the same number)
        name = "EOPNOTSUPP" if code == errno.EOPNOTSUPP else errno.errorcode.get(code, code)
        super().__init__(f"{message} (-{name})")


@dataclass(frozen=True)
class Source:
    """Where a ctx slot's 8 bytes are at the traced function's entry."""

    reg: str | None = None  # an argument register
    stack: int | None = None  # or the k-th stack word (ArgAbi.word bytes) above the entry sp
    # where registers are narrower than a slot (ArgAbi.word 4): the high word's register or
    # stack word; neither means the high word is zero
    reg_hi: str | None = None
    stack_hi: int | None = None


def describe_source(s: Source) -> str:
    """How --list-trampolines names where a slot comes from: `rdi`, `stack[2]`, `eax:edx`."""
    lo = s.reg or f"stack[{s.stack}]"
    if s.reg_hi is None and s.stack_hi is None:
        return lo
    return f"{lo}:{s.reg_hi or f'stack[{s.stack_hi}]'}"


@dataclass(frozen=True)
class Layout:
    slots: tuple[Source, ...]
    stack_slots: int  # stack words (ArgAbi.word bytes) the original function expects
    nr_args: int
    shared: bool = False  # saves every argument register; counts come from the ip table
    # bytes of the return value that are defined, where a register is narrower than its slot
    # (ArgAbi.word 4: an int result leaves edx undefined); 8 where the whole slot is
    ret_size: int = 8

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


@dataclass(frozen=True)
class ArgAbi:
    """How an arch passes integer and small-struct arguments (at most 16 bytes each).

    - `split_pairs` (riscv LP64): a 2-slot argument with one register left takes it for its
      first half and the stack for the second;
    - `no_regs_after_stack` (AAPCS64 C.13): a 2-slot argument that does not fit the registers
      left goes to the stack and no later argument uses a register;
    - `even_pairs` (AAPCS64 C.10): a 16-byte-aligned argument starts at an even register;
    - `unadjusted_align` (AAPCS64 as clang implements it): a struct's own aligned()
      attribute does not count, its members' natural alignment does.
    Every ABI here puts a 16-byte-aligned argument at a 16-byte-aligned stack offset (the
    stack is 16-byte aligned at the call). Arguments are at most 16 bytes (check_model), so
    no alignment is larger."""

    regs: tuple[str, ...]
    word: int = 8  # bytes per register and stack word; 4: a slot takes one or two words
    split_pairs: bool = False
    no_regs_after_stack: bool = False
    even_pairs: bool = False
    unadjusted_align: bool = False


def layout_for(model: FuncModel, abi: ArgAbi) -> Layout:
    """The register-then-stack assignment of ctx slots, as the arch's calling convention
    places the arguments (what each JIT's arch_prepare_bpf_trampoline has to know)."""
    check_model(model)
    if abi.word != 8:
        return _narrow_layout(model, abi)
    regs = list(abi.regs)
    slots: list[Source] = []
    stack = 0
    for p in model.params:
        n = slots_of(p.type.size)
        align = p.type.unadjusted_alignment if abi.unadjusted_align else p.type.alignment
        if n == 2 and align == 16 and abi.even_pairs and len(regs) % 2:
            regs.pop(0)  # the odd register is skipped
        if len(regs) >= n:
            slots += [Source(reg=regs.pop(0)) for _ in range(n)]
            continue
        if n == 2 and len(regs) == 1 and abi.split_pairs:
            slots.append(Source(reg=regs.pop(0)))
            slots.append(Source(stack=stack))
            stack += 1
            continue
        if n == 2 and abi.no_regs_after_stack:
            regs.clear()
        if align == 16 and stack % 2:
            stack += 1  # a padding slot keeps it 16-byte aligned
        slots += [Source(stack=stack + i) for i in range(n)]
        stack += n
    return Layout(tuple(slots), stack, model.nr_args)


def _narrow_layout(model: FuncModel, abi: ArgAbi) -> Layout:
    """Slots from 4-byte words: an argument of up to 4 bytes is one word, of 5 to 8 bytes two
    (low, high). A two-word argument takes two registers when two are left; otherwise, with
    `no_regs_after_stack` (i386 regparm), it and every later argument go on the stack."""
    regs = list(abi.regs)
    slots: list[Source] = []
    stack = 0
    for p in model.params:
        if p.type.is_struct:
            raise BpfError(errno.EOPNOTSUPP, f"{model.name}: argument '{p.name}' is a struct "
                           "passed by value, which this ISA's trampolines do not take")
        n = 1 if p.type.size <= abi.word else 2
        if len(regs) >= n:
            words = [regs.pop(0) for _ in range(n)]
            slots.append(Source(reg=words[0], reg_hi=words[1] if n == 2 else None))
            continue
        if abi.no_regs_after_stack:
            regs.clear()
        slots.append(Source(stack=stack, stack_hi=stack + 1 if n == 2 else None))
        stack += n
    ret_size = abi.word if 0 < model.ret.size <= abi.word else 8
    return Layout(tuple(slots), stack, model.nr_args, ret_size=ret_size)


def shared_layout(arg_regs: tuple[str, ...], ret_size: int = 8) -> Layout:
    """The layout a mass-attach trampoline uses for functions with register arguments only."""
    return Layout(tuple(Source(reg=r) for r in arg_regs), 0, len(arg_regs), shared=True,
                  ret_size=ret_size)
