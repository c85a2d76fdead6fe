"""Time slices without Unicorn's `count=`: a native block hook (native/budget.c) keeps an
instruction budget per hart and stops the hart at the first block boundary past it.

The hook is compiled once per host with the clang inside the `ziglang` wheel and cached under
the ftlab cache. Where that fails, `available()` is False and harts fall back to `count=`
(exact and slower); FTLAB_EXACT_SLICES=1 forces that fallback."""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import capstone
from unicorn import UC_HOOK_BLOCK, Uc
from unicorn.unicorn_py3.unicorn import uclib

from ftlab.errors import FtlabError

SOURCE = Path(__file__).resolve().parent / "native" / "budget.c"
BUILD_TIMEOUT_S = 120
TABLE_START = 4096  # slots (a power of two); the table doubles when half full

DECODE = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_uint64, ctypes.c_uint32)
STOP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class Slot(ctypes.Structure):
    """struct slot in native/budget.c."""

    _fields_ = [("key", ctypes.c_uint64), ("insns", ctypes.c_uint32)]


class BudgetState(ctypes.Structure):
    """struct budget in native/budget.c."""

    _fields_ = [
        ("remaining", ctypes.c_int64),
        ("total", ctypes.c_uint64),
        ("last_addr", ctypes.c_uint64),
        ("last_size", ctypes.c_uint32),
        ("last_insns", ctypes.c_uint32),
        ("stop", ctypes.c_void_p),
        ("decode", DECODE),
        ("table", ctypes.POINTER(Slot)),
        ("mask", ctypes.c_uint64),
        ("used", ctypes.c_uint64),
    ]


_lib: ctypes.CDLL | None = None
_failed: str | None = None


def _build(out: Path) -> None:
    from ftlab.guest.build import _zig_cc, _zig_env

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".so")
    os.close(fd)
    try:
        # freestanding: no libc to build or link (a first build takes a fraction of a second)
        proc = subprocess.run([*_zig_cc(), "-shared", "-fPIC", "-O2", "-nostdlib",
                               "-ffreestanding", "-o", tmp, str(SOURCE)],
                              capture_output=True, text=True, env=_zig_env(),
                              timeout=BUILD_TIMEOUT_S)
        if proc.returncode != 0:
            raise FtlabError(f"building the slice-budget hook failed: {proc.stderr.strip()}")
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)


def library() -> ctypes.CDLL | None:
    """The compiled hook, built on first use; None where it cannot be built or is disabled."""
    global _lib, _failed
    if _lib is not None or _failed is not None:
        return _lib
    if os.environ.get("FTLAB_EXACT_SLICES") == "1":
        _failed = "FTLAB_EXACT_SLICES=1"
        return None
    from ftlab.guest.build import cache_dir

    digest = hashlib.sha256(SOURCE.read_bytes() + sys.platform.encode()).hexdigest()[:16]
    path = cache_dir() / "native" / f"budget-{digest}.so"
    try:
        if not path.exists():
            _build(path)
        lib = ctypes.CDLL(str(path))
    except (OSError, FtlabError, subprocess.SubprocessError) as err:
        _failed = str(err)
        return None
    _lib = lib
    return lib


def available() -> bool:
    return library() is not None


class SliceBudget:
    """One hart's budget hook: `arm(n)` before emu_start, `ran()` after it."""

    def __init__(self, uc: Uc, cs: capstone.Cs) -> None:
        lib = library()
        assert lib is not None
        self.lib = lib
        self.cs = cs
        self.uc = uc
        self._decode = DECODE(self._decode_block)  # referenced: C holds the pointer
        self.state = BudgetState(remaining=2**62, stop=ctypes.cast(uclib.uc_emu_stop,
                                                                   ctypes.c_void_p).value,
                                 decode=self._decode)
        self._table = (Slot * TABLE_START)()
        self._install_table(self._table)
        handle = ctypes.c_size_t()
        hook = ctypes.cast(lib.ftlab_budget_hook, ctypes.c_void_p)
        err = uclib.uc_hook_add(uc._uch, ctypes.byref(handle), UC_HOOK_BLOCK, hook,
                                ctypes.cast(ctypes.pointer(self.state), ctypes.c_void_p), 1, 0)
        if err:
            raise FtlabError(f"cannot install the slice-budget hook (unicorn error {err})")
        self.handle = handle.value

    def _install_table(self, table: ctypes.Array) -> None:
        self.state.table = ctypes.cast(table, ctypes.POINTER(Slot))
        self.state.mask = len(table) - 1
        self.state.used = 0

    def _decode_block(self, addr: int, size: int) -> int:
        if (self.state.used + 1) * 2 > len(self._table):  # full: a bigger, empty table
            self._table = (Slot * (2 * len(self._table)))()
            self._install_table(self._table)
        code = bytes(self.uc.mem_read(addr, size)) if size else b""
        n = 0
        covered = 0
        for _a, length, _m, _o in self.cs.disasm_lite(code, addr):
            n += 1
            covered += length
        if covered != size:  # count what capstone cannot decode as one instruction each
            n += 1
        return n

    def arm(self, count: int) -> int:
        """Allow `count` instructions; returns the running total to diff against."""
        self.state.remaining = count
        return self.state.total

    def disarm(self) -> None:
        self.state.remaining = 2**62

    def settle(self, pc: int) -> int:
        """Instructions of the last block that did not run when the hart stopped at `pc`
        inside it (a fault or a signal); 0 when it stopped at a block boundary."""
        s = self.state
        if not s.last_size or not s.last_addr <= pc < s.last_addr + s.last_size:
            return 0
        code = bytes(self.uc.mem_read(s.last_addr, s.last_size))
        done = sum(1 for a, *_ in self.cs.disasm_lite(code, s.last_addr) if a < pc)
        return max(s.last_insns - done, 0)

    def forget(self) -> None:
        """Code changed: drop the cached block sizes."""
        ctypes.memset(self._table, 0, ctypes.sizeof(self._table))
        self.state.used = 0
