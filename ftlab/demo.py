"""`ftlab demo`: the bundled example traced on every architecture, with what to notice."""

from __future__ import annotations

import time
from pathlib import Path

from ftlab.ftrace.schemes import get_scheme
from ftlab.tracing import TraceConfig, TraceSession

EXAMPLE = Path(__file__).parent / "examples" / "demo.c"
ENTRY = "sys_sendfile64"
ARGS = (1, 3, 4096)


def _site_bytes(session: TraceSession, func: str) -> str:
    rec = session.ftrace.by_func[func]
    site = rec.site
    return session.machine.mem.read(site.start, site.size).hex(" ")


def run_demo(arches: list[str]) -> int:
    print(f"ftlab demo: {EXAMPLE.name}, {ENTRY}{ARGS} on 2 harts, function_graph tracer\n")
    status = 0
    for arch in arches:
        t0 = time.perf_counter()
        scheme = get_scheme(arch, None)
        config = TraceConfig(tracer="function_graph", filters=["do_*", "*splice*", "meminfo*"])
        session = TraceSession([EXAMPLE], arch, harts=2, config=config)
        before = _site_bytes(session, "do_empty")
        result = session.run(ENTRY, ARGS)
        text = session.render("text")
        dt = time.perf_counter() - t0
        print(f"== {arch}: scheme {scheme.name} ({scheme.description}); "
              f"{len(session.ftrace.records)} patch sites; {dt:.2f} s")
        print(f"   do_empty's site while traced: {before}")
        print("   results: " + ", ".join(result.lines()))
        body = [line for line in text.splitlines() if line.startswith(" 0)")]
        print("\n".join("   " + line for line in body))
        stacks = [e for e in result.machine.events if e.kind == "stack"]
        if stacks:
            print("   dump_stack() in do_empty, unwound through the graph tracer's frames:")
            print("\n".join(f"     => {f.text}" for f in stacks[0].frames[:4]) + "\n     ...")
        for fault in result.faults:
            print(fault.report())
            status = 1
        print()
    print("What to notice: the same C runs on every ISA; each site was patched live (the bytes")
    print("above are each ISA's enabled site, as its scheme describes it in `ftlab trace")
    print("--list-schemes`); every call shows up once with its duration, and results match")
    print("the untraced run. Try `ftlab trace --help`.")
    return status
