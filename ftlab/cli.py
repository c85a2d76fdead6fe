"""The ftlab command line. Exit codes: 0 success, 1 user error or found problem, 2 usage."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ftlab.arch import ARCH_NAMES
from ftlab.errors import FtlabError, UsageError
from ftlab.machine.machine import DEFAULT_MAX_INSNS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit(2), but through our handler
        raise UsageError(f"{self.prog}: {message}")


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: '{text}'") from None


def _int_list(text: str) -> list[int]:
    if not text.strip():
        return []
    return [_int(part.strip()) for part in text.split(",")]


def _arch(text: str) -> str:
    from ftlab.arch import get_arch

    try:
        return get_arch(text).name
    except UsageError:
        raise argparse.ArgumentTypeError(
            f"unknown architecture '{text}' (valid: {', '.join(ARCH_NAMES)})") from None


def _add_guest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="guest C (.c) or assembly (.S) files")
    p.add_argument("--arch", required=True, type=_arch, help=", ".join(ARCH_NAMES))
    p.add_argument("--entry", required=True, help="the function each task calls")
    p.add_argument("--args", type=_int_list, default=[], help="up to 6 integers: A,B,...")
    p.add_argument("--harts", type=int, default=1, help="emulated harts (default 1)")
    p.add_argument("--seed", type=int, default=0, help="scheduler seed (default 0)")
    p.add_argument("--max-insns", type=int, default=DEFAULT_MAX_INSNS,
                   help=f"instruction budget per task (default {DEFAULT_MAX_INSNS})")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ftlab", description="Linux function tracing on real machine code.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="compile a guest and run an entry on emulated harts")
    _add_guest_args(run)
    demo = sub.add_parser("demo", help="run the bundled example on all three architectures")
    demo.add_argument("--arch", action="append", type=_arch, help="only these architectures")
    return parser


def cmd_run(ns: argparse.Namespace) -> int:
    from ftlab.session import load, run_entry

    if len(ns.args) > 6:
        raise UsageError("--args takes at most 6 integers")
    image = load(ns.files, ns.arch)
    result = run_entry(image, ns.entry, ns.args, harts=ns.harts, seed=ns.seed,
                       max_insns=ns.max_insns)
    for fault in result.faults:
        print(fault.report(), file=sys.stderr)
    for line in result.lines():
        print(line)
    return 1 if result.faults else 0


def cmd_demo(ns: argparse.Namespace) -> int:
    from ftlab.demo import run_demo

    return run_demo(ns.arch or list(ARCH_NAMES))


COMMANDS = {"run": cmd_run, "demo": cmd_demo}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
        if getattr(ns, "harts", 1) < 1:
            raise UsageError("--harts must be at least 1")
        return COMMANDS[ns.command](ns)
    except FtlabError as err:
        print(f"ftlab: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
