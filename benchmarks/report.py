"""The cost lab report: ftrace-ops (list ops vs CALL_OPS, K irrelevant ops), text size of zstd
and BPF trampolines (when built) on every arch, written as DIR/README.md with PNG plots
(needs matplotlib). The committed example is docs/cost-lab/:

    python benchmarks/report.py -o docs/cost-lab [--quick] [--arch arm64 ...]

The same as `ftlab bench report ...`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing ftlab

from ftlab.cli import main as ftlab_main  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    return ftlab_main(["bench", "report", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
