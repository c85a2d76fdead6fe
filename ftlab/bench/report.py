"""The cost lab report: runs the bench suite on every arch and writes DIR/README.md with
tables and PNG plots (matplotlib, Agg backend, imported only here and only when plotting).

    ftlab bench report -o docs/cost-lab

Suite: ftrace-ops (ftlab.bench.ftrace_ops) with the CALL_OPS and list-ops schemes of every
arch, 1 relevant empty callback and K irrelevant ops (default 0, 1, 10, 100), plus 10
relevant, the function tracer and a direct call; text size (ftlab.bench.text_size) of zstd;
BPF trampolines (ftlab.bench.trampolines) when ftlab.bpf provides them. The kernel's published
points (LINUX_POINTS, docs/background.md "Published figures") are drawn beside ftlab's.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ftlab.arch import get_arch
from ftlab.bench import ftrace_ops as fo
from ftlab.bench import text_size as ts
from ftlab.bench import timing
from ftlab.bench import trampolines as tr
from ftlab.bench.progress import Progress
from ftlab.errors import FtlabError

ARCHES = fo.ARCHES
DPI = 100
REPEAT = 5  # best of 5 (ftrace_ops uses 3): the machine may be shared
FLAT_TOLERANCE = 0.10  # "does not change with 0 to 100 irrelevant ops (within 10%)"

# The kernel's published per-call figures, ns (docs/background.md, "Published figures").
# `list` is the build without CALL_OPS, `call_ops` with it; keys are irrelevant-ops counts
# with one relevant (empty) tracer.
LINUX_POINTS = {
    "arm64": {
        "machine": "Apple M1 (QEMU/HVF guest)",
        "source": "arm64 CALL_OPS commit message",
        "baseline": 0.95,  # derived: 2.81 ns traced minus the quoted 1.86 ns overhead
        "call_ops": {0: 2.81, 100: 2.81},
        "list": {0: 14.32, 100: 1064.43},
        "quoted_ratio": (13.37, 1.86),
    },
    "riscv64": {
        "machine": "SpacemiT K1",
        "source": "riscv64 CALL_OPS series",
        "baseline": 13.0,
        "call_ops": {0: 52.0, 10: 52.0, 100: 52.0},
        "list": {0: 135.0, 10: 588.0, 100: 5051.0},
        "quoted_ratio": (122.0, 38.0),
    },
}


@dataclass
class ReportConfig:
    arches: Sequence[str] = ARCHES
    irrelevant: Sequence[int] = (0, 1, 10, 100)
    many_relevant: Sequence[int] = (10,)
    direct: bool = True
    tracer: bool = True
    quick: bool = False
    timed: bool = True
    repeat: int | None = None  # timed runs per configuration, best taken (None: REPEAT)
    clock: str = "cpu"  # "cpu": the emulating thread's CPU time; "wall": wall time
    text_size: bool = True
    text_size_files: Sequence[str | Path] | None = None  # None: zstd from PyPI
    fetch: bool = True
    jobs: int | None = None
    trampolines: bool = True


@dataclass
class Results:
    config: dict
    ftrace_rows: list[dict]
    text_rows: list[dict]
    text_note: str
    tramp_rows: list[dict]
    tramp_note: str
    started: str
    seconds: float
    machine: dict


# --- running the suite --------------------------------------------------------------------------
def _ftrace_plan(cfg: ReportConfig) -> list[tuple[str, str, int]]:
    from ftlab.ftrace.schemes import get_scheme

    plan = []
    for arch in cfg.arches:
        for scheme in fo.bench_schemes(arch):
            direct = cfg.direct and get_scheme(arch, scheme).direct_calls
            n = len(fo.make_configs(1, cfg.irrelevant, direct, cfg.tracer, cfg.many_relevant))
            plan.append((arch, scheme, n))
    return plan


def _machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for pkg in ("unicorn", "capstone", "ziglang", "matplotlib"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"cpu": cpu, "cpus": os.cpu_count(), "load": load,
            "python": platform.python_version(), **versions}


def run_suite(cfg: ReportConfig, log: Callable[[str], None] | None = None,
              show_progress: bool | None = None) -> Results:
    start = time.perf_counter()
    started = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_before = _machine()["load"]
    plan = _ftrace_plan(cfg)
    text_files: list[Path] = []
    text_note = ""
    code_base = ""
    if cfg.text_size:
        try:
            if cfg.text_size_files is None:
                text_files = ts.zstd_sources(fetch=cfg.fetch, log=log)
                code_base = f"zstd (zstandard {ts.ZSTANDARD_VERSION} sdist)"
            else:
                text_files = ts.expand_files(cfg.text_size_files)
                code_base = ", ".join(Path(f).name for f in text_files)
        except ts.SourcesUnavailable as err:
            text_note = f"skipped: {err}"
            text_files = []
    else:
        text_note = "not run (--no-text-size)"
    text_steps = sum(len(ts.variants(get_arch(a))) for a in cfg.arches) * len(text_files)
    repeat = _repeat(asdict(cfg))
    total = (sum(1 + (n * repeat if cfg.timed else 0) for *_, n in plan) + text_steps
             + (len(cfg.arches) if cfg.trampolines else 0))
    ftrace_rows: list[dict] = []
    text_rows: list[dict] = []
    tramp_rows: list[dict] = []
    tramp_note = ""
    with Progress(total, "bench report", enabled=show_progress) as prog:
        for arch, scheme, _n in plan:
            prog.set_label(f"ftrace-ops {arch} {scheme}")
            if cfg.timed:
                ftrace_rows += timing.run_timed(
                    arch, scheme, irrelevant=cfg.irrelevant, many_relevant=cfg.many_relevant,
                    direct=cfg.direct, tracer=cfg.tracer, quick=cfg.quick, repeat=repeat,
                    clock_name=cfg.clock, progress=prog.advance)
            else:
                ftrace_rows += fo.run_ftrace_ops(
                    arch, scheme, relevant=1, irrelevant=cfg.irrelevant, direct=cfg.direct,
                    tracer=cfg.tracer, timed=False, many_relevant=cfg.many_relevant)
                prog.advance(f"{arch} {scheme} counted")
        if text_files:
            text_rows = ts.run_text_size(cfg.arches, text_files, code_base=code_base,
                                         jobs=cfg.jobs, keep_going=True,
                                         progress=lambda lbl: prog.advance(f"text-size {lbl}"),
                                         log=log)
        if cfg.trampolines:
            try:
                for arch in cfg.arches:
                    prog.set_label(f"trampolines {arch}")
                    tramp_rows += tr.run_trampolines(arch)
                    prog.advance()
            except FtlabError as err:
                tramp_note = f"not available: {err}"
                tramp_rows = []
        else:
            tramp_note = "not run (--no-trampolines)"
    conf = asdict(cfg)
    conf["text_size_files"] = (None if cfg.text_size_files is None
                               else [str(f) for f in cfg.text_size_files])
    machine = _machine()
    machine["load_before"] = load_before
    return Results(conf, ftrace_rows, text_rows, text_note, tramp_rows, tramp_note, started,
                   round(time.perf_counter() - start, 1), machine)


# --- analysis -----------------------------------------------------------------------------------
def _ops_rows(rows: Sequence[dict], arch: str, scheme: str, relevant: int = 1) -> dict[int, dict]:
    return {r["irrelevant"]: r for r in rows if r["arch"] == arch and r["scheme"] == scheme
            and r["config"] == "ops" and r["relevant"] == relevant}


def _untraced(rows: Sequence[dict], arch: str, scheme: str) -> dict | None:
    return next((r for r in rows if r["arch"] == arch and r["scheme"] == scheme
                 and r["config"] == "untraced"), None)


def _spread(values: Sequence[float]) -> float | None:
    vals = [v for v in values if v is not None]
    if len(vals) < 2 or min(vals) <= 0:
        return None
    return (max(vals) - min(vals)) / min(vals)


def _fit(points: Sequence[tuple[float, float]]) -> tuple[float, float, float] | None:
    """Least squares y = a + b x: (a, b, r2)."""
    pts = [(x, y) for x, y in points if y is not None]
    if len(pts) < 2:
        return None
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    if sxx == 0:
        return None
    b = sum((x - mx) * (y - my) for x, y in pts) / sxx
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for _, y in pts)
    ss_res = sum((y - a - b * x) ** 2 for x, y in pts)
    r2 = 1.0 - ss_res / ss_tot if ss_tot else 1.0
    return a, b, r2


def analyze(rows: Sequence[dict]) -> list[dict]:
    """Per arch: the list/CALL_OPS overhead ratio at K=0, the CALL_OPS spread over K, the list
    ops growth per irrelevant op, next to Linux's."""
    out = []
    arches = [a for a in ARCHES if any(r["arch"] == a for r in rows)]
    for arch in arches:
        cscheme = fo.CALL_OPS_SCHEME.get(arch)
        lscheme = fo.LIST_SCHEME[arch]
        entry: dict = {"arch": arch, "call_ops_scheme": cscheme, "list_scheme": lscheme}
        lops = _ops_rows(rows, arch, lscheme)
        cops = _ops_rows(rows, arch, cscheme) if cscheme else {}
        lbase, cbase = _untraced(rows, arch, lscheme), (_untraced(rows, arch, cscheme)
                                                         if cscheme else None)
        for unit, key in (("insns", "instructions_per_call"), ("ns", "ns_per_call")):
            okey = "overhead_instructions" if unit == "insns" else "overhead_ns"
            ratio = None
            if 0 in lops and 0 in cops:
                lo, co = lops[0][okey], cops[0][okey]
                if lo is not None and co:
                    ratio = lo / co
            entry[f"ratio_{unit}"] = ratio
            entry[f"call_ops_spread_{unit}"] = _spread([r[key] for r in cops.values()])
            entry[f"call_ops_{unit}"] = {k: r[key] for k, r in sorted(cops.items())}
            entry[f"list_{unit}"] = {k: r[key] for k, r in sorted(lops.items())}
            pts = [(k, r[key]) for k, r in sorted(lops.items()) if k >= 1]
            fit = _fit(pts) if len(pts) >= 2 else None
            entry[f"list_slope_{unit}"] = fit[1] if fit else None
            entry[f"list_r2_{unit}"] = fit[2] if fit else None
            entry[f"untraced_{unit}"] = (lbase or cbase or {}).get(key)
        lin = LINUX_POINTS.get(arch)
        if lin:
            q = lin["quoted_ratio"]
            entry["linux_ratio"] = q[0] / q[1]
            entry["linux_quoted"] = q
            lp = sorted(lin["list"].items())
            entry["linux_slope_ns"] = (lp[-1][1] - lp[0][1]) / (lp[-1][0] - lp[0][0])
            entry["linux_machine"] = lin["machine"]
        out.append(entry)
    return out


# --- plots --------------------------------------------------------------------------------------
def require_matplotlib() -> None:
    _pyplot()


def _pyplot():
    try:
        import matplotlib
    except ImportError as err:
        raise FtlabError("the report's plots need matplotlib: pip install matplotlib "
                         "(or the `bench` extra: pip install -e '.[bench]')") from err
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _xaxis(ax, ks: Sequence[int]) -> None:
    ax.set_xscale("symlog", linthresh=1)
    ticks = sorted(set(ks) | {0})
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(k) for k in ticks])
    ax.set_xlabel("irrelevant ops (K), 1 relevant empty callback")
    ax.grid(True, which="major", alpha=0.3)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def _series(rows: Sequence[dict], key: str):
    """(arch, scheme, call_ops, [(K, value)]) per ops line, CALL_OPS first."""
    out = []
    for arch in ARCHES:
        for scheme in fo.bench_schemes(arch):
            pts = [(k, r[key]) for k, r in sorted(_ops_rows(rows, arch, scheme).items())
                   if r[key] is not None]
            if pts:
                out.append((arch, scheme, scheme == fo.CALL_OPS_SCHEME.get(arch), pts))
    return out


def _line_label(arch: str, scheme: str, call_ops: bool) -> str:
    return f"{arch} {'CALL_OPS' if call_ops else 'list ops'} ({scheme})"


def plot_ftrace(rows: Sequence[dict], out: Path, ks: Sequence[int]) -> list[Path]:
    plt = _pyplot()
    paths = []
    # instructions
    fig, ax = plt.subplots(figsize=(8, 4.6))
    for arch, scheme, cops, pts in _series(rows, "instructions_per_call"):
        ax.plot([k for k, _ in pts], [v for _, v in pts], color=get_arch(arch).color,
                linestyle="-" if cops else "--", marker="o" if cops else "s",
                label=_line_label(arch, scheme, cops))
    _xaxis(ax, ks)
    ax.set_yscale("log")
    ax.set_ylabel("guest instructions per call (exact)")
    ax.set_title("ftlab: per-call cost in instructions, list ops vs CALL_OPS")
    ax.legend(fontsize=8)
    paths.append(_save(fig, out / "ftrace_ops_instructions.png"))
    # ns, with Linux's published points in a panel beside
    series = _series(rows, "ns_per_call")
    if series:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.6))
        for arch, scheme, cops, pts in series:
            ax1.plot([k for k, _ in pts], [v for _, v in pts], color=get_arch(arch).color,
                     linestyle="-" if cops else "--", marker="o" if cops else "s",
                     label=_line_label(arch, scheme, cops))
        _xaxis(ax1, ks)
        ax1.set_yscale("log")
        ax1.set_ylabel("ns per call")
        ax1.set_title("ftlab (Unicorn on this machine)", fontsize=10)
        ax1.legend(fontsize=7)
        for arch, lin in LINUX_POINTS.items():
            for kind, cops in (("call_ops", True), ("list", False)):
                pts = sorted(lin[kind].items())
                ax2.plot([k for k, _ in pts], [v for _, v in pts], color=get_arch(arch).color,
                         linestyle="-" if cops else "--", marker="o" if cops else "s",
                         markerfacecolor="none",
                         label=f"Linux {arch} {'CALL_OPS' if cops else 'list ops'}, "
                               f"{lin['machine']}")
        _xaxis(ax2, sorted({k for lin in LINUX_POINTS.values() for k in lin["list"]}))
        ax2.set_yscale("log")
        ax2.set_ylabel("ns per call")
        ax2.set_title("Linux, published figures", fontsize=10)
        ax2.legend(fontsize=7)
        fig.suptitle("Per-call cost in ns against irrelevant ops", fontsize=11)
        paths.append(_save(fig, out / "ftrace_ops_ns.png"))
    # overhead relative to CALL_OPS at K=0: ftlab's instructions and Linux's ns on one axis
    fig, ax = plt.subplots(figsize=(8, 4.6))
    drawn = False
    for arch, cscheme in fo.CALL_OPS_SCHEME.items():
        cops = _ops_rows(rows, arch, cscheme)
        if 0 not in cops or not cops[0]["overhead_instructions"]:
            continue
        unit = cops[0]["overhead_instructions"]
        for scheme, is_cops in ((cscheme, True), (fo.LIST_SCHEME[arch], False)):
            pts = [(k, r["overhead_instructions"] / unit)
                   for k, r in sorted(_ops_rows(rows, arch, scheme).items())]
            if pts:
                ax.plot([k for k, _ in pts], [v for _, v in pts], color=get_arch(arch).color,
                        linestyle="-" if is_cops else "--", marker="o" if is_cops else "s",
                        label=f"ftlab {arch} {'CALL_OPS' if is_cops else 'list ops'} "
                              "(instructions)")
                drawn = True
        lin = LINUX_POINTS.get(arch)
        if lin:
            lunit = lin["call_ops"][0] - lin["baseline"]
            for kind, is_cops in (("call_ops", True), ("list", False)):
                pts = [(k, (v - lin["baseline"]) / lunit) for k, v in sorted(lin[kind].items())]
                ax.plot([k for k, _ in pts], [v for _, v in pts], color=get_arch(arch).color,
                        linestyle=":", marker="D" if is_cops else "^", markerfacecolor="none",
                        markersize=8,
                        label=f"Linux {arch} {'CALL_OPS' if is_cops else 'list ops'} "
                              f"(ns, {lin['machine']})")
    if drawn:
        _xaxis(ax, sorted(set(ks) | {0, 10, 100}))
        ax.set_yscale("log")
        ax.set_ylabel("per-call overhead / CALL_OPS overhead at K=0")
        ax.set_title("Overhead relative to CALL_OPS with one tracer: ftlab and Linux")
        ax.legend(fontsize=7)
        paths.append(_save(fig, out / "ftrace_ops_relative.png"))
    else:
        plt.close(fig)
    return paths


def plot_text_size(rows: Sequence[dict], out: Path) -> Path | None:
    if not rows:
        return None
    plt = _pyplot()
    groups: dict[tuple[str, str], dict[str, dict]] = {}
    for r in rows:
        groups.setdefault((r["arch"], r["family"]), {})[r["kind"]] = r
    names = [f"{a}{' (RVC)' if f == 'rvc' else ''}" for a, f in groups]
    fig, ax = plt.subplots(figsize=(8, 4.4))
    width = 0.38
    for j, (kind, label, hatch) in enumerate((("plain", "plain ftrace layout", ""),
                                              ("call-ops", "CALL_OPS layout", "//"))):
        xs, ys, notes = [], [], []
        for i, g in enumerate(groups.values()):
            r = g.get(kind)
            if r is None or r["overhead_pct"] is None:
                continue
            xs.append(i + (j - 0.5) * width)
            ys.append(r["overhead_pct"])
            notes.append(f"{r['patchable']}\n+{r['overhead_bytes_per_function']:.1f} B/fn")
        bars = ax.bar(xs, ys, width, label=label, hatch=hatch,
                      color=["tab:gray" if kind == "plain" else "tab:purple"] * len(xs),
                      alpha=0.8)
        for b, note in zip(bars, notes, strict=True):
            ax.annotate(note, (b.get_x() + b.get_width() / 2, b.get_height()),
                        ha="center", va="bottom", fontsize=7, xytext=(0, 2),
                        textcoords="offset points")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names)
    ax.set_ylabel(".text growth over no patchable entries (%)")
    funcs = sorted({r["functions"] for r in rows})
    nfuncs = str(funcs[0]) if len(funcs) == 1 else f"{funcs[0]}-{funcs[-1]}"
    ax.set_title(f"Text size cost of patchable entries: {rows[0]['code_base']}, "
                 f"{nfuncs} functions", fontsize=10)
    ax.set_ylim(0, max((r["overhead_pct"] or 0) for r in rows) * 1.3 + 0.1)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, out / "text_size.png")


def plot_trampolines(rows: Sequence[dict], out: Path) -> Path | None:
    traced = [r for r in rows if r["traced"]]
    if not traced:
        return None
    plt = _pyplot()
    configs = [c for c in tr.CONFIGS if c != "untraced" and any(r["config"] == c for r in traced)]
    arches = [a for a in ARCHES if any(r["arch"] == a for r in traced)]
    fig, ax = plt.subplots(figsize=(8, 4.4))
    width = 0.8 / max(len(arches), 1)
    for j, arch in enumerate(arches):
        vals = {r["config"]: r["overhead_instructions"] for r in traced if r["arch"] == arch}
        xs = [i + (j - (len(arches) - 1) / 2) * width for i, c in enumerate(configs) if c in vals]
        ax.bar(xs, [vals[c] for c in configs if c in vals], width, color=get_arch(arch).color,
               label=arch)
    ax.set_xticks(range(len(configs)))
    ax.set_xticklabels(configs)
    ax.set_ylabel("instructions per call over untraced")
    ax.set_title("BPF trampolines: per-call overhead (empty programs)")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, out / "trampolines.png")


# --- Markdown -----------------------------------------------------------------------------------
def _md_table(head: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join(":---" if i < left else "---:" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _f(v: float | None, fmt: str = ".1f", suffix: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, fmt) + suffix


def _load(load: Sequence[float] | None) -> str:
    return "?" if not load else "/".join(f"{x:.2f}" for x in load)


def _clock_text(cfg: dict) -> str:
    if cfg.get("clock", "cpu") == "wall":
        return "wall time"
    return ("the emulating thread's CPU time (Unicorn runs on the calling thread; unlike wall "
            "time it does not count the time other processes on a shared machine took)")


def _repeat(cfg: dict) -> int:
    if cfg.get("repeat"):
        return cfg["repeat"]
    return fo.QUICK_REPEAT if cfg["quick"] else REPEAT


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _headline(analysis: Sequence[dict], ks: Sequence[int]) -> str:
    krange = f"K = {min(ks)}..{max(ks)}" if ks else "K"
    head = ("arch", "list / CALL_OPS overhead, 1 tracer: instructions", "ns (ftlab)",
            "Linux (ns)", f"CALL_OPS spread over {krange}: instructions", "ns",
            "list ops per irrelevant op: instructions", "ns (ftlab)", "ns (Linux)")
    body = []
    for a in analysis:
        lin = a.get("linux_quoted")
        body.append((
            a["arch"],
            _f(a["ratio_insns"], ".2f", "x") if a["call_ops_scheme"] else "no CALL_OPS",
            _f(a["ratio_ns"], ".2f", "x") if a["call_ops_scheme"] else "-",
            f"{lin[0] / lin[1]:.1f}x ({lin[0]:g} vs {lin[1]:g}, {a['linux_machine']})"
            if lin else "-",
            _pct(a["call_ops_spread_insns"]), _pct(a["call_ops_spread_ns"]),
            _f(a["list_slope_insns"], ".1f") + (f" (R² {a['list_r2_insns']:.4f})"
                                                if a["list_r2_insns"] is not None else ""),
            _f(a["list_slope_ns"], ".1f") + (f" (R² {a['list_r2_ns']:.3f})"
                                             if a["list_r2_ns"] is not None else ""),
            _f(a.get("linux_slope_ns"), ".1f"),
        ))
    return _md_table(head, body)


def _checks(analysis: Sequence[dict]) -> list[str]:
    out = []
    for a in analysis:
        if not a["call_ops_scheme"]:
            continue
        si, sn = a["call_ops_spread_insns"], a["call_ops_spread_ns"]
        flat_i = si is not None and si <= FLAT_TOLERANCE
        flat_n = sn is not None and sn <= FLAT_TOLERANCE
        out.append(f"- {a['arch']}: CALL_OPS cost of one relevant tracer over the measured K: "
                   f"instructions {'flat' if flat_i else 'NOT flat'} ({_pct(si)} spread), "
                   f"ns {'flat' if flat_n else 'NOT flat' if sn is not None else 'not timed'}"
                   f" ({_pct(sn)} spread; tolerance {FLAT_TOLERANCE:.0%})"
                   + ("; the instruction counts are identical for every K, so the ns spread "
                      "is timing noise (other load on the machine)" if flat_i and sn is not None
                      and not flat_n else "") + ".")
        r2 = a["list_r2_insns"]
        if r2 is not None:
            out.append(f"- {a['arch']}: list ops grow linearly with K: "
                       f"+{a['list_slope_insns']:.1f} instructions per irrelevant op "
                       f"(R² {r2:.4f} over K ≥ 1)"
                       + (f", +{a['list_slope_ns']:.0f} ns (R² {a['list_r2_ns']:.3f})"
                          if a["list_r2_ns"] is not None else "") + ".")
    return out


LINUX_MANY_RELEVANT = {
    "arm64": "100 relevant: 1032.94 ns list ops, 1035.50 ns CALL_OPS (M1)",
    "riscv64": "10 relevant: 677 ns both ways (K1)",
}


def _many_relevant(rows: Sequence[dict]) -> list[str]:
    out = []
    for arch, cscheme in fo.CALL_OPS_SCHEME.items():
        lscheme = fo.LIST_SCHEME[arch]
        rs = sorted({r["relevant"] for r in rows if r["arch"] == arch and r["config"] == "ops"
                     and r["relevant"] > 1 and r["irrelevant"] == 0})
        for n in rs:
            c = _ops_rows(rows, arch, cscheme, n).get(0)
            li = _ops_rows(rows, arch, lscheme, n).get(0)
            if c and li:
                out.append(f"- {arch}, {n} relevant ops: CALL_OPS {c['instructions_per_call']} "
                           f"vs list ops {li['instructions_per_call']} instructions per call: "
                           "both go through the list function (the site's literal is "
                           "`ftrace_list_ops`), so CALL_OPS buys nothing, as in Linux ("
                           f"{LINUX_MANY_RELEVANT[arch]}).")
    return out


def _ftrace_table(rows: Sequence[dict]) -> str:
    head = ("arch", "scheme", "configuration", "traced", "insn/call", "+insn", "ns/call", "+ns")
    body = []
    for r in rows:
        body.append((r["arch"], r["scheme"] + (" (CALL_OPS)" if r["call_ops"] else ""),
                     r["label"], "yes" if r["traced"] else "no",
                     _f(r["instructions_per_call"], "g"),
                     _f(r["overhead_instructions"], "+g") if r["traced"] else "0",
                     _f(r["ns_per_call"], ".1f"),
                     _f(r["overhead_ns"], "+.1f") if r["traced"] else "-"))
    return _md_table(head, body, left=3)


def _text_table(rows: Sequence[dict]) -> str:
    head = ("arch", "build", "-fpatchable-function-entry", "align", "functions", "sites",
            ".text bytes", "+bytes", "+%", "+bytes/function")
    body = [(r["arch"] + (" (RVC)" if r["family"] == "rvc" else ""), r["scheme"],
             r["patchable"] or "none", str(r["align"] or "default"), str(r["functions"]),
             str(r["sites"]), f"{r['text_bytes']:,}",
             f"{r['overhead_bytes']:+,}" if r["traced"] else "0",
             _f(r["overhead_pct"], "+.2f", "%") if r["traced"] else "-",
             _f(r["overhead_bytes_per_function"], ".1f") if r["traced"] else "-")
            for r in rows]
    return _md_table(head, body, left=2)


def _store_note(rows: Sequence[dict]) -> str:
    """The ns per instruction of the untraced loop against that of the CALL_OPS overhead."""
    out = []
    for arch, scheme in fo.CALL_OPS_SCHEME.items():
        base = _untraced(rows, arch, scheme)
        ops = _ops_rows(rows, arch, scheme).get(0)
        if not base or not ops or base["ns_per_call"] is None or ops["ns_per_call"] is None:
            continue
        out.append(f"{arch}: {base['ns_per_call'] / base['instructions_per_call']:.1f} ns per "
                   f"instruction untraced, {ops['overhead_ns'] / ops['overhead_instructions']:.1f}"
                   " ns per instruction of the CALL_OPS overhead")
    if not out:
        return ""
    return " Measured here: " + "; ".join(out) + "."


def _differences(analysis: Sequence[dict], rows: Sequence[dict]) -> str:
    by = {a["arch"]: a for a in analysis}
    parts = []
    ratio_lines = []
    for arch in ("arm64", "riscv64"):
        a = by.get(arch)
        if not a or a["ratio_insns"] is None:
            continue
        c0 = _ops_rows(rows, arch, a["call_ops_scheme"]).get(0)
        l0 = _ops_rows(rows, arch, a["list_scheme"]).get(0)
        ratio_lines.append(
            f"- {arch}: CALL_OPS adds {c0['overhead_instructions']} instructions per call, list "
            f"ops {l0['overhead_instructions']} ({a['ratio_insns']:.2f}x; Linux "
            f"{a['linux_ratio']:.1f}x in ns on {a['linux_machine']}).")
    parts.append(
        "**Nanoseconds are the emulator's, not a CPU's.** ftlab runs guest code in Unicorn "
        "(QEMU's TCG). Its slow guest-store path costs about 35-50 ns per store on this "
        "machine (unicorn#1970), while an ALU instruction costs a few ns, so ns per call "
        "mostly counts stores. `ftrace_caller` saves a `ftrace_regs` frame (about 12 stores "
        "on arm64, 18 on riscv64) on every traced call, CALL_OPS or not, so in ns the "
        "CALL_OPS path looks far costlier relative to the list path than on hardware, and "
        "the ns ratios shrink. The exact instruction counts are the figures to compare "
        "with Linux's ratios; the ns columns show the shapes (flat vs linear) only."
        + _store_note(rows))
    parts.append(
        "**ftlab's list function is leaner than Linux's, so list ops / CALL_OPS comes out "
        "lower than Linux's 7x (arm64) and 3.2x (riscv64).**\n\n" + "\n".join(ratio_lines) +
        "\n\nThe difference between the two paths is `ftrace_ops_list_func` (plus, without "
        "CALL_OPS, loading `function_trace_op` and calling through `ftrace_call` or "
        "`ftrace_call_dest`). ftlab's (guest/runtime/ftrace.c) does a simplified recursion "
        "check, `preempt_disable_notrace`, and per ops a stub-flag test and a binary search "
        "of the sorted ip array its filter points to. Linux's `__ftrace_ops_list_func` uses "
        "`trace_test_and_set_recursion`, and per ops `ftrace_ops_test` looks the ip up in "
        "the filter and notrace hashes (reached through `ops->func_hash`, then a hashed "
        "bucket walk), after an `FTRACE_OPS_FL_RCU`/`rcu_is_watching()` test and before a "
        "`WARN_ON(!op->func)`: a chain of dependent loads and unpredictable "
        "branches. On an out-of-order core such as the M1 the CALL_OPS path (saving "
        "`ftrace_regs`, one indirect call to an empty function: 1.86 ns) overlaps "
        "almost entirely, while the list walk is latency-bound, so Linux's wall-time ratio "
        "is larger than any instruction ratio. The K1 is in-order and narrower, so its "
        "ratio (3.2x) is much closer to an instruction ratio, and ftlab's riscv64 "
        "instruction ratio is correspondingly closer to Linux's than arm64's is.")
    slopes = []
    for arch in ("x86_64", "arm64", "riscv64"):
        a = by.get(arch)
        if a and a["list_slope_insns"] is not None:
            lin = (f" (Linux: {a['linux_slope_ns']:.1f} ns per op on {a['linux_machine']})"
                   if a.get("linux_slope_ns") else "")
            slopes.append(f"{arch} +{a['list_slope_insns']:.1f}{lin}")
    if slopes:
        parts.append(
            "**Each irrelevant ops costs about two dozen instructions in ftlab's list walk**: "
            + "; ".join(slopes) + ". Linux's per-op cost includes a hash lookup that misses "
            "(the relevant function is not in the irrelevant ops' filter); ftlab's binary "
            "search of a one-entry array is shorter. Both grow linearly with K, which is the "
            "shape the kernel's table shows.")
    parts.append(
        "**x86_64 has no CALL_OPS in the kernel, and ftlab has no per-ops dynamic "
        "trampolines.** Linux x86_64 gives each dynamic ops its own trampoline "
        "(`arch_ftrace_update_trampoline`), and a site traced by exactly one ops calls that "
        "ops' trampoline, which calls `ops->func` directly: on Linux x86_64 one relevant "
        "tracer costs about the same whatever K is. ftlab calls a lone ops straight from "
        "`ftrace_caller` (the closest it models; the K=0 point) and goes through the list as "
        "soon as a second ops is registered, so its x86_64 line is a list-ops line: the jump "
        "from K=0 to K=1 and the linear growth after it would not appear on Linux x86_64.")
    parts.append(
        "**The sample's ops are dynamic.** `samples/ftrace/ftrace-ops.c` kcallocs its ops, so "
        "the kernel marks them `FTRACE_OPS_FL_DYNAMIC`, and without CALL_OPS even a lone one "
        "is called through `ftrace_ops_list_func`; ftlab reproduces that on arm64 and riscv64 "
        "(`dynamic_ops`), which is why the list-ops line already pays the list walk at K=0.")
    base = sorted({r["instructions_per_call"] for r in rows if r["config"] == "untraced"})
    if base:
        span = str(base[0]) if len(base) == 1 else f"{base[0]}-{base[-1]}"
        parts.append(
            "**Every figure includes the loop.** Linux's sample times calls of "
            "`tracee_relevant` from a kernel thread; ftlab's loop (`bench_loop` calling "
            f"`bench_target`) costs {span} instructions per iteration untraced, and every "
            "per-call figure here includes it. Overheads (the `+` columns) subtract it.")
    return "\n\n".join(parts)


def render_markdown(res: Results, images: Sequence[Path]) -> str:
    cfg = res.config
    ks = list(cfg["irrelevant"])
    analysis = analyze(res.ftrace_rows)
    names = {p.name for p in images}
    m = res.machine
    lines = [
        "# ftlab cost lab: CALL_OPS, list ops, text size and trampolines",
        "",
        "The per-call cost of ftrace ops with and without CALL_OPS, the text-size cost of the "
        "patchable-entry layouts, and BPF trampoline costs, measured by ftlab on emulated "
        "harts running real guest code, next to the figures Linux published.",
        "",
        f"Regenerate: `ftlab bench report -o DIR` (this copy: `-o docs/cost-lab`). "
        f"Generated {res.started} in {res.seconds:.0f} s on {m['cpu']} ({m['cpus']} CPUs, "
        f"load average {_load(m.get('load_before'))} before, {_load(m.get('load'))} after), "
        f"Python {m['python']}, unicorn {m['unicorn']}, ziglang {m['ziglang']}, matplotlib "
        f"{m['matplotlib']}. Raw rows: [results.json](results.json).",
        "",
        f"Configuration: arches {', '.join(cfg['arches'])}; irrelevant ops K = "
        f"{', '.join(map(str, ks))}; extra relevant counts {list(cfg['many_relevant'])}; "
        f"{'quick (noisier) ' if cfg['quick'] else ''}"
        f"{'timed' if cfg['timed'] else 'instructions only'}.",
        "",
        "## Headline",
        "",
        _headline(analysis, ks),
        "",
        "Overheads subtract the untraced row of the same scheme. Linux's ratio is of "
        "overheads in ns as published; ftlab's instruction ratio is exact and is the one to "
        "compare (see [why](#where-ftlabs-figures-differ-from-linuxs-and-why)).",
        "",
        *_checks(analysis),
        *_many_relevant(res.ftrace_rows),
        "",
        "## Per-call cost against irrelevant ops",
        "",
        "One relevant ops with the empty callback `ops_func_nop` on `bench_target`, K "
        "irrelevant ops on `bench_other` (never called), as in `samples/ftrace/ftrace-ops.c`. "
        "Solid lines: CALL_OPS; dashed: list ops (the same arch without CALL_OPS).",
        "",
    ]
    for name, alt in (("ftrace_ops_instructions.png", "instructions per call"),
                      ("ftrace_ops_ns.png", "ns per call, ftlab and Linux"),
                      ("ftrace_ops_relative.png", "overhead relative to CALL_OPS")):
        if name in names:
            lines += [f"![{alt}]({name})", ""]
    lines += [
        "The last plot divides each overhead by the CALL_OPS overhead at K=0 of the same "
        "arch, which puts ftlab's instruction counts and Linux's nanoseconds on one axis.",
        "",
        "All ftrace-ops rows (per iteration of `bench_loop`, the call of `bench_target` "
        "included):",
        "",
        _ftrace_table(res.ftrace_rows),
        "",
        "## Text size",
        "",
    ]
    if res.text_rows:
        summary = ts.summarize_text_size(res.text_rows)
        r0 = res.text_rows[0]
        lines += [
            f"{r0['code_base']}, compiled to objects (not linked) with ftlab's guest flags "
            "(freestanding, -O2, frame pointers, no sibling calls), without patchable "
            "entries, with the plain ftrace layout and with the CALL_OPS layout (extra NOPs "
            "before the function for the ops literal, functions 8-byte aligned). "
            "`functions` counts defined STT_FUNC symbols (inlining differs a little per "
            "arch), `sites` the entries of `__patchable_function_entries`.",
            "",
        ]
        if "text_size.png" in names:
            lines += ["![text size overhead](text_size.png)", ""]
        lines += [_text_table(res.text_rows), ""]
        for s in summary:
            if s["call_ops_pct"] is None:
                lines.append(f"- {s['arch']}: the plain layout adds {s['plain_pct']:.2f}% "
                             "(no CALL_OPS on this arch in the kernel).")
            else:
                lines.append(
                    f"- {s['arch']}{' (RVC)' if s['family'] == 'rvc' else ''}: plain "
                    f"+{s['plain_pct']:.2f}%, CALL_OPS +{s['call_ops_pct']:.2f}%; CALL_OPS "
                    f"over plain +{s['call_ops_over_plain_pct']:.2f}% "
                    f"({s['call_ops_extra_bytes_per_function']:.1f} bytes per function: "
                    "the literal's NOPs plus alignment padding).")
        skipped = sorted({s for r in res.text_rows for s in r["skipped"]})
        if skipped:
            lines.append(f"- Left out (do not compile freestanding): {', '.join(skipped)}.")
        lines += [
            "",
            "ftlab builds zstd with its shipped headers and a shim of libc declarations "
            "(string.h, stdlib.h, stdio.h, time.h, assert.h, pthread.h); nothing is linked. "
            "The kernel builds with more flags (-fno-strict-aliasing, retpolines, CFI, ...), "
            "so its absolute sizes differ; the per-function NOP and padding cost is the "
            "layout's.",
            "",
        ]
    else:
        lines += [f"Text size: {res.text_note}", ""]
    lines += ["## BPF trampolines", ""]
    if res.tramp_rows:
        lines += [
            "One empty program per kind on one function; the function tracer and a bare "
            "direct call for reference. Linux's x86_64 trigger benchmark (one published run, "
            "M calls/s): " + ", ".join(f"{k} {v:g}" for k, v in
                                       tr.LINUX_TRIGGER_MCALLS.items())
            + " (fexit about half of fentry).",
            "",
        ]
        if "trampolines.png" in names:
            lines += ["![trampoline overhead](trampolines.png)", ""]
        lines += [_md_table(
            ("arch", "configuration", "insn/call", "+insn", "x untraced", "ns/call", "+ns"),
            [(r["arch"], r["label"], _f(r["instructions_per_call"], "g"),
              _f(r["overhead_instructions"], "+g"), _f(r["relative_instructions"], ".2f"),
              _f(r["ns_per_call"], ".1f"), _f(r["overhead_ns"], "+.1f"))
             for r in res.tramp_rows], left=2), ""]
    else:
        note = res.tramp_note[:1].upper() + res.tramp_note[1:]
        lines += [f"{note}. `ftlab bench trampolines` and "
                  "`ftlab bench attach` fill this section once ftlab.bench.trampolines is "
                  "wired to ftlab.bpf (the keys it expects are in its docstring).", ""]
    lines += [
        "## Where ftlab's figures differ from Linux's, and why",
        "",
        _differences(analysis, res.ftrace_rows),
        "",
        "## How it is measured",
        "",
        "- Instructions: a UC_HOOK_BLOCK hook adds each executed block's instruction count "
        "(decoded once with capstone) over two runs of `bench_loop(n)` (n = "
        f"{fo.COUNT_N[0]} and {fo.COUNT_N[1]}); the difference over the difference in n is "
        "the per-iteration count, exact, and identical from run to run.",
        f"- Nanoseconds: {_clock_text(cfg)} of the scheduler's run without hooks at a "
        f"calibrated n (one run about {fo.QUICK_TARGET_S if cfg['quick'] else fo.TARGET_S} "
        "s): the best of "
        f"{_repeat(cfg)} runs at n minus the best at n/10, over the difference in calls. The "
        "runs of all configurations of one (arch, scheme) are interleaved round-robin "
        "(ftlab.bench.timing), so a burst of other load on the machine does not fall on "
        "all the samples of one configuration.",
        "- Text size: `ftlab bench text-size`; objects cached by content hash in the ftlab "
        "cache.",
        "",
    ]
    return "\n".join(lines)


def write_report(res: Results, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = plot_ftrace(res.ftrace_rows, out, list(res.config["irrelevant"]))
    p = plot_text_size(res.text_rows, out)
    if p:
        images.append(p)
    p = plot_trampolines(res.tramp_rows, out)
    if p:
        images.append(p)
    (out / "results.json").write_text(json.dumps(asdict(res), indent=1) + "\n")
    readme = out / "README.md"
    readme.write_text(render_markdown(res, images))
    return readme


def load_results(path: str | Path) -> Results:
    """The Results a report saved as results.json (to re-render without measuring)."""
    try:
        data = json.loads(Path(path).read_text())
        return Results(**data)
    except (OSError, ValueError, TypeError) as err:
        raise FtlabError(f"{path}: not a cost-lab results.json ({err})") from err


def generate_report(out_dir: str | Path, cfg: ReportConfig | None = None,
                    log: Callable[[str], None] | None = None,
                    show_progress: bool | None = None) -> Path:
    """Run the suite and write DIR/README.md, its PNGs and results.json."""
    require_matplotlib()  # fail before the long run, not after it
    res = run_suite(cfg or ReportConfig(), log=log, show_progress=show_progress)
    return write_report(res, out_dir)
