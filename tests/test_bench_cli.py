"""`ftlab bench`: JSON shapes, deterministic counts, text size on a small C file, the report,
and the trampoline interface, on small bounds."""

import io
import json
import sys

import pytest

from ftlab.bench import progress as progress_mod
from ftlab.bench import trampolines as tr
from ftlab.cli import main

COMMON_KEYS = ("arch", "scheme", "relevant", "irrelevant", "traced", "instructions_per_call",
               "ns_per_call")

TINY_C = """\
/* five functions, none inlined into another */
#define noinline __attribute__((noinline))
noinline int f1(int x) { return x * 3 + 1; }
noinline int f2(int x) { return f1(x) ^ 0x55; }
noinline long f3(long a, long b) { return a > b ? a - b : b - a; }
noinline unsigned f4(unsigned x) { unsigned n = 0; while (x) { n += x & 1; x >>= 1; } return n; }
int f5(int x) { return f2(x) + (int)f3(x, 7) + (int)f4((unsigned)x); }
"""


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def tiny_c(tmp_path):
    path = tmp_path / "tiny.c"
    path.write_text(TINY_C)
    return path


def test_ftrace_ops_json_shape(capsys):
    code, out, _ = run(capsys, "bench", "ftrace-ops", "--arch", "riscv64", "--irrelevant", "0,1",
                       "--quick", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert isinstance(rows, list)
    # the CALL_OPS and the list-ops scheme, each: untraced, K=0, K=1
    assert [(r["scheme"], r["config"], r["irrelevant"]) for r in rows] == [
        ("v6.16-callops", "untraced", 0), ("v6.16-callops", "ops", 0), ("v6.16-callops", "ops", 1),
        ("v6.16", "untraced", 0), ("v6.16", "ops", 0), ("v6.16", "ops", 1)]
    for r in rows:
        for key in COMMON_KEYS:
            assert key in r, key
        assert r["arch"] == "riscv64"
        assert isinstance(r["instructions_per_call"], int)
        assert isinstance(r["ns_per_call"], float)  # timed: its sign is noise on a loaded machine
        assert r["traced"] == (r["config"] != "untraced")
        if r["traced"]:
            assert r["relevant"] == 1
    by = {(r["scheme"], r["config"], r["irrelevant"]): r["instructions_per_call"] for r in rows}
    # CALL_OPS: one relevant tracer costs the same with an irrelevant ops; list ops: more
    assert by[("v6.16-callops", "ops", 0)] == by[("v6.16-callops", "ops", 1)]
    assert by[("v6.16", "ops", 1)] > by[("v6.16", "ops", 0)] > by[("v6.16-callops", "ops", 0)]


def test_ftrace_ops_instruction_counts_identical_across_runs(capsys):
    argv = ("bench", "ftrace-ops", "--arch", "arm64", "--irrelevant", "0,10", "--direct",
            "--counts-only", "--format", "json")
    counts = []
    for _ in range(2):
        code, out, _ = run(capsys, *argv)
        assert code == 0
        rows = json.loads(out)
        assert all(r["ns_per_call"] is None for r in rows)
        counts.append([(r["scheme"], r["label"], r["instructions_per_call"]) for r in rows])
    assert counts[0] == counts[1]
    # --direct: a row where the scheme has direct calls (arm64: CALL_OPS only)
    assert [(s, lbl) for s, lbl, _ in counts[0] if lbl == "direct"] == [("callops", "direct")]


def test_ftrace_ops_text_and_usage_errors(capsys):
    code, out, _ = run(capsys, "bench", "ftrace-ops", "--arch", "x86_64", "--irrelevant", "0",
                       "--counts-only")
    assert code == 0
    assert "int3" in out and "no CALL_OPS" in out
    code, _, err = run(capsys, "bench", "ftrace-ops", "--arch", "arm64", "--format", "xml")
    assert code == 2 and "xml" in err
    code, _, err = run(capsys, "bench", "ftrace-ops", "--arch", "arm64", "--relevant", "-1")
    assert code == 2
    code, _, err = run(capsys, "bench", "ftrace-ops", "--arch", "arm64", "--scheme", "nope")
    assert code == 2 and "unknown scheme" in err
    code, _, err = run(capsys, "bench", "ftrace-ops", "--arch", "vax")
    assert code == 2 and "unknown architecture" in err


def test_text_size_counts_functions_and_orders_layouts(capsys, tiny_c):
    code, out, _ = run(capsys, "bench", "text-size", "--arch", "arm64", "--arch", "riscv64",
                       "--arch", "x86_64", str(tiny_c), "--format", "json")
    assert code == 0
    rows = json.loads(out)
    for r in rows:
        for key in COMMON_KEYS:
            assert key in r, key
        assert r["functions"] == 5
        assert r["sites"] == (5 if r["traced"] else 0)
        assert r["traced"] == (r["kind"] != "none")
    groups = {}
    for r in rows:
        groups.setdefault((r["arch"], r["family"]), {})[r["kind"]] = r["text_bytes"]
    assert set(groups) == {("x86_64", ""), ("arm64", ""), ("riscv64", "rvc"), ("riscv64", "")}
    for (arch, _family), g in groups.items():
        assert g["plain"] > g["none"], arch
        if arch != "x86_64":  # no CALL_OPS on x86_64
            assert g["call-ops"] > g["plain"], arch
        else:
            assert "call-ops" not in g
    # the text table names every build
    code, out, _ = run(capsys, "bench", "text-size", "--arch", "riscv64", str(tiny_c))
    assert code == 0
    for name in ("none-rvc", "plain-rvc", "callops-rvc", "callops"):
        assert name in out


def test_text_size_bad_file(capsys, tmp_path):
    bad = tmp_path / "bad.c"
    bad.write_text("int f(void) { return undeclared; }\n")
    code, _, err = run(capsys, "bench", "text-size", "--arch", "arm64", str(bad))
    assert code == 1 and "undeclared" in err
    code, _, err = run(capsys, "bench", "text-size", "--arch", "arm64",
                       str(tmp_path / "missing.c"))
    assert code == 2 and "no such file" in err


def test_report_writes_readme_and_plots(capsys, tmp_path, tiny_c):
    pytest.importorskip("matplotlib")
    out_dir = tmp_path / "report"
    code, out, _ = run(capsys, "bench", "report", "-o", str(out_dir), "--arch", "arm64",
                       "--arch", "x86_64", "--irrelevant", "0,1,10", "--many-relevant", "",
                       "--no-direct", "--no-function-tracer", "--counts-only",
                       "--text-size-files", str(tiny_c), "--no-trampolines")
    assert code == 0, out
    readme = (out_dir / "README.md").read_text()
    pngs = sorted(p.name for p in out_dir.glob("*.png"))
    assert "ftrace_ops_instructions.png" in pngs and "text_size.png" in pngs
    for name in pngs:
        assert f"({name})" in readme
        data = (out_dir / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) < 150_000
    assert "## Headline" in readme and "Linux" in readme
    assert "Where ftlab's figures differ" in readme
    results = json.loads((out_dir / "results.json").read_text())
    assert {r["arch"] for r in results["ftrace_rows"]} == {"arm64", "x86_64"}
    assert results["text_rows"] and results["tramp_rows"] == []
    # re-rendered from the saved rows, without measuring: the same Markdown
    again = tmp_path / "again"
    code, _, _ = run(capsys, "bench", "report", "-o", str(again), "--from-results",
                     str(out_dir / "results.json"))
    assert code == 0
    assert (again / "README.md").read_text() == readme
    assert sorted(p.name for p in again.glob("*.png")) == pngs


def test_trampolines_not_built(capsys, monkeypatch):
    monkeypatch.setattr(tr, "available", lambda: False)
    code, _, err = run(capsys, "bench", "trampolines", "--arch", "arm64")
    assert code == 1 and "BPF trampolines are not built yet" in err
    code, _, err = run(capsys, "bench", "attach", "--arch", "arm64", "--functions", "10")
    assert code == 1 and "BPF trampolines are not built yet" in err


def test_trampolines_interface(capsys, monkeypatch):
    """The keys the measuring side provides, and what the bench derives from them."""
    monkeypatch.setattr(tr, "available", lambda: True)
    fake = {"untraced": (20, 100.0), "fentry": (80, 900.0), "fexit": (140, 1700.0),
            "fmod_ret": (130, 1600.0), "function-tracer": (220, 2400.0), "direct": (26, 160.0)}
    monkeypatch.setattr(tr, "_measure_trampolines", lambda arch: [
        {"config": c, "scheme": "callops", "instructions_per_call": i, "ns_per_call": n}
        for c, (i, n) in reversed(fake.items())])
    monkeypatch.setattr(tr, "_measure_attach", lambda arch, n: {
        "functions": n, "trampolines": 1, "attach_seconds": 0.5, "detach_seconds": 0.25})
    code, out, _ = run(capsys, "bench", "trampolines", "--arch", "arm64", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert [r["config"] for r in rows] == list(tr.CONFIGS)
    for r in rows:
        for key in COMMON_KEYS:
            assert key in r, key
    assert rows[0]["traced"] is False and rows[0]["overhead_instructions"] == 0
    fexit = rows[2]
    assert fexit["overhead_instructions"] == 120 and fexit["relative_instructions"] == 7.0
    code, out, _ = run(capsys, "bench", "attach", "--arch", "arm64", "--functions", "1000",
                       "--format", "json")
    assert code == 0
    (res,) = json.loads(out)
    assert res["functions"] == 1000 and res["attach_us_per_function"] == 500.0
    for key in COMMON_KEYS:
        assert key in res, key
    monkeypatch.setattr(tr, "_measure_trampolines", lambda arch: [
        {"config": "fentry", "scheme": "callops", "instructions_per_call": 1}])
    code, _, err = run(capsys, "bench", "trampolines", "--arch", "arm64")
    assert code == 1 and "ns_per_call" in err


def test_progress_bar_only_on_a_tty_after_a_second(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    quiet = io.StringIO()
    with progress_mod.Progress(3, "t", stream=quiet) as p:
        p.advance("a")
    assert quiet.getvalue() == ""  # not a tty
    tty = Tty()
    with progress_mod.Progress(3, "t", stream=tty) as p:
        p.advance("a")
    assert tty.getvalue() == ""  # under a second
    monkeypatch.setattr(progress_mod, "DELAY_S", 0.0)
    tty = Tty()
    with progress_mod.Progress(2, "t", stream=tty) as p:
        p.advance("a")
        p.advance("b")
    assert "2/2" in tty.getvalue() and tty.getvalue().endswith("\r\x1b[2K")


def test_report_without_matplotlib_fails_before_measuring(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, _, err = run(capsys, "bench", "report", "-o", str(tmp_path / "r"), "--arch", "arm64",
                       "--counts-only", "--no-text-size", "--no-trampolines")
    assert code == 1 and "pip install matplotlib" in err
    assert not (tmp_path / "r").exists()
