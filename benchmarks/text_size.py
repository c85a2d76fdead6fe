"""Text size of a C code base without patchable entries, with the plain ftrace layout and with
the CALL_OPS layout, per arch (ftlab.bench.text_size). Without FILES: the zstd sources from the
`zstandard` sdist on PyPI (fetched into the ftlab cache; skipped with a message if that fails).

    python benchmarks/text_size.py [--arch arm64 ...] [--format json] [FILES...]

The same as `ftlab bench text-size ...`.
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
    return ftlab_main(["bench", "text-size", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
