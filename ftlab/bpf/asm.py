"""A tiny assembler buffer: bytes at a known address, forward labels for branches."""

from __future__ import annotations

from collections.abc import Callable


class Asm:
    def __init__(self, base: int) -> None:
        self.base = base
        self.code = bytearray()
        self.labels: dict[str, int] = {}
        self._fixups: list[tuple[int, int, str, Callable[[int, int], bytes]]] = []

    @property
    def pc(self) -> int:
        return self.base + len(self.code)

    def emit(self, data: bytes) -> None:
        self.code += data

    def bind(self, label: str) -> None:
        self.labels[label] = self.pc

    def branch(self, label: str, size: int, encode: Callable[[int, int], bytes]) -> None:
        """A branch to a label bound later: `encode(pc, target)` fills `size` bytes."""
        self._fixups.append((len(self.code), size, label, encode))
        self.code += bytes(size)

    def finish(self) -> bytes:
        for off, size, label, encode in self._fixups:
            data = encode(self.base + off, self.labels[label])
            assert len(data) == size
            self.code[off:off + size] = data
        return bytes(self.code)
