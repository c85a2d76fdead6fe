"""Text size of a C code base with and without patchable function entries, per arch.

Seed 003 weighs CALL_OPS as "better per-call performance GOOD, larger text size BAD". This
measures the BAD part: the code base is compiled to objects (not linked) with the flags of
ftlab.guest.build.base_cflags (freestanding, -O2, the kernel's frame-pointer build), three ways
per arch and instruction-set family:

  none      no -fpatchable-function-entry (the untraced baseline, `traced: false`)
  plain     the arch's layout without CALL_OPS: x86_64 `fentry` (5), arm64 `plain` (2),
            riscv64 `plain-rvc` (4 c.nop, 4-byte aligned) and `plain` (2 nop)
  call-ops  the CALL_OPS layout: extra NOPs before the function for the ops literal plus
            8-byte function alignment: arm64 `callops` (4,2), riscv64 `callops-rvc` (8,4) and
            `callops` (4,2). x86_64 has no CALL_OPS in the kernel, so no such row.

riscv64 is measured twice, with compressed instructions (the kernel's rv64imac, the `-rvc`
layouts) and without (rv64ima), each against its own `none` build.

Per object: `.text` bytes (every SHF_EXECINSTR section), defined functions (STT_FUNC symbols
in those sections) and patch sites (entries of __patchable_function_entries). Objects are
built with -g0 appended (debug info never changes code, and it is 8x the object size and a
third of the compile time) and cached by a hash of the flags, the compiler version, the
source and the headers beside it, so a second run compiles nothing.

The real code base is zstd: the single-file library inside the `zstandard` package's source
distribution on PyPI (ZSTANDARD_VERSION, pinned so figures are reproducible), fetched with
`pip download --no-deps --no-binary :all:` into the cache, or taken from the sdist named by
$FTLAB_ZSTD_SDIST. zstd's own headers are used as shipped; the few libc headers it includes
(string.h, stdlib.h, stdio.h, time.h, assert.h, pthread.h) come from a shim of declarations
(SHIM_HEADERS), searched after everything else (-idirafter), so nothing links and nothing is
defined for it. zstd builds with its multithreading code (ZSTD_MULTITHREAD, calls into the
shim's pthread declarations) and its dictionary builder: every function of the library.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from ftlab.arch import ARCH_NAMES, get_arch
from ftlab.arch.base import ArchInfo, EntryLayout
from ftlab.bench.table import columns
from ftlab.errors import CompileError, FtlabError, UsageError
from ftlab.guest.build import base_cflags, cache_dir, kill_compilers, patchable_flags, run_compiler

ARCHES = ARCH_NAMES
ZSTANDARD_VERSION = "0.25.0"
ZSTD_SDIST_ENV = "FTLAB_ZSTD_SDIST"
PIP_TIMEOUT_S = 300
COMPILE_TIMEOUT_S = 600
EXTRA_CFLAGS = ("-g0",)

# Declarations only: what a freestanding build of a libc-using library needs to compile.
SHIM_HEADERS = {
    "string.h": """\
#pragma once
#include <stddef.h>
void *memcpy(void *, const void *, size_t);
void *memmove(void *, const void *, size_t);
void *memset(void *, int, size_t);
int memcmp(const void *, const void *, size_t);
size_t strlen(const char *);
int strcmp(const char *, const char *);
""",
    "stdlib.h": """\
#pragma once
#include <stddef.h>
void *malloc(size_t);
void *calloc(size_t, size_t);
void *realloc(void *, size_t);
void free(void *);
void qsort(void *, size_t, size_t, int (*)(const void *, const void *));
void abort(void);
""",
    "stdio.h": """\
#pragma once
#include <stddef.h>
#include <stdarg.h>
typedef struct ftlab_shim_FILE FILE;
extern FILE *stderr;
extern FILE *stdout;
int fprintf(FILE *, const char *, ...);
int printf(const char *, ...);
int fflush(FILE *);
""",
    "time.h": """\
#pragma once
typedef long clock_t;
typedef long time_t;
#define CLOCKS_PER_SEC 1000000L
clock_t clock(void);
""",
    "assert.h": """\
#pragma once
#define assert(x) ((void)0)
""",
    "pthread.h": """\
#pragma once
typedef struct { long opaque[5]; } pthread_mutex_t;
typedef struct { long opaque[6]; } pthread_cond_t;
typedef struct { int opaque; } pthread_mutexattr_t;
typedef struct { int opaque; } pthread_condattr_t;
typedef struct { long opaque[7]; } pthread_attr_t;
typedef unsigned long pthread_t;
int pthread_mutex_init(pthread_mutex_t *, const pthread_mutexattr_t *);
int pthread_mutex_destroy(pthread_mutex_t *);
int pthread_mutex_lock(pthread_mutex_t *);
int pthread_mutex_unlock(pthread_mutex_t *);
int pthread_cond_init(pthread_cond_t *, const pthread_condattr_t *);
int pthread_cond_destroy(pthread_cond_t *);
int pthread_cond_wait(pthread_cond_t *, pthread_mutex_t *);
int pthread_cond_signal(pthread_cond_t *);
int pthread_cond_broadcast(pthread_cond_t *);
int pthread_create(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
int pthread_join(pthread_t, void **);
""",
}


class SourcesUnavailable(FtlabError):
    """The real code base could not be obtained: the benchmark is skipped, with this reason."""


# --- the code base ----------------------------------------------------------------------------
def bench_cache() -> Path:
    path = cache_dir() / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _extract_zstd(sdist: Path, dest: Path) -> None:
    """The zstd/ directory of a zstandard sdist into dest (atomically: all or nothing)."""
    tmp = Path(tempfile.mkdtemp(prefix=".zstd-", dir=dest.parent))
    try:
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers()
                       if m.isfile() and len(Path(m.name).parts) == 3
                       and Path(m.name).parts[1] == "zstd"
                       and m.name.endswith((".c", ".h"))]
            if not any(m.name.endswith("/zstd.c") for m in members):
                raise SourcesUnavailable(f"{sdist}: no zstd/zstd.c inside")
            for m in members:
                m.name = Path(m.name).name
            tar.extractall(tmp, members=members, filter="data")
        os.replace(tmp, dest)
    except (OSError, tarfile.TarError) as err:
        raise SourcesUnavailable(f"cannot unpack {sdist}: {err}") from err
    finally:
        if tmp.exists():
            for f in tmp.iterdir():
                f.unlink()
            tmp.rmdir()


def zstd_sources(fetch: bool = True, log: Callable[[str], None] | None = None) -> list[Path]:
    """The zstd single-file library (zstd.c; its headers beside it), from the cache, from
    $FTLAB_ZSTD_SDIST, or downloaded with pip. SourcesUnavailable says why not."""
    dest = bench_cache() / f"zstandard-{ZSTANDARD_VERSION}" / "zstd"
    if (dest / "zstd.c").is_file():
        return [dest / "zstd.c"]
    dest.parent.mkdir(parents=True, exist_ok=True)
    local = os.environ.get(ZSTD_SDIST_ENV)
    if local:
        _extract_zstd(Path(local), dest)
        return [dest / "zstd.c"]
    if not fetch:
        raise SourcesUnavailable(f"the zstd sources are not in {dest.parent} and fetching "
                                 "is off")
    with tempfile.TemporaryDirectory(prefix="ftlab-zstd-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--disable-pip-version-check", "-q", f"zstandard=={ZSTANDARD_VERSION}",
               "-d", tmp]
        if log is not None:
            log("text-size: fetching the zstd sources: " + " ".join(cmd[2:]))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise SourcesUnavailable(f"`pip download zstandard=={ZSTANDARD_VERSION}` "
                                     f"failed: {err}") from err
        sdists = sorted(Path(tmp).glob("zstandard-*.tar.gz"))
        if proc.returncode != 0 or not sdists:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise SourcesUnavailable(
                f"`pip download --no-deps --no-binary :all: zstandard=={ZSTANDARD_VERSION}` "
                f"failed (exit {proc.returncode}): {' | '.join(tail) or 'no sdist saved'}; "
                f"set ${ZSTD_SDIST_ENV} to a zstandard sdist to measure offline")
        _extract_zstd(sdists[0], dest)
    return [dest / "zstd.c"]


def shim_dir() -> Path:
    """The shim headers, written once into the cache (named by their content hash)."""
    h = hashlib.sha256(repr(sorted(SHIM_HEADERS.items())).encode()).hexdigest()[:16]
    path = bench_cache() / f"shim-{h}"
    if not all((path / name).is_file() for name in SHIM_HEADERS):
        tmp = Path(tempfile.mkdtemp(prefix=".shim-", dir=path.parent))
        for name, text in SHIM_HEADERS.items():
            (tmp / name).write_text(text)
        try:
            os.replace(tmp, path)
        except OSError:  # another process won the race
            for f in tmp.iterdir():
                f.unlink()
            tmp.rmdir()
    return path


def expand_files(files: Iterable[str | Path]) -> list[Path]:
    """C files as given; a directory stands for the .c files under it."""
    out: list[Path] = []
    for f in files:
        p = Path(f)
        if p.is_dir():
            found = sorted(p.rglob("*.c"))
            if not found:
                raise UsageError(f"{p}: no .c files under it")
            out += found
        elif p.is_file():
            if p.suffix != ".c":
                raise UsageError(f"{p}: not a C (.c) file")
            out.append(p)
        else:
            raise UsageError(f"{p}: no such file")
    return out


# --- the builds -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    arch: ArchInfo
    scheme: str  # "none", "none-rvc" or a layout name
    kind: str  # "none", "plain", "call-ops"
    base: EntryLayout  # the layout whose ISA flags (riscv64 RVC or not) this build uses
    layout: EntryLayout | None  # None: no patchable entries

    @property
    def family(self) -> str:
        return "rvc" if self.base.compressed else ""

    def flags(self, shim: Path) -> list[str]:
        flags = base_cflags(self.arch, self.base)
        if self.layout is not None:
            flags += patchable_flags(self.layout)
        return [*flags, *EXTRA_CFLAGS, "-idirafter", str(shim)]


def variants(arch: ArchInfo) -> list[Variant]:
    """Per family of ISA flags: none, then plain, then CALL_OPS (a layout with NOPs before
    the function holds the ops literal)."""
    groups: dict[tuple[str, ...], list[EntryLayout]] = {}
    for layout in arch.layouts.values():
        groups.setdefault(tuple(layout.cflags), []).append(layout)
    out = []
    several = len(groups) > 1
    # the compressed family (the kernel's default) first
    for layouts in sorted(groups.values(), key=lambda ls: not ls[0].compressed):
        layouts = sorted(layouts, key=lambda lay: (lay.before > 0, lay.total))
        base = layouts[0]
        none = "none-rvc" if several and base.compressed else "none"
        out.append(Variant(arch, none, "none", base, None))
        for layout in layouts:
            kind = "call-ops" if layout.before > 0 else "plain"
            out.append(Variant(arch, layout.name, kind, base, layout))
    return out


def _zig_version() -> str:
    try:
        return importlib.metadata.version("ziglang")
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _zig_env() -> dict[str, str]:
    env = dict(os.environ)
    zig_cache = str(cache_dir() / "zig")
    env.setdefault("ZIG_GLOBAL_CACHE_DIR", zig_cache)
    env.setdefault("ZIG_LOCAL_CACHE_DIR", zig_cache)
    return env


def object_key(src: Path, flags: Sequence[str], shim: Path) -> str:
    """Hash of everything the object depends on: compiler, flags (the shim path as its
    content), the source and every header in the source's directory."""
    h = hashlib.sha256()
    h.update(_zig_version().encode())
    h.update(repr([f if f != str(shim) else "<shim>" for f in flags]).encode())
    h.update(repr(sorted(SHIM_HEADERS.items())).encode())
    h.update(src.read_bytes())
    for header in sorted(src.parent.glob("*.h")):
        h.update(header.name.encode())
        h.update(header.read_bytes())
    return h.hexdigest()[:32]


def compile_object(src: Path, flags: Sequence[str], shim: Path) -> tuple[Path, bool]:
    """(object, whether it came from the cache)."""
    out_dir = bench_cache() / "objects"
    out_dir.mkdir(parents=True, exist_ok=True)
    obj = out_dir / f"{src.stem}-{object_key(src, flags, shim)}.o"
    if obj.is_file():
        return obj, True
    partial = obj.with_suffix(f".{os.getpid()}.{id(flags)}.partial")
    cmd = [sys.executable, "-m", "ziglang", "cc", *flags, "-c", str(src), "-o", str(partial)]
    try:
        returncode, out, err = run_compiler(cmd, env=_zig_env(), timeout=COMPILE_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        partial.unlink(missing_ok=True)
        raise CompileError(f"compiling {src} took over {COMPILE_TIMEOUT_S}s") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if returncode != 0:
        partial.unlink(missing_ok=True)
        msg = (err or out).strip().splitlines()
        raise CompileError(f"compiling {src} failed:\n" + "\n".join(msg[:20]))
    os.replace(partial, obj)
    return obj, False


@dataclass(frozen=True)
class ObjectStats:
    text_bytes: int
    functions: int
    sites: int


def measure_object(path: Path) -> ObjectStats:
    with path.open("rb") as fh:
        elf = ELFFile(fh)
        exec_idx = set()
        text = 0
        sites = 0
        word = elf.elfclass // 8
        for i, sec in enumerate(elf.iter_sections()):
            flags = sec["sh_flags"]
            if flags & SH_FLAGS.SHF_EXECINSTR and flags & SH_FLAGS.SHF_ALLOC:
                exec_idx.add(i)
                text += sec["sh_size"]
            elif sec.name == "__patchable_function_entries":
                sites += sec["sh_size"] // word
        functions = 0
        symtab = elf.get_section_by_name(".symtab")
        if symtab is not None:
            for sym in symtab.iter_symbols():
                if sym["st_info"]["type"] == "STT_FUNC" and sym["st_shndx"] in exec_idx:
                    functions += 1
    return ObjectStats(text, functions, sites)


# --- the benchmark ------------------------------------------------------------------------------
def run_text_size(arches: Sequence[str], files: Sequence[str | Path], *, code_base: str = "",
                  jobs: int | None = None, keep_going: bool = False,
                  progress: Callable[[str], None] | None = None,
                  log: Callable[[str], None] | None = None) -> list[dict]:
    """One row per (arch, build), in `variants` order. `keep_going`: a file that does not
    compile freestanding is left out of every build of its arch (and named in `skipped`)
    instead of failing the run. `progress(label)` is called after each object."""
    srcs = expand_files(files)
    if not srcs:
        raise UsageError("text-size needs C files")
    shim = shim_dir()
    archs = [get_arch(a) for a in arches]
    builds = [(v, src) for arch in archs for v in variants(arch) for src in srcs]
    # largest sources first: the pool stays busy to the end
    order = sorted(range(len(builds)), key=lambda i: -builds[i][1].stat().st_size)
    results: dict[int, ObjectStats | Exception] = {}
    hits: list[int] = []

    def work(i: int) -> None:
        v, src = builds[i]
        try:
            obj, hit = compile_object(src, v.flags(shim), shim)
            results[i] = measure_object(obj)
            if hit:
                hits.append(i)
        except CompileError as err:
            results[i] = err
        if progress is not None:
            progress(f"{v.arch.name} {v.scheme} {src.name}")

    workers = max(1, jobs or os.cpu_count() or 1)
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        list(pool.map(work, order))
    except BaseException:  # interrupted: drop the queue, end the compilers running
        pool.shutdown(wait=False, cancel_futures=True)
        kill_compilers()
        raise
    pool.shutdown()
    failed: dict[str, set[Path]] = {}
    for i, res in results.items():
        if isinstance(res, Exception):
            v, src = builds[i]
            if not keep_going:
                raise res
            failed.setdefault(v.arch.name, set()).add(src)
    if log is not None and hits:
        log(f"text-size: {len(hits)} of {len(builds)} objects from the cache")
    rows = []
    base: dict[tuple[str, str], dict] = {}
    for arch in archs:
        skipped = failed.get(arch.name, set())
        for v in variants(arch):
            stats = [results[i] for i, (bv, src) in enumerate(builds)
                     if bv == v and src not in skipped]
            text = sum(s.text_bytes for s in stats)  # type: ignore[union-attr]
            funcs = sum(s.functions for s in stats)  # type: ignore[union-attr]
            sites = sum(s.sites for s in stats)  # type: ignore[union-attr]
            layout = v.layout
            row = {
                "arch": arch.name,
                "scheme": v.scheme,
                "kind": v.kind,
                "family": v.family,
                "call_ops": v.kind == "call-ops",
                "patchable": (None if layout is None else
                              f"{layout.total},{layout.before}" if layout.before
                              else f"{layout.total}"),
                "align": None if layout is None else (layout.align or None),
                "code_base": code_base,
                "files": len(srcs) - len(skipped),
                "skipped": sorted(str(s) for s in skipped),
                "functions": funcs,
                "sites": sites,
                "text_bytes": text,
                # the keys every bench row has (text size has no per-call cost)
                "relevant": None,
                "irrelevant": None,
                "traced": v.layout is not None,
                "instructions_per_call": None,
                "ns_per_call": None,
            }
            key = (arch.name, v.family)
            if v.kind == "none":
                base[key] = row
            b = base[key]
            row["overhead_bytes"] = text - b["text_bytes"]
            row["overhead_pct"] = (round(100.0 * (text - b["text_bytes"]) / b["text_bytes"], 3)
                                   if b["text_bytes"] else None)
            row["overhead_bytes_per_function"] = (
                round((text - b["text_bytes"]) / funcs, 2) if funcs else None)
            rows.append(row)
    return rows


def summarize_text_size(rows: Sequence[dict]) -> list[dict]:
    """Per (arch, family): the CALL_OPS layout's text over the plain one's, and each over none."""
    out = []
    groups: dict[tuple[str, str], dict[str, dict]] = {}
    for r in rows:
        groups.setdefault((r["arch"], r["family"]), {})[r["kind"]] = r
    for (arch, family), g in groups.items():
        none, plain, callops = g.get("none"), g.get("plain"), g.get("call-ops")
        entry = {"arch": arch, "family": family,
                 "functions": none["functions"] if none else None,
                 "none_bytes": none["text_bytes"] if none else None,
                 "plain_pct": plain["overhead_pct"] if plain else None,
                 "call_ops_pct": callops["overhead_pct"] if callops else None,
                 "call_ops_over_plain_pct": None,
                 "call_ops_extra_bytes_per_function": None}
        if plain and callops and plain["text_bytes"]:
            entry["call_ops_over_plain_pct"] = round(
                100.0 * (callops["text_bytes"] - plain["text_bytes"]) / plain["text_bytes"], 3)
            if callops["functions"]:
                entry["call_ops_extra_bytes_per_function"] = round(
                    (callops["text_bytes"] - plain["text_bytes"]) / callops["functions"], 2)
        out.append(entry)
    return out


def format_text_size(rows: Sequence[dict]) -> str:
    head = ("arch", "build", "entry", "align", "functions", "sites", ".text bytes", "+bytes",
            "+%", "+B/func")
    body = []
    for r in rows:
        body.append((r["arch"] + (" (RVC)" if r["family"] == "rvc" else ""), r["scheme"],
                     r["patchable"] or "-", str(r["align"] or "-"), str(r["functions"]),
                     str(r["sites"]), str(r["text_bytes"]),
                     f"{r['overhead_bytes']:+d}" if r["traced"] else "0",
                     f"{r['overhead_pct']:+.2f}" if r["overhead_pct"] is not None else "-",
                     f"{r['overhead_bytes_per_function']:.1f}"
                     if r["overhead_bytes_per_function"] is not None else "-"))
    out = [columns(head, body, 2, [(r["arch"], r["family"]) for r in rows])]
    skipped = sorted({s for r in rows for s in r["skipped"]})
    if skipped:
        out.append("")
        out.append("left out (do not compile freestanding): " + ", ".join(skipped))
    return "\n".join(out)
