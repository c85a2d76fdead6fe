"""Relations over a candidate execution's events as bitsets: `rel[i]` holds the successors of i.

Small and dense (a litmus execution has a few dozen events), so a list of Python ints is both the
simplest and the fastest representation for union, sequence, closure and cycle checks.
"""

from __future__ import annotations

from collections.abc import Iterable

Rel = list[int]


def empty(n: int) -> Rel:
    return [0] * n


def from_pairs(n: int, pairs: Iterable[tuple[int, int]]) -> Rel:
    rel = [0] * n
    for a, b in pairs:
        rel[a] |= 1 << b
    return rel


def union(*rels: Rel) -> Rel:
    out = list(rels[0])
    for rel in rels[1:]:
        for i, succ in enumerate(rel):
            out[i] |= succ
    return out


def seq(a: Rel, b: Rel) -> Rel:
    """a ; b"""
    out = [0] * len(a)
    for i, succ in enumerate(a):
        acc = 0
        while succ:
            low = succ & -succ
            acc |= b[low.bit_length() - 1]
            succ ^= low
        out[i] = acc
    return out


def restrict(rel: Rel, dom: int, rng: int) -> Rel:
    """[dom] ; rel ; [rng] for event sets given as bitmasks."""
    return [(succ & rng) if (dom >> i) & 1 else 0 for i, succ in enumerate(rel)]


def closure(rel: Rel) -> Rel:
    """Transitive closure (Warshall over bit rows)."""
    out = list(rel)
    for k in range(len(out)):
        bit = 1 << k
        row = out[k]
        for i in range(len(out)):
            if out[i] & bit:
                out[i] |= row
    return out


def acyclic(rel: Rel) -> bool:
    """No cycle (Kahn's algorithm on the bit rows)."""
    n = len(rel)
    indeg = [0] * n
    for succ in rel:
        while succ:
            low = succ & -succ
            indeg[low.bit_length() - 1] += 1
            succ ^= low
    ready = [i for i in range(n) if indeg[i] == 0]
    seen = 0
    while ready:
        i = ready.pop()
        seen += 1
        succ = rel[i]
        while succ:
            low = succ & -succ
            j = low.bit_length() - 1
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(j)
            succ ^= low
    return seen == n


def inverse(rel: Rel) -> Rel:
    out = [0] * len(rel)
    for i, succ in enumerate(rel):
        while succ:
            low = succ & -succ
            out[low.bit_length() - 1] |= 1 << i
            succ ^= low
    return out


def bits(mask: int) -> Iterable[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low
