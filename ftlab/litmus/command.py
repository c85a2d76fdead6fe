"""`ftlab litmus FILE.litmus ...`: herd-format litmus tests under the architectures' own models.

Exit status: 0 when every test ran (whatever its verdict), 1 when a test could not be read,
assembled or executed (the message names the file and line), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ftlab.errors import FtlabError


def cmd_litmus(ns: argparse.Namespace) -> int:
    from ftlab.litmus.run import run_litmus

    status = 0
    for i, path in enumerate(ns.files):
        try:
            result = run_litmus(path)
        except FtlabError as err:
            print(f"ftlab: error: {err}", file=sys.stderr)
            status = 1
            continue
        except Exception as err:  # noqa: BLE001 - a bug here must still not print a traceback
            print(f"ftlab: error: {path}: internal error ({type(err).__name__}: {err})",
                  file=sys.stderr)
            status = 1
            continue
        if i:
            print()
        sys.stdout.write(result.herd_text())
    return status


def register(sub, add_guest_args, add_trace_args) -> dict[str, Callable[[argparse.Namespace], int]]:
    p = sub.add_parser("litmus", help="run herd7-format litmus tests under the architecture's "
                       "own memory model", description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", metavar="FILE.litmus", help="herd7 litmus tests")
    return {"litmus": cmd_litmus}
