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
    # the compiler driver refuses -fpatchable-function-entry for some targets (x86-32):
    # pass it to the front end through -Xclang
    cc1_patchable: bool = False


@dataclass(frozen=True)
class FrameRecord:
    """Where a frame-pointer chain keeps the caller's fp and the return address, relative to fp."""

    prev_fp: int
    ret: int


@dataclass(frozen=True)
class InsnClasses:
    """Instruction classes generic code recognises, as regexes over capstone's
    "mnemonic op_str" (call and return classification, trap and illegal-instruction checks)."""

    call: str  # a direct call
    indirect_call: str  # a call through a register or memory
    ret: str  # a function return
    trap: str  # the breakpoint instruction patching protocols use
    illegal: str  # an instruction defined to be undefined (where decodable)


@dataclass(frozen=True)
class ArchInfo:
    """One ISA's facts. Each `ftlab/arch/<isa>/info.py` defines `ARCH`; `ftlab.arch` finds
    them by scanning its subpackages, so adding an ISA adds a directory and nothing else."""

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
    endian: str = "little"  # byte order of data in guest memory ("little" or "big")
    insns: InsnClasses | None = None
    rank: int = 100  # listing order (help texts, reports): the older ISAs first
    color: str = "tab:gray"  # matplotlib colour of this ISA's lines in the bench report
    # the 32-bit ISAs keep shared pointers in 8-byte fields; a u64 argument or result then
    # spans a register pair (lo, hi) in these registers
    ret_hi_reg: str | None = None

    @property
    def word(self) -> int:
        """Bytes in a register, a stack slot and a pointer."""
        return self.bits // 8

    @property
    def call_pushes_ret(self) -> bool:
        """Whether `call` pushes the return address (x86) instead of setting a link register."""
        return self.ra is None

    @property
    def runtime_header(self) -> str:
        """The runtime's per-ISA header (this_cpu(), the cycle counter, the frame record)."""
        return f"ftlab/arch/{self.name}.h"

    # --- hooks an ISA may override (a subclass of ArchInfo in its info.py) ------------------
    def init_hart(self, uc, percpu_addr: int) -> None:
        """Set up a new hart's Unicorn instance: the per-CPU register names `percpu_addr`."""
        for reg, bits in self.extra_hart_setup:
            rid = self.regs[reg]
            uc.reg_write(rid, uc.reg_read(rid) | bits)
        uc.reg_write(self.regs[self.percpu_reg], percpu_addr)

    def entry_words(self, args: list[int], sizes: list[int]) -> list[int]:
        """The register-sized words the runtime passes a task's entry (runtime.c
        ftlab_entry_fn) so that it receives `args` (raw values, `sizes` bytes each): on a
        64-bit ISA one argument per register."""
        return list(args)

    # --- entry conventions: where the return address is at a function's entry -------------
    def return_address(self, regs: dict[str, int], read_word, pushes: int = 0) -> int | None:
        """The return address of a function that has pushed `pushes` words since its entry;
        `read_word(addr)` reads one stack word (None if off guest RAM)."""
        if not self.call_pushes_ret:
            return regs[self.ra]
        return read_word(regs[self.sp] + self.word * pushes)

    def enter_with_return(self, regs: dict[str, int], write_word, ret: int) -> dict[str, int]:
        """Register changes that make the code about to run see `ret` as its return address,
        as a call instruction would: a link register, or a word pushed on the stack."""
        if not self.call_pushes_ret:
            return {self.ra: ret}
        sp = regs[self.sp] - self.word
        write_word(sp, ret)
        return {self.sp: sp}

    def leave_to_return(self, regs: dict[str, int], read_word) -> dict[str, int]:
        """Register changes of a function return at entry (before any push): pc from the
        link register or the stack, the return address popped."""
        if not self.call_pushes_ret:
            return {self.pc: regs[self.ra]}
        sp = regs[self.sp]
        return {self.pc: read_word(sp), self.sp: sp + self.word}

    def reg_id(self, name: str) -> int:
        return self.regs[name]

    def layout(self, name: str | None) -> EntryLayout:
        return self.layouts[name or self.default_layout]
