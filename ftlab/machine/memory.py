"""Guest RAM: one host buffer that every hart's Unicorn instance maps (mem_map_ptr), less its
guard pages, which stay unmapped so that a guest access there faults."""

from __future__ import annotations

import bisect
import ctypes
import mmap
import struct
from collections.abc import Sequence

from unicorn import UC_PROT_ALL, Uc

from ftlab.errors import FtlabError


class Memory:
    def __init__(self, base: int, size: int, guards: Sequence[int] = (), page: int = 4096,
                 endian: str = "little", word: int = 8) -> None:
        self.base = base
        order = "<" if endian == "little" else ">"
        self._q, self._i = struct.Struct(order + "Q"), struct.Struct(order + "I")
        self._w = self._q if word == 8 else self._i  # a register, pointer and stack slot
        self.word_size = word
        self.size = size
        self.page = page
        self.guards = sorted(base + g for g in guards)  # guest addresses of guard pages
        self._mm = mmap.mmap(-1, size)
        self._view = memoryview(self._mm)
        self._ptr = ctypes.addressof(ctypes.c_char.from_buffer(self._mm))

    def map_into(self, uc: Uc) -> None:
        start = self.base
        for guard in [*self.guards, self.base + self.size]:
            if guard > start:
                uc.mem_map_ptr(start, guard - start, UC_PROT_ALL, self._ptr + start - self.base)
            start = guard + self.page
        # (the host buffer under a guard page is still there for the control plane)

    def guard_at(self, addr: int) -> int | None:
        """The guard page holding `addr`, if any."""
        i = bisect.bisect_right(self.guards, addr) - 1
        return self.guards[i] if i >= 0 and addr < self.guards[i] + self.page else None

    def _off(self, addr: int, n: int) -> int:
        off = addr - self.base
        if off < 0 or off + n > self.size:
            raise FtlabError(f"guest address {addr:#x} (+{n}) is outside guest RAM")
        return off

    def contains(self, addr: int, n: int = 1) -> bool:
        return self.base <= addr and addr + n <= self.base + self.size

    def read(self, addr: int, n: int) -> bytes:
        off = self._off(addr, n)
        return bytes(self._view[off:off + n])

    def write(self, addr: int, data: bytes) -> None:
        off = self._off(addr, len(data))
        self._view[off:off + len(data)] = data

    def u64(self, addr: int) -> int:
        return self._q.unpack_from(self._mm, self._off(addr, 8))[0]

    def u32(self, addr: int) -> int:
        return self._i.unpack_from(self._mm, self._off(addr, 4))[0]

    def set_u64(self, addr: int, value: int) -> None:
        self._q.pack_into(self._mm, self._off(addr, 8), value & (2**64 - 1))

    def set_u32(self, addr: int, value: int) -> None:
        self._i.pack_into(self._mm, self._off(addr, 4), value & 0xFFFFFFFF)

    def word(self, addr: int) -> int:
        """One stack slot / pointer of the guest ISA."""
        return self._w.unpack_from(self._mm, self._off(addr, self.word_size))[0]

    def set_word(self, addr: int, value: int) -> None:
        self._w.pack_into(self._mm, self._off(addr, self.word_size),
                          value & ((1 << 8 * self.word_size) - 1))

    def word_or_none(self, addr: int) -> int | None:
        """A stack word, or None where `addr` is off guest RAM (a wild stack pointer)."""
        return self.word(addr) if self.contains(addr, self.word_size) else None

    def cstring(self, addr: int, limit: int = 4096) -> str:
        off = self._off(addr, 1)
        end = self._mm.find(b"\0", off, min(off + limit, self.size))
        return bytes(self._view[off:end if end >= 0 else off + limit]).decode(errors="replace")
