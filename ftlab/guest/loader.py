"""Load a linked guest ELF: segments, symbols, patch sites and function models."""

from __future__ import annotations

import bisect
import difflib
import struct
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from elftools.elf.elffile import ELFFile

from ftlab.arch.base import ArchInfo, EntryLayout
from ftlab.errors import SymbolError
from ftlab.guest.build import BuiltImage
from ftlab.guest.dwarf import read_function_models
from ftlab.guest.model import FuncModel


@dataclass(frozen=True)
class Symbol:
    name: str
    addr: int
    size: int
    is_func: bool


@dataclass(frozen=True)
class PatchSite:
    """One -fpatchable-function-entry site, as recorded in __patchable_function_entries."""

    func: str
    func_addr: int
    start: int  # the first NOP (the recorded address); may lie before func_addr
    size: int  # bytes of NOPs in all


@dataclass(frozen=True)
class Segment:
    addr: int
    data: bytes
    memsz: int
    executable: bool


@dataclass
class Image:
    path: Path
    arch: ArchInfo
    layout: EntryLayout
    segments: list[Segment]
    symbols: dict[str, Symbol]
    sites: list[PatchSite]
    sources: tuple[Path, ...] = ()
    scheme: str = ""
    _models: dict[str, FuncModel] | None = field(default=None, repr=False)

    @cached_property
    def _sorted_funcs(self) -> tuple[list[int], list[Symbol]]:
        funcs = sorted((s for s in self.symbols.values() if s.is_func), key=lambda s: s.addr)
        return [s.addr for s in funcs], funcs

    @property
    def end(self) -> int:
        return max(s.addr + s.memsz for s in self.segments)

    @property
    def text_range(self) -> tuple[int, int]:
        return self.symbols["__text_start"].addr, self.symbols["__text_end"].addr

    def addr(self, name: str) -> int:
        sym = self.symbols.get(name)
        if sym is None:
            raise SymbolError(self.unknown_message(name))
        return sym.addr

    def function(self, name: str) -> Symbol:
        sym = self.symbols.get(name)
        if sym is None or not sym.is_func:
            raise SymbolError(self.unknown_message(name, functions_only=True))
        return sym

    def unknown_message(self, name: str, functions_only: bool = False) -> str:
        pool = [s.name for s in self.symbols.values()
                if (s.is_func or not functions_only) and not s.name.startswith(("__", "ftlab_"))]
        close = difflib.get_close_matches(name, pool, n=5, cutoff=0.5)
        kind = "function" if functions_only else "symbol"
        hint = f"; closest: {', '.join(close)}" if close else ""
        return f"unknown {kind} '{name}'{hint}"

    def add_symbol(self, name: str, addr: int, size: int) -> None:
        """A symbol for generated code (a trampoline), so traces and stacks name it."""
        self.symbols[name] = Symbol(name, addr, size, True)
        self.__dict__.pop("_sorted_funcs", None)

    def symbolize(self, addr: int) -> str:
        """`symbol+0xoff` for a code address, or the bare hex address."""
        sym = self.func_at(addr)
        if sym is None:
            return f"{addr:#x}"
        return f"{sym.name}+{addr - sym.addr:#x}"

    def func_at(self, addr: int) -> Symbol | None:
        addrs, funcs = self._sorted_funcs
        i = bisect.bisect_right(addrs, addr) - 1
        if i < 0:
            return None
        sym = funcs[i]
        # pre-function NOPs (ops literal) belong to no function; size 0 symbols cover up to next
        if sym.size and addr >= sym.addr + sym.size:
            return None
        return sym

    @property
    def models(self) -> dict[str, FuncModel]:
        if self._models is None:
            with open(self.path, "rb") as f:
                self._models = read_function_models(ELFFile(f))
        return self._models

    def model(self, name: str) -> FuncModel:
        model = self.models.get(name)
        if model is None:
            raise SymbolError(self.unknown_message(name, functions_only=True)
                              if name not in self.symbols else f"no DWARF model for '{name}'")
        return model


def load_image(built: BuiltImage) -> Image:
    with open(built.path, "rb") as f:
        elf = ELFFile(f)
        segments = []
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_LOAD":
                continue
            segments.append(Segment(seg["p_vaddr"], seg.data(), seg["p_memsz"],
                                    bool(seg["p_flags"] & 1)))
        symbols: dict[str, Symbol] = {}
        symtab = elf.get_section_by_name(".symtab")
        for sym in symtab.iter_symbols():
            if not sym.name or sym["st_info"]["type"] in ("STT_FILE", "STT_SECTION"):
                continue
            is_func = sym["st_info"]["type"] == "STT_FUNC"
            prev = symbols.get(sym.name)
            if prev is None or (is_func and not prev.is_func):
                symbols[sym.name] = Symbol(sym.name, sym["st_value"], sym["st_size"], is_func)
        recorded: list[int] = []
        sec = elf.get_section_by_name("__patchable_function_entries")
        if sec is not None and sec.data_size:
            data = sec.data()
            # one pointer per site: the ISA's word size and byte order
            arch = built.arch
            fmt = ("<" if arch.endian == "little" else ">") + ("Q" if arch.word == 8 else "I")
            recorded = list(struct.unpack(f"{fmt[0]}{len(data) // arch.word}{fmt[1]}", data))
    image = Image(built.path, built.arch, built.layout, segments, symbols, [], built.sources)
    image.sites = _sites(image, recorded)
    return image


def _sites(image: Image, recorded: list[int]) -> list[PatchSite]:
    unit = image.arch.patch_unit // 2 if image.layout.compressed else image.arch.patch_unit
    total = image.layout.total * unit
    before = image.layout.before * unit
    sites = []
    for start in sorted(set(recorded)):
        sym = image.func_at(start + before)
        if sym is None or sym.addr != start + before:
            continue
        sites.append(PatchSite(sym.name, sym.addr, start, total))
    return sites
