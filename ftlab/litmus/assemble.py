"""Assemble one litmus thread with the clang inside the `ziglang` wheel (as ftlab/guest/build.py
does for guests) and find where each source instruction landed.

Each instruction gets a global marker label so the object's symbol table maps code offsets back
to litmus lines; an assembler error is reported against the litmus line it came from.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.elffile import ELFFile

from ftlab.litmus.parse import LitmusError

_MARK = "__ftlab_litmus_{}"


@dataclass
class Assembled:
    code: bytes
    lines: dict[int, tuple[int, str]]  # code offset -> (litmus line, source text)
    notes: dict[int, frozenset[str]]  # code offset -> annotations the front-end found
    labels: dict[str, int]  # the thread's own labels -> code offset


def _cache_dir() -> Path:
    root = os.environ.get("FTLAB_CACHE")
    path = (Path(root) if root else Path.home() / ".cache" / "ftlab") / "litmus"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _zig_env() -> dict[str, str]:
    env = dict(os.environ)
    zig_cache = str(_cache_dir().parent / "zig")
    env.setdefault("ZIG_GLOBAL_CACHE_DIR", zig_cache)
    env.setdefault("ZIG_LOCAL_CACHE_DIR", zig_cache)
    return env


def _assemble(source: str, target: str, cflags: tuple[str, ...]) -> bytes:
    """The object file for `source` (cached by content: the same test assembles once)."""
    key = hashlib.sha256("\0".join([source, target, *cflags]).encode()).hexdigest()[:24]
    cached = _cache_dir() / f"{key}.o"
    if cached.exists():
        return cached.read_bytes()
    with tempfile.TemporaryDirectory(prefix="ftlab-litmus-") as tmp:
        src = Path(tmp) / "thread.s"
        obj = Path(tmp) / "thread.o"
        src.write_text(source)
        cmd = [sys.executable, "-m", "ziglang", "cc", "-target", target, *cflags, "-c",
               str(src), "-o", str(obj)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_zig_env())
        if proc.returncode != 0:
            raise _AsmFailed(proc.stderr)
        data = obj.read_bytes()
    tmp_path = cached.with_suffix(f".{os.getpid()}.tmp")
    tmp_path.write_bytes(data)
    tmp_path.replace(cached)
    return data


class _AsmFailed(Exception):
    pass


def assemble_thread(frontend, tid: int, lines: list[tuple[int, str]], symbols: dict[str, int],
                    path: Path) -> Assembled:
    out = [frontend.ASM_PROLOGUE, ".text\n"]
    src_of_asm_line: dict[int, tuple[int, str]] = {}
    notes: dict[int, frozenset[str]] = {}
    marks: list[tuple[str, int, str, frozenset[str]]] = []
    for k, (no, text) in enumerate(lines):
        label = None
        body = text
        m = re.match(r"^\s*([A-Za-z_.][\w.]*)\s*:\s*(.*)$", text)
        if m:
            label, body = m.group(1), m.group(2)
        if label:
            out.append(f"{label}:\n")
        if not body.strip():
            continue
        asm, note = frontend.translate(body.strip(), symbols)
        mark = _MARK.format(k)
        out.append(f".globl {mark}\n{mark}:\n")
        src_of_asm_line["".join(out).count("\n") + 1] = (no, text)
        out.append(f"  {asm}\n")
        marks.append((mark, no, text, note))
    out.append(f".globl {_MARK.format('end')}\n{_MARK.format('end')}:\n")
    source = "".join(out)
    try:
        obj = _assemble(source, frontend.ZIG_TARGET, frontend.CFLAGS)
    except _AsmFailed as err:
        for msg in str(err).splitlines():
            m = re.search(r"thread\.s:(\d+):\d+: error: (.*)", msg)
            if m and int(m.group(1)) in src_of_asm_line:
                no, text = src_of_asm_line[int(m.group(1))]
                raise LitmusError(f"{path}:{no}: P{tid}: unsupported instruction '{text}': "
                                  f"{m.group(2)}") from None
        raise LitmusError(f"{path}: P{tid} does not assemble: {str(err).strip()[:300]}") from None
    import io

    elf = ELFFile(io.BytesIO(obj))
    text_sec = elf.get_section_by_name(".text")
    if elf.get_section_by_name(".rela.text") is not None:
        raise LitmusError(f"{path}: P{tid} needs relocations (a branch out of the thread?)")
    code = text_sec.data()
    symtab = elf.get_section_by_name(".symtab")
    where = {sym.name: sym["st_value"] for sym in symtab.iter_symbols()}
    labels = {sym.name: sym["st_value"] for sym in symtab.iter_symbols()
              if sym.name and not sym.name.startswith(("__ftlab_litmus_", "$"))
              and sym["st_info"]["type"] in ("STT_NOTYPE", "STT_FUNC")
              and sym["st_shndx"] not in ("SHN_UNDEF", "SHN_ABS")}
    lines_at: dict[int, tuple[int, str]] = {}
    for mark, no, text, note in marks:
        off = where[mark]
        lines_at[off] = (no, text)
        if note:
            notes[off] = note
    return Assembled(code, lines_at, notes, labels)
