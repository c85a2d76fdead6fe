"""x86_32 ftrace (arch/x86/kernel/ftrace.c, shared with x86_64): a 5-byte site at the entry,
nop5 <-> `call`, the int3 protocol (text_poke_bp). Only the NOPs differ: clang emits
`66 90 66 90 90` for -fpatchable-function-entry=5 here, and ftlab's init step writes the
32-bit kernel's nop5 over it (the kernel compiles `call __fentry__` and writes nop5 at boot)."""

from __future__ import annotations

from ftlab.arch.x86_32 import encode as X
from ftlab.arch.x86_64.ftrace import X86Ftrace, X86NaiveFtrace


class X86_32Ftrace(X86Ftrace):
    COMPILED_NOP = bytes.fromhex("6690669090")
    NOP5 = X.NOP5

    @staticmethod
    def call(pc: int, target: int) -> bytes:
        return X.call_rel32(pc, target)


class X86_32NaiveFtrace(X86_32Ftrace, X86NaiveFtrace):
    pass


SCHEMES = {
    "int3": X86_32Ftrace("int3", "fentry", "nop5 <-> call, int3 protocol (text_poke_bp)"),
    "naive": X86_32NaiveFtrace("naive", "fentry", "the 5 bytes written in place (unsafe)"),
}
DEFAULT = "int3"
# the cost lab's comparison (ftlab.bench.ftrace_ops): as x86_64, no CALL_OPS
BENCH_CALL_OPS = None
BENCH_LIST = "int3"
PER_OPS_TRAMPOLINES = True
