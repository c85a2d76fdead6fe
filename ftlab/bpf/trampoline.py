"""BPF trampolines, after kernel/bpf/trampoline.c and the JITs' arch_prepare_bpf_trampoline:
generated machine code that saves the traced function's arguments into ctx, runs fentry,
fmod_ret and fexit programs around the original, built from the function model."""

from __future__ import annotations

import errno
import importlib
import itertools
from dataclasses import dataclass, field

from ftlab.arch.base import ArchInfo
from ftlab.bpf.asm import Asm
from ftlab.bpf.emitter import Emitter
from ftlab.bpf.layout import BPF_MAX_TRAMP_LINKS, BpfError, Layout

# include/linux/bpf.h BPF_TRAMP_F_*
RESTORE_REGS = 1 << 0
CALL_ORIG = 1 << 1
SKIP_FRAME = 1 << 2
IP_ARG = 1 << 3
IMAGE_LIMIT = 4096  # PAGE_SIZE: a larger image is -E2BIG

KINDS = ("fentry", "fexit", "fmod_ret")


def arch_emitter(arch: ArchInfo):
    return importlib.import_module(f"ftlab.arch.{arch.name}.bpf")


@dataclass
class Links:
    """bpf_tramp_links: programs by kind, in attach order."""

    fentry: list[int] = field(default_factory=list)
    fexit: list[int] = field(default_factory=list)
    fmod_ret: list[int] = field(default_factory=list)

    def key(self) -> tuple:
        return (tuple(self.fentry), tuple(self.fexit), tuple(self.fmod_ret))

    def count(self) -> int:
        return len(self.fentry) + len(self.fexit) + len(self.fmod_ret)

    def flags(self, ip_arg: bool) -> int:
        # with any fexit or fmod_ret the trampoline calls the original and returns to the
        # parent; fentry alone restores the registers and goes on into the function
        flags = CALL_ORIG | SKIP_FRAME if self.fexit or self.fmod_ret else RESTORE_REGS
        return flags | (IP_ARG if ip_arg else 0)


@dataclass
class Frame:
    out_area: int
    ip_off: int
    nr_off: int
    ctx_off: int
    ret_off: int
    active_off: int  # the program's per-CPU `active` counter, from __bpf_prog_enter_recur
    scratch_off: int
    size: int


def frame_for(layout: Layout) -> Frame:
    out = (8 * layout.stack_slots + 15) & ~15
    ip_off = out
    nr_off = out + 8
    ctx_off = out + 16
    ret_off = ctx_off + 8 * layout.nr_slots
    active_off = ret_off + 8
    scratch = active_off + 8
    size = (scratch + 16 + 15) & ~15
    return Frame(out, ip_off, nr_off, ctx_off, ret_off, active_off, scratch, size)


@dataclass
class Image:
    code: bytes
    flags: int
    ip_after_call: int = 0  # a NOP slot after the call to the original: detach jumps from it
    ip_epilogue: int = 0  # ... to here, where __bpf_tramp_exit drops the image reference


def build(arch: ArchInfo, layout: Layout, links: Links, base: int, func: int | None,
          frames: str, helpers: dict[str, int], ref: int = 0, ip_arg: bool = True,
          boundaries: dict[int, int] | None = None, prog_state: dict[int, int] | None = None,
          sizing: bool = False) -> Image:
    """The image for one trampoline at `base`.

    `func` is the traced function (None for a shared mass-attach trampoline, which finds
    the function from its return address and its argument count in the ip table).
    `prog_state` maps a program to its recursion state (prog->active, misses); programs
    without one run unguarded. `sizing` builds with every constant load at its longest, so
    the result bounds any real build (arch_bpf_trampoline_size)."""
    if links.count() > BPF_MAX_TRAMP_LINKS:
        raise BpfError(errno.E2BIG, f"{links.count()} programs on one trampoline, more than "
                       f"{BPF_MAX_TRAMP_LINKS}")
    mod = arch_emitter(arch)
    if frames == "plain" and func is None:
        raise BpfError(errno.EINVAL, "a kfunc-style trampoline serves one function, not many")
    em: Emitter = mod.Emitter(frames, func, sizing=sizing)
    fr = frame_for(layout)
    em.scratch_slot = fr.scratch_off
    flags = links.flags(ip_arg)
    boundaries = boundaries or {}
    prog_state = prog_state or {}
    guards = itertools.count()

    def call_prog(prog: int, save_ret: bool = False) -> None:
        """invoke_bpf_prog(): __bpf_prog_enter_recur skips a nested run on this CPU (and
        counts it), the program runs, __bpf_prog_exit_recur drops prog->active."""
        state = prog_state.get(prog)
        skip = f"recur_skip{next(guards)}"
        if state is not None:
            em.call_imm(a, helpers["__bpf_prog_enter_recur"], state)
            em.store_ret(a, fr.active_off)
            em.branch_if_zero(a, skip)
        if prog in boundaries:  # an exception boundary: through the register-saving thunk
            em.call_boundary(a, helpers["ftlab_bpf_boundary"], prog, fr.ctx_off,
                             boundaries[prog])
        else:
            em.call(a, prog, fr.ctx_off)
        if save_ret:
            em.store_prog_ret(a, fr.ret_off)
        if state is not None:
            em.call_plain(a, helpers["__bpf_prog_exit_recur"], fr.active_off)
            a.bind(skip)

    a = Asm(base)
    em.prologue(a, fr.size)
    after = epilogue_at = 0
    # ctx: every argument slot, from its register or the caller's stack
    for i, src in enumerate(layout.slots):
        em.store_arg(a, src, fr.ctx_off + 8 * i)
    if func is None:
        em.store_func_ip(a, fr.ip_off)
        em.call_plain(a, helpers["ftlab_bpf_func_nslots"], fr.ip_off)
        em.store_ret(a, fr.nr_off)
    else:
        if ip_arg:  # ctx[-2] only when a program asks for the function's ip (IP_ARG)
            em.store_imm(a, fr.ip_off, func)
        em.store_imm(a, fr.nr_off, layout.nr_slots)
    if flags & CALL_ORIG:  # a task may sleep in the original: hold the image (percpu_ref)
        em.call_imm(a, helpers["__bpf_tramp_enter"], ref)
    for prog in links.fentry:
        call_prog(prog)
    if flags & CALL_ORIG:
        em.store_imm(a, fr.ret_off, 0)
        for prog in links.fmod_ret:
            call_prog(prog, save_ret=True)
            em.load_ret(a, fr.ret_off)
            em.branch_if_ret(a, "skip_orig")  # the first non-zero result skips the original
        em.copy_stack_args(a, layout.stack_slots)  # the original's stack arguments
        for i, src in enumerate(layout.slots):
            em.load_arg(a, src, fr.ctx_off + 8 * i)
        if func is None:
            em.call_orig_from(a, fr.ip_off)
        else:
            em.call_orig(a, func)
        em.store_ret(a, fr.ret_off)
        if layout.ret_size < 8:  # the undefined high part of a narrow result reads as zero
            em.store_ret_narrow(a, fr.ret_off, layout.ret_size)
        after = em.nop_slot(a)
        a.bind("skip_orig")
        if func is None:  # ctx[nr_slots] of this function holds the return value too
            em.call(a, helpers["ftlab_bpf_store_ret"], fr.ctx_off, second_from=fr.ret_off)
        for prog in links.fexit:
            call_prog(prog)
        epilogue_at = a.pc
        em.call_imm(a, helpers["__bpf_tramp_exit"], ref)
        em.load_ret(a, fr.ret_off)
    else:
        for i, src in enumerate(layout.slots):
            em.load_arg(a, src, fr.ctx_off + 8 * i)
    em.epilogue(a, fr.size, skip_frame=bool(flags & SKIP_FRAME))
    code = a.finish()
    if len(code) > IMAGE_LIMIT:
        raise BpfError(errno.E2BIG, f"trampoline image of {len(code)} bytes exceeds a page")
    return Image(code, flags, after, epilogue_at)
