"""Frame-pointer unwinding, generic over the per-ISA FrameRecord and prologue facts."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import capstone

from ftlab.arch.base import ArchInfo

if TYPE_CHECKING:
    from ftlab.guest.loader import Image
    from ftlab.machine.memory import Memory

MAX_FRAMES = 64


@dataclass(frozen=True)
class Frame:
    pc: int
    fp: int
    text: str  # symbol+0xoff


def disassembler(arch: ArchInfo) -> capstone.Cs:
    """One capstone instance per ISA: building one costs more than decoding."""
    return _cs(arch.cs_arch, arch.cs_mode)


@functools.cache
def _cs(cs_arch: int, cs_mode: int) -> capstone.Cs:
    return capstone.Cs(cs_arch, cs_mode)


def prologue_state(arch: ArchInfo, image: Image, mem: Memory, pc: int) -> tuple[bool, int]:
    """(frame record in use?, stack slots pushed since entry) for the function holding pc.

    Before the instruction that sets the frame pointer runs, and again once the epilogue has
    given fp back to the caller, fp names the caller's frame and the return address is in the
    link register (or on the stack where `call` pushes it)."""
    sym = image.func_at(pc)
    if sym is None:
        return True, 0
    setup, push = re.compile(arch.fp_setup), arch.push_fp and re.compile(arch.push_fp)
    restore, ret = re.compile(arch.fp_restore), re.compile(arch.ret_insn)
    pushes = 0
    set_up = False
    cs = disassembler(arch)
    code = mem.read(sym.addr, max(sym.size, 1))
    for insn in cs.disasm(code, sym.addr):
        text = f"{insn.mnemonic} {insn.op_str}".strip()
        if insn.address < pc:
            if setup.fullmatch(text):
                set_up = True
            elif push and push.fullmatch(text):
                pushes += 1
            continue
        if not set_up:
            return False, pushes
        if restore.fullmatch(text):
            return True, pushes  # the epilogue is still ahead
        if ret.fullmatch(text):
            return False, 0  # fp already restored: only the return address is left
    return True, pushes


def unwind(arch: ArchInfo, image: Image, mem: Memory, regs: dict[str, int],
           stack_bounds: tuple[int, int] | None = None,
           graph_rets: list[int] | None = None) -> list[Frame]:
    """Frames from the innermost (the pc) outwards, following the frame-pointer chain.

    `graph_rets` are the task's function_graph return addresses, innermost first: where a
    frame returns to return_to_handler, the original comes from them (the kernel's
    ftrace_graph_ret_addr)."""
    rth = image.symbols.get("return_to_handler")
    pending = list(graph_rets or [])

    def fix(ret: int) -> int:
        if rth is not None and ret == rth.addr and pending:
            return pending.pop(0)
        return ret

    pc = regs[arch.pc]
    fp = regs[arch.fp]
    frames = [Frame(pc, fp, image.symbolize(pc))]
    established, pushes = prologue_state(arch, image, mem, pc)
    if not established:
        # an sp off guest RAM (a wild stack) leaves no return address to read
        ret = fix(arch.return_address(regs, mem.word_or_none, pushes) or 0)
        frames.append(Frame(ret, fp, _ret_text(image, ret)))
    lo, hi = stack_bounds or (mem.base, mem.base + mem.size)
    seen = set()
    while len(frames) < MAX_FRAMES and fp and lo <= fp < hi and fp not in seen:
        seen.add(fp)
        if not mem.contains(fp + min(arch.frame.ret, arch.frame.prev_fp), 2 * arch.word):
            break
        ret = fix(mem.word(fp + arch.frame.ret))
        prev = mem.word(fp + arch.frame.prev_fp)
        if not ret:
            break
        frames.append(Frame(ret, prev, _ret_text(image, ret)))
        fp = prev
    return frames


def _ret_text(image: Image, ret: int) -> str:
    # a return address may sit just past a call that ends its function: look up ret - 1
    sym = image.func_at(ret - 1)
    return f"{sym.name}+{ret - sym.addr:#x}" if sym else f"{ret:#x}"
