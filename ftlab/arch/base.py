"""Declarative per-ISA facts (as angr's archinfo): one ArchInfo per ISA module.

Generic code reads these fields; it never asks which architecture it is running.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EntryLayout:
    """How the compiler lays out a patchable function entry: -fpatchable-function-entry=N,M."""

    name: str
    total: int  # N: NOPs emitted in all
    before: int  # M: NOPs placed before the symbol
    align: int = 0  # function alignment in bytes, 0 for the compiler's default
    compressed: bool = False  # riscv64: RVC enabled, so the NOPs are 2-byte c.nop
    description: str = ""
    cflags: tuple[str, ...] = ()  # flags every object of such an image needs (e.g. -mcpu)


@dataclass(frozen=True)
class FrameRecord:
    """Where a frame-pointer chain keeps the caller's fp and the return address, relative to fp."""

    prev_fp: int
    ret: int


@dataclass(frozen=True)
class ArchInfo:
    name: str
    aliases: tuple[str, ...]
    bits: int
    zig_target: str
    cflags: tuple[str, ...]  # ISA-specific code-generation flags (the kernel's choices)
    ram_base: int  # where the guest image is linked
    uc_arch: int
    uc_mode: int
    cs_arch: int
    cs_mode: int
    regs: dict[str, int]  # register name -> unicorn id, in report order
    pc: str
    sp: str
    fp: str
    ra: str | None  # link register; None where `call` pushes the return address
    ret_reg: str
    arg_regs: tuple[str, ...]
    callee_saved: tuple[str, ...]
    percpu_reg: str  # hart-local register holding this hart's per-CPU area (never task state)
    context_regs: tuple[str, ...]  # what a task switch saves and restores
    frame: FrameRecord
    fp_setup: str  # regex over capstone "mnemonic op_str" of the insn that sets the frame pointer
    push_fp: str | None  # regex of a prologue push that moves the return address deeper (x86)
    fp_restore: str  # regex of the epilogue insn that gives fp back to the caller
    ret_insn: str  # regex of a function return
    patch_unit: int  # bytes per unit of -fpatchable-function-entry (one NOP, or x86 bytes)
    nop: bytes  # the canonical 4- or 1-byte NOP this ISA's patching writes
    insn_align: int  # alignment of instruction fetch for code we generate
    int32_sign_extended: bool  # ABI keeps 32-bit values sign-extended in 64-bit registers
    layouts: dict[str, EntryLayout] = field(default_factory=dict)
    default_layout: str = ""
    # What the race explorer needs (issue: explore): the unit a code write is atomic in, the
    # memory model of data stores, which loads read shared data (not the stack), and the
    # instructions the ISA lets another CPU modify concurrently (None: any, fetch is atomic)
    atomic_write: int = 4
    weak_memory: bool = True
    shared_load: str = ""
    cmodx_safe: tuple[str, ...] | None = None
    undefined_insn: bytes = b""
    # Unicorn leaves pc past the faulting block on this ISA's illegal-instruction exception
    imprecise_illegal_pc: bool = False
    trace_clocks: tuple[str, ...] = ()  # the arch's own trace clocks after the generic ones
    extra_hart_setup: tuple[tuple[str, int], ...] = ()  # (register, value) written on a new hart

    def reg_id(self, name: str) -> int:
        return self.regs[name]

    def layout(self, name: str | None) -> EntryLayout:
        return self.layouts[name or self.default_layout]
