"""`ftlab tracefs MOUNTPOINT FILE.c ... --arch ARCH --entry FUNC`: mount a tracefs over a
machine that re-invokes the entry on every hart until unmounted (or Ctrl-C)."""

from __future__ import annotations

import argparse
import sys

from ftlab.errors import FtlabError, UsageError


def register(sub, add_guest_args, add_trace_args) -> dict:
    p = sub.add_parser(
        "tracefs", help="mount a tracefs over an entry running in a loop on emulated harts",
        description="Mount /sys/kernel/tracing's files at MOUNTPOINT while every hart calls "
                    "the entry over and over; drive ftrace with echo and cat. Runs in the "
                    "foreground until `umount MOUNTPOINT` or Ctrl-C. --max-insns is a budget "
                    "per invocation of the entry.")
    p.add_argument("mountpoint", metavar="MOUNTPOINT", help="an existing directory")
    add_guest_args(p)
    p.add_argument("--scheme", help="how sites are patched (see ftlab trace --list-schemes)")
    p.add_argument("--io-period", type=int, default=2, metavar="ROUNDS",
                   help="every ROUNDS scheduler rounds one hart's task blocks for 2 rounds, "
                        "as on I/O (sched_switch/sched_wakeup events); 0: never (default 2)")
    p.add_argument("--fork-period", type=int, default=1, metavar="ROUNDS",
                   help="every ROUNDS rounds (once the previous one exited) a running task "
                        "forks a task that calls the entry once and exits (sched_process_fork/"
                        "exit events); 0: never (default 1)")
    return {"tracefs": cmd_tracefs}


def cmd_tracefs(ns: argparse.Namespace) -> int:
    from ftlab.ftrace.schemes import get_scheme
    from ftlab.tracefs.fuse import import_fuse, mount, prepare_mountpoint, shell_quote
    from ftlab.tracefs.lab import Driver, Lab
    from ftlab.tracefs.model import Tracefs

    if len(ns.args) > 6:
        raise UsageError("--args takes at most 6 integers")
    for opt in ("io_period", "fork_period"):
        if not 0 <= getattr(ns, opt) <= 1_000_000:
            raise UsageError(f"--{opt.replace('_', '-')} must be between 0 and 1000000")
    scheme = get_scheme(ns.arch, ns.scheme)
    fuse = import_fuse()
    mountpoint = prepare_mountpoint(ns.mountpoint)
    lab = Lab.build(ns.files, ns.arch, ns.entry, ns.args, harts=ns.harts, scheme=scheme.name,
                    seed=ns.seed, max_insns=ns.max_insns, io_period=ns.io_period,
                    fork_period=ns.fork_period)

    def on_fault(task) -> None:
        print(task.fault.report(), file=sys.stderr, flush=True)

    lab.on_fault = on_fault
    fs = Tracefs(lab)
    args = ", ".join(str(a) for a in ns.args)
    shown = shell_quote(mountpoint)
    print(f"ftlab tracefs: {shown}: {ns.arch} ({scheme.name}), {ns.harts} hart(s) calling "
          f"{ns.entry}({args}) in a loop; unmount with `umount {shown}` or Ctrl-C",
          file=sys.stderr, flush=True)
    driver = Driver(lab).start()
    try:
        mount(fs, mountpoint, fuse)
    finally:
        driver.stop()
    if driver.error is not None:
        raise FtlabError(f"the machine stopped: {driver.error}")
    print(f"ftlab tracefs: {shown} unmounted", file=sys.stderr, flush=True)
    return 0
