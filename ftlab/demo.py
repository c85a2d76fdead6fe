"""`ftlab demo`: the bundled example on every architecture, with what a user should notice."""

from __future__ import annotations

import time
from pathlib import Path

from ftlab.session import load, run_entry

EXAMPLE = Path(__file__).parent / "examples" / "demo.c"
ENTRY = "sys_sendfile64"
ARGS = (1, 3, 4096)


def run_demo(arches: list[str]) -> int:
    print(f"ftlab demo: {EXAMPLE.name}, entry {ENTRY}{ARGS}, on {', '.join(arches)}\n")
    status = 0
    for arch in arches:
        t0 = time.perf_counter()
        image = load([EXAMPLE], arch)
        result = run_entry(image, ENTRY, ARGS, harts=2, seed=0)
        dt = time.perf_counter() - t0
        sites = len(image.sites)
        print(f"== {arch} ({image.layout.name} entries: {image.layout.description}; "
              f"{sites} patch sites; {dt:.2f} s)")
        for line in result.lines():
            print(f"  {line}")
        stacks = [e for e in result.machine.events if e.kind == "stack"]
        if stacks:
            first = stacks[0]
            print(f"  dump_stack() in do_empty on hart {first.hart} ({first.task}):")
            for frame in first.frames:
                print(f"    => {frame.text}")
        for fault in result.faults:
            print(fault.report())
            status = 1
        print()
    print("Each hart ran one task; the frame-pointer backtrace above is read from guest memory")
    print("and should name every caller from do_empty up to sys_sendfile64.")
    return status
