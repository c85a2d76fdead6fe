"""Plain-text tables for the bench commands: left-aligned label columns, right-aligned numbers,
a blank line between groups."""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def num(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def columns(head: Sequence[str], body: Sequence[Sequence[str]], left: int,
            groups: Sequence[Hashable] | None = None) -> str:
    """`left` label columns, then numbers; `groups` (one key per body row) adds a blank line
    wherever the key changes."""
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(head)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    out = [line(head), line(["-" * w for w in widths])]
    prev = None
    for i, b in enumerate(body):
        key = groups[i] if groups is not None else None
        if groups is not None and prev is not None and key != prev:
            out.append("")
        prev = key
        out.append(line(b))
    return "\n".join(out)
