"""set_ftrace_filter syntax: `name`, `pre*`, `*suf`, `*mid*`, `!glob` removes
(kernel/trace/ftrace.c ftrace_match / filter_parse_regex)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable


def match(pattern: str, name: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern)


def apply_filter(current: set[str], patterns: Iterable[str], names: Iterable[str],
                 append: bool) -> tuple[set[str], list[str]]:
    """The new set after writing `patterns` (replacing or appending), and the patterns that
    matched no function (the kernel fails such a write with -EINVAL)."""
    names = list(names)
    known = set(names)
    result = set(current) if append else set()
    unmatched = []
    for raw in patterns:
        pat = raw.strip()
        if not pat:
            continue
        negate = pat.startswith("!")
        if negate:
            pat = pat[1:]
        if any(c in pat for c in "*?["):
            hits = {n for n in names if match(pat, n)}
        else:  # a plain name: no scan (mass attach names thousands of functions)
            hits = {pat} if pat in known else set()
        if not hits:
            unmatched.append(raw)
            continue
        if negate:
            result -= hits
        else:
            result |= hits
    return result, unmatched
