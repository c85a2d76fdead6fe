"""Reference results for the programs in tests/programs/: what real hardware (or qemu-user)
computes for an entry, to check `ftlab run` against.

A program is built for Linux with the clang in the `ziglang` wheel (static musl, -O2) together
with a generated wrapper that #includes it, calls each case's entry with its arguments and
prints the result. The arguments are converted to the entry's parameter types by the C call
itself (the prototype is in scope), and the result is printed as C would: `%lld` for signed
return types, `%llu` for unsigned ones (pointers, _Bool, unsigned enums), `void` for void.
Plain char keeps the ABI's signedness (signed on x86_64, unsigned on arm64 and riscv64).

One binary per (program, arch, case list) prints every case, one line each; each case runs in a
forked child, so state a case leaves in globals cannot leak into the next and a crash is
reported for its case alone. Binaries are cached under $FTLAB_CACHE/reference (default
~/.cache/ftlab/reference), keyed by a hash of everything that goes into them.

x86_64 runs natively on an x86_64 host, and so does x86_32 (built with Debian's `gcc -m32`
from gcc-multilib where installed, else zig's clang for x86-linux-musl); the others run under
qemu-user (`qemu-aarch64`, `qemu-riscv64`, `qemu-i386` for x86_32 off x86_64 hosts).
Without qemu-user, `run_cases` raises ReferenceUnavailable, which the tests
turn into a skip with the reason.

Run directly to build and run every case of tests/test_reference.py and print the values:
    python tests/reference.py [--arch x86_64 --arch arm64 ...] [--program recursion ...]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ARCHES = ("x86_64", "arm64", "riscv64", "x86_32")
ZIG_TARGETS = {
    "x86_64": "x86_64-linux-musl",
    "arm64": "aarch64-linux-musl",
    "riscv64": "riscv64-linux-musl",  # accepted as is by zig 0.17 (rv64gc baseline, no -mcpu)
    "x86_32": "x86-linux-musl",
}
QEMU = {"x86_64": "qemu-x86_64", "arm64": "qemu-aarch64", "riscv64": "qemu-riscv64",
        "x86_32": "qemu-i386"}
# hosts whose CPU runs the arch's binaries natively (an x86_64 kernel runs i386 programs)
NATIVE_ON = {"x86_32": ("x86_64",)}
# a second, independent compiler where Debian has one: gcc -m32 (gcc-multilib) for x86_32;
# without it the reference is built by zig's clang for the Linux target
GCC = {"x86_32": ("gcc", "-m32")}
_HOST_NAMES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64",
               "riscv64": "riscv64"}
CFLAGS = ("-static", "-O2")
PROGRAMS_DIR = Path(__file__).resolve().parent / "programs"
RUN_TIMEOUT = 120  # seconds for one reference binary (all its cases)

_U64 = 1 << 64


class ReferenceUnavailable(Exception):
    """The reference cannot run on this machine (no qemu-user for the arch): skip, don't fail."""


class ReferenceFailed(Exception):
    """Building or running the reference failed: a broken test program or case."""


@dataclass(frozen=True)
class Case:
    entry: str
    args: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z_]\w*", self.entry):
            raise ValueError(f"bad entry name {self.entry!r}")
        if len(self.args) > 6:
            raise ValueError(f"{self.entry}: at most 6 arguments")
        for a in self.args:
            if not -(1 << 63) <= a < _U64:
                raise ValueError(f"{self.entry}: argument {a} does not fit in 64 bits")

    @property
    def id(self) -> str:
        return f"{self.entry}({','.join(str(a) for a in self.args)})"

    def cli_args(self) -> list[str]:
        """The `ftlab run` options for the arguments (`--args=` so `-5,3` is not an option)."""
        return [f"--args={','.join(str(a) for a in self.args)}"] if self.args else []


def program_path(program: str | Path) -> Path:
    p = Path(program)
    if p.suffix != ".c":
        p = PROGRAMS_DIR / f"{program}.c"
    return p.resolve()


# ---------------------------------------------------------------- environment

def cache_root() -> Path:
    root = os.environ.get("FTLAB_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "ftlab"


def zig_env() -> dict[str, str]:
    env = dict(os.environ)
    zig_cache = str(cache_root() / "zig")
    env.setdefault("ZIG_GLOBAL_CACHE_DIR", zig_cache)
    env.setdefault("ZIG_LOCAL_CACHE_DIR", zig_cache)
    return env


def host_arch() -> str | None:
    return _HOST_NAMES.get(platform.machine().lower())


def runner(arch: str) -> list[str]:
    """The command prefix that runs a binary for `arch` here; ReferenceUnavailable if none."""
    if arch not in ZIG_TARGETS:
        raise ValueError(f"unknown arch {arch!r}; valid: {', '.join(ARCHES)}")
    if host_arch() == arch or host_arch() in NATIVE_ON.get(arch, ()):
        return []
    qemu = shutil.which(QEMU[arch])
    if qemu is None:
        raise ReferenceUnavailable(
            f"{QEMU[arch]} not found on PATH: cannot run the {arch} reference on this "
            f"{platform.machine()} host (install qemu-user, e.g. `apt-get install qemu-user`)")
    return [qemu]


def unavailable_reason(arch: str) -> str | None:
    try:
        runner(arch)
    except ReferenceUnavailable as err:
        return str(err)
    return None


def _zig_version() -> str:
    try:
        return importlib.metadata.version("ziglang")
    except importlib.metadata.PackageNotFoundError:
        return "?"


# ---------------------------------------------------------------- wrapper

def _c_arg(value: int) -> str:
    # A 64-bit pattern as long long; the call converts it to the parameter's type, which is
    # what a C caller passing `value` does (modulo 2^N for narrower types).
    return f"(long long)0x{value % _U64:x}ull /* {value} */"


def returns_void(source: str, entry: str) -> bool:
    """Whether the program defines `entry` returning void (entries are written with the return
    type and the name on one line, as the programs in tests/programs/ are)."""
    if not re.search(rf"^[^\n;{{}}()#]*\b{entry}\s*\(", source, re.M):
        raise ReferenceFailed(f"entry {entry}() is not defined at the start of a line")
    return re.search(rf"^\s*void\s+{entry}\s*\(", source, re.M) is not None


_WRAPPER_HEAD = r"""/* generated by tests/reference.py: reference runner for %(name)s */
#include "%(path)s"

int printf(const char *fmt, ...);
int fflush(void *stream);
int fork(void);
int waitpid(int pid, int *status, int options);
void _exit(int status);

#define FTREF_PRINT(call) do {                                              \
	__typeof__(call) ftref_r = (call);                                      \
	if ((__typeof__(ftref_r))-1 < (__typeof__(ftref_r))0)                   \
		printf("%%lld\n", (long long)ftref_r);                              \
	else                                                                    \
		printf("%%llu\n", (unsigned long long)ftref_r);                     \
} while (0)

"""

_WRAPPER_MAIN = r"""
int main(void)
{
	unsigned int i, n = sizeof(ftref_cases) / sizeof(ftref_cases[0]);

	for (i = 0; i < n; i++) {
		int pid, status = 0;

		printf("case %u: ", i);
		fflush(0);
		pid = fork();
		if (pid == 0) {
			ftref_cases[i]();
			fflush(0);
			_exit(0);
		}
		if (pid < 0) {
			ftref_cases[i]();	/* no fork: run in this process */
			continue;
		}
		if (waitpid(pid, &status, 0) != pid || status != 0)
			printf("FAILED (wait status %d)\n", status);
		fflush(0);
	}
	return 0;
}
"""


def wrapper_source(program: Path, cases: Sequence[Case]) -> str:
    source = program.read_text()
    out = [_WRAPPER_HEAD % {"name": program.name, "path": str(program)}]
    for i, case in enumerate(cases):
        call = f"{case.entry}({', '.join(_c_arg(a) for a in case.args)})"
        if returns_void(source, case.entry):
            body = f"{call}; printf(\"void\\n\");"
        else:
            body = f"FTREF_PRINT({call});"
        out.append(f"static void ftref_case_{i}(void) {{ {body} }}\n")
    out.append("\nstatic void (*const ftref_cases[])(void) = {\n")
    out += [f"\tftref_case_{i},\n" for i in range(len(cases))]
    out.append("};\n")
    out.append(_WRAPPER_MAIN)
    return "".join(out)


# ---------------------------------------------------------------- build and run

@functools.cache
def gcc_works(arch: str) -> bool:
    """Whether Debian's gcc builds static programs for `arch` here (gcc-multilib for -m32)."""
    if arch not in GCC or shutil.which(GCC[arch][0]) is None:
        return False
    with tempfile.TemporaryDirectory(prefix="ftlab-ref-") as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text("int main(void) { return 0; }\n")
        proc = subprocess.run([*GCC[arch], *CFLAGS, str(src), "-o", str(Path(tmp) / "probe")],
                              capture_output=True)
        return proc.returncode == 0


def build_command(arch: str, src: Path, out: Path) -> list[str]:
    if gcc_works(arch):
        return [*GCC[arch], *CFLAGS, str(src), "-o", str(out)]
    return [sys.executable, "-m", "ziglang", "cc", "-target", ZIG_TARGETS[arch], *CFLAGS,
            str(src), "-o", str(out)]


def compiler_name(arch: str) -> str:
    return " ".join(GCC[arch]) if gcc_works(arch) else f"zig cc -target {ZIG_TARGETS[arch]}"


def build(program: str | Path, arch: str, cases: Sequence[Case]) -> Path:
    """The reference binary for `cases` of `program` on `arch`, built unless cached."""
    path = program_path(program)
    if not path.is_file():
        raise ReferenceFailed(f"{path}: no such program")
    wrapper = wrapper_source(path, cases)
    h = hashlib.sha256()
    for part in (arch, compiler_name(arch), repr(CFLAGS), _zig_version(), wrapper,
                 path.read_text()):
        h.update(part.encode())
        h.update(b"\0")
    key = h.hexdigest()[:24]
    out_dir = cache_root() / "reference"
    out_dir.mkdir(parents=True, exist_ok=True)
    binary = out_dir / f"{path.stem}-{arch}-{key}"
    if binary.exists():
        return binary
    with tempfile.TemporaryDirectory(prefix="ftlab-ref-") as tmp:
        src = Path(tmp) / f"ref_{path.stem}.c"
        src.write_text(wrapper)
        exe = Path(tmp) / "ref"
        cmd = build_command(arch, src, exe)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=zig_env())
        if proc.returncode != 0:
            raise ReferenceFailed(f"reference build failed for {path.name} on {arch}:\n"
                                 f"$ {' '.join(cmd)}\n{proc.stderr or proc.stdout}")
        partial = binary.with_name(binary.name + f".{os.getpid()}.partial")
        shutil.copyfile(exe, partial)
        partial.chmod(0o755)
        os.replace(partial, binary)  # atomic: concurrent builders never see half a binary
    return binary


def run_cases(program: str | Path, arch: str, cases: Sequence[Case]) -> list[str]:
    """Reference values for `cases` on `arch`, in order: decimal integers or "void"."""
    prefix = runner(arch)  # ReferenceUnavailable first: no point building what cannot run
    binary = build(program, arch, cases)
    cmd = [*prefix, str(binary)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as err:
        raise ReferenceFailed(f"{' '.join(cmd)} timed out after {RUN_TIMEOUT} s") from err
    if proc.returncode != 0:
        raise ReferenceFailed(f"{' '.join(cmd)} exited with {proc.returncode}:\n"
                             f"{proc.stdout}{proc.stderr}")
    values: dict[int, str] = {}
    for line in proc.stdout.splitlines():
        m = re.fullmatch(r"case (\d+): (.*)", line.strip())
        if m:
            values[int(m.group(1))] = m.group(2).strip()
    results = []
    name = program_path(program).name
    for i, case in enumerate(cases):
        v = values.get(i)
        if v is None or not (v == "void" or re.fullmatch(r"-?\d+", v)):
            raise ReferenceFailed(f"{name} {case.id} on {arch}: reference printed {v!r}\n"
                                 f"full output of {' '.join(cmd)}:\n{proc.stdout}{proc.stderr}")
        results.append(v)
    return results


# ---------------------------------------------------------------- command line

def _load_cases() -> dict[str, list[Case]]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import test_reference  # the case list lives with the tests

    return test_reference.CASES


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="build and run the reference programs")
    ap.add_argument("--arch", action="append", choices=ARCHES, help="default: all")
    ap.add_argument("--program", action="append", help="default: all in test_reference.CASES")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2)
    ns = ap.parse_args(argv)
    all_cases = _load_cases()
    programs = ns.program or list(all_cases)
    arches = ns.arch or list(ARCHES)
    jobs = [(p, a) for a in arches for p in programs]

    def one(job: tuple[str, str]) -> tuple[str, str, list[str] | str, float]:
        p, a = job
        t0 = time.perf_counter()
        try:
            res: list[str] | str = run_cases(p, a, all_cases[p])
        except ReferenceUnavailable as err:
            res = f"SKIPPED: {err}"
        except ReferenceFailed as err:
            res = f"ERROR: {err}"
        return p, a, res, time.perf_counter() - t0

    t0 = time.perf_counter()
    status = 0
    with ThreadPoolExecutor(max_workers=max(1, ns.jobs)) as pool:
        for p, a, res, dt in pool.map(one, jobs):
            print(f"== {p} on {a} ({dt:.2f} s)")
            if isinstance(res, str):
                print(f"  {res}")
                status |= res.startswith("ERROR")
                continue
            for case, v in zip(all_cases[p], res, strict=True):
                print(f"  {case.id} = {v}")
    print(f"total {time.perf_counter() - t0:.2f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
