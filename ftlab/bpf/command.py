"""`ftlab attach`: run an entry with BPF programs attached, print the trace."""

from __future__ import annotations

import argparse
import sys

from ftlab.bpf.attach import BpfManager, find_programs
from ftlab.bpf.verifier import check_sections
from ftlab.errors import FtlabError, UsageError


def register(sub, add_guest_args, add_trace_args) -> dict:
    p = sub.add_parser("attach", help="run an entry with BPF fentry/fexit/fmod_ret programs")
    add_guest_args(p)
    add_trace_args(p)
    for kind in ("fentry", "fexit", "fmod-ret"):
        p.add_argument(f"--{kind}", action="append", default=[], metavar="FUNC:PROG",
                       help=f"attach PROG as {kind.replace('-', '_')} on FUNC")
    p.add_argument("--multi", action="append", default=[], metavar="GLOB:PROG",
                   help="attach PROG (fentry or fexit, from its SEC) on every match")
    p.add_argument("--kfunc-style", action="store_true",
                   help="trampolines entered by a plain call: one ordinary frame")
    p.add_argument("--legacy-frames", action="store_true",
                   help="the pre-fix frames: the traced function's caller is lost")
    p.add_argument("--list-trampolines", action="store_true",
                   help="print functions, layouts, programs with their recursion_misses "
                   "and each trampoline disassembled (after the run)")
    p.set_defaults(tracer="nop")
    return {"attach": run}


def _pair(text: str, what: str) -> tuple[str, str]:
    left, sep, right = text.partition(":")
    if not sep or not left or not right:
        raise UsageError(f"{what} takes FUNC:PROG (or GLOB:PROG), got '{text}'")
    return left, right


def run(ns: argparse.Namespace) -> int:
    from ftlab.tracing import TraceConfig, TraceSession, write_output

    if ns.kfunc_style and ns.legacy_frames:
        raise UsageError("--kfunc-style and --legacy-frames are different frame shapes")
    tracer = ns.tracer if ns.tracer != "function" or ns.filter else "nop"
    config = TraceConfig(tracer=tracer, filters=ns.filter, notrace=ns.notrace,
                         options=ns.option, clock=ns.clock, buffer_kb=ns.buffer_size_kb)
    session = TraceSession(ns.files, ns.arch, scheme=ns.scheme, harts=ns.harts, seed=ns.seed,
                           max_insns=ns.max_insns, config=config)
    image = session.image
    frames = "plain" if ns.kfunc_style else ("legacy" if ns.legacy_frames else "entry")
    bpf = BpfManager(session.ftrace, frames=frames)
    programs = {p.name: p for p in find_programs(image)}
    manual = [("fentry", x) for x in ns.fentry] + [("fexit", x) for x in ns.fexit] + [
        ("fmod_ret", x) for x in ns.fmod_ret]
    for kind, text in manual:
        func, prog = _pair(text, f"--{kind.replace('_', '-')}")
        sym = image.symbols.get(prog)
        if prog not in programs and (sym is None or not sym.is_func):
            raise FtlabError(f"--{kind.replace('_', '-')}: no program '{prog}'")
        addr = programs[prog].addr if prog in programs else image.function(prog).addr
        bpf.attach((kind, addr), func)
    for text in ns.multi:
        glob, prog = _pair(text, "--multi")
        if prog not in programs:
            raise FtlabError(f"--multi needs a program in a SEC(\"fentry...\") or "
                             f"SEC(\"fexit...\") section; '{prog}' is not one")
        bpf.attach_multi(programs[prog], glob)
    if not manual and not ns.multi:  # as a skeleton: every SEC program
        check_sections(image)
        if not programs:
            raise FtlabError("no BPF programs found: mark them SEC(\"fentry/FUNC\") etc., or "
                             "attach by hand with --fentry/--fexit/--fmod-ret FUNC:PROG")
        for prog in programs.values():
            if prog.multi:
                bpf.attach_multi(prog, prog.target)
            else:
                bpf.attach(prog, prog.target)
    bpf.commit()
    result = session.run(ns.entry, ns.args)
    rc = write_output(session.render(ns.format), result, ns.output)
    # the attach summary, beside the results: where each program runs, its recursion misses
    print(bpf.summary(), file=sys.stdout if ns.output else sys.stderr)
    if ns.list_trampolines:
        print(bpf.describe())
    return rc
