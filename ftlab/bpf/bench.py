"""Per-call cost of fentry, fexit and fmod_ret trampolines (against untraced, the function
tracer and a bare direct call), and attach/detach time for one program on N functions."""

from __future__ import annotations

import time
from pathlib import Path

from ftlab.bpf.attach import BpfManager
from ftlab.errors import FtlabError
from ftlab.ftrace.core import Ftrace
from ftlab.ftrace.schemes import get_scheme
from ftlab.ftrace.tracers import TraceInstance
from ftlab.machine.counting import counting
from ftlab.machine.machine import Machine, Scheduler
from ftlab.session import load

BENCH_C = Path(__file__).parent / "guests" / "bench.c"
CONFIGS = ("untraced", "fentry", "fexit", "fmod_ret", "function-tracer", "direct")
SLICE = 10**9


def _machine(image, arch: str, config: str) -> Machine:
    m = Machine(image)
    ft = Ftrace(m, get_scheme(arch, None))
    ft.boot()
    if config in ("fentry", "fexit", "fmod_ret"):
        bm = BpfManager(ft)
        bm.attach((config, image.function("prog_empty").addr), "bench_target")
        bm.commit()
    elif config == "function-tracer":
        tr = TraceInstance(ft, buffer_kb=64)
        tr.set_filter(["bench_target"])
        tr.set_tracer("function")
    elif config == "direct":
        ops = ft.new_ops("direct", "ftrace_stub")
        ft.set_filter(ops, ["bench_target"])
        ft.register_direct(ops, image.addr("ftlab_direct_tramp"))
    return m


def _run(m: Machine, n: int) -> tuple[float, int]:
    t = m.spawn("bench_loop", [n])
    t0 = time.perf_counter()
    Scheduler(m, slice_range=(SLICE, SLICE)).run()
    if t.fault is not None:
        raise FtlabError(t.fault.report())
    return time.perf_counter() - t0, t.result or 0


def _count(m: Machine, n: int) -> int:
    with counting(m) as counters:
        _run(m, n)
    return sum(c.total for c in counters)


def measure_trampolines(arch: str, timed: bool = True, target: float = 0.3) -> list[dict]:
    image = load([BENCH_C], arch)
    rows = []
    expect = None
    for config in CONFIGS:
        m = _machine(image, arch, config)
        _, result = _run(m, 64)
        expect = result if expect is None else expect
        if result != expect:
            raise FtlabError(f"{config}: bench_loop returned {result:#x}, not {expect:#x}")
        insns = (_count(m, 160) - _count(m, 32)) / 128
        ns = None
        if timed:
            n = 2000
            while _run(m, n)[0] < target / 4 and n < 10**7:
                n *= 4
            best = min(_run(m, n)[0] - _run(m, n // 10)[0] for _ in range(3))
            ns = best * 1e9 / (n - n // 10)
        rows.append({"config": config, "scheme": get_scheme(arch, None).name,
                     "instructions_per_call": insns, "ns_per_call": ns})
    return rows


def generated_guest(n: int, cache: Path) -> Path:
    """A guest with n small traceable functions taking 1 to 6 integer arguments."""
    path = cache / f"many_{n}.c"
    if not path.exists():
        parts = ["#include <ftlab/bpf.h>\n"]
        for i in range(n):
            k = 1 + i % 6
            args = ", ".join(f"u64 a{j}" for j in range(k))
            body = " + ".join(f"a{j}" for j in range(k))
            parts.append(f"noinline u64 fn_{i}({args}) {{ return {body} + {i}; }}\n")
        parts.append("u64 many_entry(u64 x) { return fn_0(x) + fn_1(x, x); }\n")
        parts.append('SEC("fentry.multi/fn_*") int on_many(u64 *ctx) { return 0; }\n')
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(parts))
    return path


def measure_attach(arch: str, n: int) -> dict:
    from ftlab.bpf.attach import find_programs
    from ftlab.guest.build import cache_dir

    image = load([generated_guest(n, cache_dir() / "generated")], arch)
    _ = image.models  # DWARF parsing is not part of attach time
    m = Machine(image)
    ft = Ftrace(m, get_scheme(arch, None))
    ft.boot()
    bm = BpfManager(ft)
    prog = next(p for p in find_programs(image) if p.name == "on_many")
    t0 = time.perf_counter()
    bm.attach_multi(prog, "fn_*")
    bm.commit()
    touched = list(bm.trampolines.values())
    attach = time.perf_counter() - t0
    enabled = sum(1 for r in ft.records if r.call is not None)
    t = m.spawn("many_entry", [3])
    Scheduler(m).run()
    if t.fault is not None:
        raise FtlabError(t.fault.report())
    t0 = time.perf_counter()
    bm.detach_all()
    detach = time.perf_counter() - t0
    if any(r.call is not None for r in ft.records):
        raise FtlabError("a site is still enabled after detach")
    return {"functions": enabled, "trampolines": len(touched), "attach_seconds": attach,
            "detach_seconds": detach, "scheme": get_scheme(arch, None).name,
            "images_bytes": sum(tr.size for tr in touched)}
