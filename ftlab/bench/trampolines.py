"""BPF trampoline costs: the interface the cost lab calls; the measurements live in ftlab.bpf.

Two entry points, both raising FtlabError("BPF trampolines are not built yet") while the
package ftlab.bpf has no `attach` module:

run_trampolines(arch) -> list[dict]
    Per-call cost of one empty program on one traced function, one dict per configuration,
    the untraced one first. Keys each dict must have (the measuring side fills these):

      config                 "untraced", "fentry", "fexit", "fmod_ret", "function-tracer"
                             or "direct" (a bare ftrace direct call, no program)
      scheme                 the ftrace scheme the trampolines were attached through
      instructions_per_call  guest instructions per call of the traced function, loop
                             included, exact and deterministic (int, or float if not whole)
      ns_per_call            wall ns per call on this machine (float; None if not timed)

    Optional: `label` (default: config), `programs` (programs attached, default 1). The bench
    adds arch, relevant (1 for a traced row, 0 untraced), irrelevant (0), traced,
    overhead_instructions / overhead_ns (minus the untraced row) and relative_instructions /
    relative_ns (over the untraced row).

run_attach(arch, n) -> dict
    One program (fentry) attached to n functions, then detached; compile and DWARF parsing
    excluded. Keys the measuring side fills:

      functions        functions attached (n)
      trampolines      trampolines generated
      attach_seconds   wall seconds to attach all n
      detach_seconds   wall seconds to detach all n

    Optional: `scheme`, `images_bytes` (trampoline image bytes in all). The bench adds
    arch, attach_us_per_function and detach_us_per_function, and the common bench keys
    (relevant = functions, irrelevant 0, traced true, instructions_per_call and ns_per_call
    None) so a JSON list of bench rows keeps one shape.

To wire the real measurements, replace the bodies of `_measure_trampolines` and
`_measure_attach` below; everything else (checks, derived keys, CLI, report) is in place.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from ftlab.bench.table import columns
from ftlab.bench.table import num as _num
from ftlab.errors import FtlabError, UsageError

CONFIGS = ("untraced", "fentry", "fexit", "fmod_ret", "function-tracer", "direct")
TRAMPOLINE_KEYS = ("config", "scheme", "instructions_per_call", "ns_per_call")
ATTACH_KEYS = ("functions", "trampolines", "attach_seconds", "detach_seconds")
NOT_BUILT = "BPF trampolines are not built yet"

# Published x86_64 BPF trigger benchmark: M calls/s, one run (docs/background.md)
LINUX_TRIGGER_MCALLS = {"fentry": 103.0, "fexit": 55.0, "fmod_ret": 58.6}


def available() -> bool:
    """Whether ftlab.bpf.attach exists (so the trampoline benchmarks can run)."""
    try:
        return importlib.util.find_spec("ftlab.bpf.attach") is not None
    except ModuleNotFoundError:
        return False


def _require() -> None:
    if not available():
        raise FtlabError(NOT_BUILT)


# --- the wiring point ---------------------------------------------------------------------------
def _measure_trampolines(arch: str) -> list[dict]:
    """The rows of run_trampolines (see the module docstring), from ftlab.bpf."""
    from ftlab.bpf.bench import measure_trampolines

    return measure_trampolines(arch)


def _measure_attach(arch: str, n: int) -> dict:
    """The dict of run_attach (see the module docstring), from ftlab.bpf."""
    from ftlab.bpf.bench import measure_attach

    return measure_attach(arch, n)


# --- checks and derived keys --------------------------------------------------------------------
def _missing(row: dict, keys: Sequence[str], what: str) -> None:
    missing = [k for k in keys if k not in row]
    if missing:
        raise FtlabError(f"{what}: the measurement lacks {', '.join(missing)}")


def finish_trampoline_rows(arch: str, rows: Sequence[dict]) -> list[dict]:
    """Check the measured rows and add the bench's common and derived keys."""
    if not rows:
        raise FtlabError("trampolines: no rows measured")
    out = []
    for r in rows:
        _missing(r, TRAMPOLINE_KEYS, f"trampolines {r.get('config', '?')}")
        if r["config"] not in CONFIGS:
            raise FtlabError(f"trampolines: unknown configuration {r['config']!r}")
        out.append(dict(r))
    base = next((r for r in out if r["config"] == "untraced"), None)
    if base is None:
        raise FtlabError("trampolines: no untraced row to compare with")
    out.sort(key=lambda r: CONFIGS.index(r["config"]))
    for r in out:
        traced = r["config"] != "untraced"
        r.setdefault("label", r["config"])
        r.setdefault("programs", 1 if r["config"] in ("fentry", "fexit", "fmod_ret") else 0)
        r.update(arch=arch, relevant=1 if traced else 0, irrelevant=0, traced=traced)
        bi, bn = base["instructions_per_call"], base["ns_per_call"]
        ri, rn = r["instructions_per_call"], r["ns_per_call"]
        r["overhead_instructions"] = ri - bi
        r["relative_instructions"] = round(ri / bi, 4) if bi else None
        r["overhead_ns"] = None if rn is None or bn is None else round(rn - bn, 3)
        r["relative_ns"] = None if rn is None or not bn else round(rn / bn, 4)
    return out


def finish_attach(arch: str, n: int, res: dict) -> dict:
    _missing(res, ATTACH_KEYS, "attach")
    out = dict(res)
    funcs = out["functions"] or n
    out.setdefault("scheme", None)
    out.update(arch=arch, config="attach", label=f"attach {funcs} functions",
               relevant=funcs, irrelevant=0, traced=True, instructions_per_call=None,
               ns_per_call=None)
    out["attach_us_per_function"] = round(1e6 * out["attach_seconds"] / funcs, 3) \
        if funcs else None
    out["detach_us_per_function"] = round(1e6 * out["detach_seconds"] / funcs, 3) \
        if funcs else None
    return out


# --- the interface ------------------------------------------------------------------------------
def run_trampolines(arch: str) -> list[dict]:
    """Per-call costs of fentry, fexit, fmod_ret, the function tracer and a direct call next
    to untraced (see the module docstring for the keys)."""
    _require()
    return finish_trampoline_rows(arch, _measure_trampolines(arch))


def run_attach(arch: str, n: int) -> dict:
    """Attach and detach time of one program on n functions (see the module docstring)."""
    if n < 1:
        raise UsageError("--functions must be at least 1")
    _require()
    return finish_attach(arch, n, _measure_attach(arch, n))


def format_trampolines(rows: Sequence[dict]) -> str:
    head = ("arch", "configuration", "insn/call", "+insn", "x untraced", "ns/call", "+ns")
    body = [(r["arch"], r["label"], _num(r["instructions_per_call"], "g"),
             _num(r["overhead_instructions"], "+g"), _num(r["relative_instructions"], ".2f"),
             _num(r["ns_per_call"], ".1f"), _num(r["overhead_ns"], "+.1f")) for r in rows]
    return columns(head, body, 2)


def format_attach(res: dict) -> str:
    return (f"{res['arch']}: one program on {res['functions']} functions: "
            f"{res['trampolines']} trampolines, attach {res['attach_seconds']:.3f} s "
            f"({_num(res['attach_us_per_function'], '.1f')} us/function), detach "
            f"{res['detach_seconds']:.3f} s "
            f"({_num(res['detach_us_per_function'], '.1f')} us/function)")
