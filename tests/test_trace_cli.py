"""`ftlab trace` end to end: golden kernel-format text on every arch (counter clock), JSON,
Chrome, printk, stacks, overflow accounting and bad input."""

import json
import os
from pathlib import Path

import pytest

from conftest import guest
from ftlab.cli import main

DEMO = str(Path(__file__).parent.parent / "ftlab" / "examples" / "demo.c")
PRINTK = str(guest("printk.c"))
GOLDEN = Path(__file__).parent / "golden" / "trace"


def trace(capsys, *argv):
    code = main(["trace", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("FTLAB_REGOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"golden {name} differs"


DEMO_ARGS = ["--entry", "sys_sendfile64", "--args", "1,3,4096"]


@pytest.mark.parametrize("arch", ["x86_64", "arm64", "riscv64", "x86_32"])
def test_function_golden(capsys, arch):
    code, out, _ = trace(capsys, DEMO, "--arch", arch, *DEMO_ARGS, "--harts", "2")
    assert code == 0
    check_golden("function-demo.txt", out)  # the same text on every arch


@pytest.mark.parametrize("arch", ["x86_64", "arm64", "riscv64", "x86_32"])
def test_function_graph_golden(capsys, arch):
    code, out, _ = trace(capsys, DEMO, "--arch", arch, *DEMO_ARGS, "--tracer", "function_graph",
                         "--filter", "do_*", "--filter", "*splice*", "--filter", "meminfo*")
    assert code == 0
    # durations are guest time (retired instructions at 1 GHz): each arch has its own
    check_golden(f"function_graph-demo-{arch}.txt", out)


@pytest.mark.parametrize("arch", ["x86_64", "arm64", "riscv64", "x86_32"])
def test_func_stack_trace_golden(capsys, arch):
    code, out, _ = trace(capsys, DEMO, "--arch", arch, *DEMO_ARGS, "--filter", "do_empty",
                         "--option", "func_stack_trace")
    assert code == 0
    check_golden("func_stack_trace-demo.txt", out)


@pytest.mark.parametrize("arch", ["x86_64", "arm64", "riscv64", "x86_32"])
def test_printk_and_stacktrace_golden(capsys, arch):
    code, out, _ = trace(capsys, PRINTK, "--arch", arch, "--entry", "printk_entry", "--args",
                         "7", "--filter", "outer", "--option", "stacktrace")
    assert code == 0
    check_golden("printk-stacktrace.txt", out)


def test_json_lines(capsys):
    code, out, _ = trace(capsys, PRINTK, "--arch", "arm64", "--entry", "printk_entry",
                         "--args", "7", "--filter", "outer", "--option", "stacktrace",
                         "--format", "json")
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds == ["func", "printk", "stack", "func", "printk", "stack"]
    assert events[1]["msg"].startswith("inner x=7 hex=000006f9 name=ftlab neg=-5 pct=%")
    assert [f.split("+")[0] for f in events[2]["frames"]] == [
        "inner", "outer", "printk_entry", "ftlab_task_main"]
    assert all(e["comm"] == "printk_entry" and e["pid"] == 100 for e in events)
    assert events[0]["func"] == "outer" and events[0]["parent"] == "printk_entry"


def test_graph_json_and_chrome(capsys, tmp_path):
    out_file = tmp_path / "t.json"
    code, out, _ = trace(capsys, DEMO, "--arch", "riscv64", *DEMO_ARGS, "--tracer",
                         "function_graph", "--format", "chrome", "-o", str(out_file))
    assert code == 0
    doc = json.loads(out_file.read_text())
    names = {e.get("name") for e in doc["traceEvents"]}
    assert {"do_empty", "meminfo_proc_show", "sys_sendfile64"} <= names
    code, out, _ = trace(capsys, DEMO, "--arch", "riscv64", *DEMO_ARGS, "--tracer",
                         "function_graph", "--format", "json")
    exits = [json.loads(x) for x in out.splitlines() if '"graph_exit"' in x]
    assert {e["func"]: e["depth"] for e in exits}["do_empty"] == 9
    assert all(e["duration"] > 0 for e in exits)


def test_overflow_is_accounted(capsys):
    code, out, _ = trace(capsys, PRINTK, "--arch", "x86_64", "--entry", "many_calls",
                         "--args", "2000", "--filter", "spin_leaf", "--buffer-size-kb", "4")
    assert code == 0
    header = next(line for line in out.splitlines() if "entries-in-buffer" in line)
    shown, written = header.split(":")[1].split()[0].split("/")
    assert int(written) == 2000
    assert 0 < int(shown) < 2000
    lines = [line for line in out.splitlines() if "spin_leaf <-many_calls" in line]
    assert len(lines) == int(shown)
    # the newest events survive: the last counter value is the last event written
    assert lines[-1].split(":")[0].split()[-1] == "2000"


@pytest.mark.parametrize("argv,code,msg", [
    (["--tracer", "blk"], 2, "unknown tracer 'blk'; valid: nop, function, function_graph"),
    (["--scheme", "v6.8"], 2, "unknown scheme 'v6.8' for arm64; valid: callops"),
    (["--option", "nosuch"], 2, "unknown trace option 'nosuch'"),
    (["--clock", "wall"], 2, "unknown trace clock 'wall'"),
    (["--filter", "zzz*"], 1, "no function matches 'zzz*' (-EINVAL)"),
])
def test_bad_input(capsys, argv, code, msg):
    rc, _, err = trace(capsys, DEMO, "--arch", "arm64", *DEMO_ARGS, *argv)
    assert rc == code and msg in err


def test_fault_keeps_the_trace(capsys, tmp_path):
    bad = tmp_path / "bad.c"
    bad.write_text("volatile int seen;\n"
                   "__attribute__((noinline)) int before(int x) { seen = x; return x; }\n"
                   "int entry(int x) { before(x); return *(volatile int *)0; }\n")
    code, out, err = trace(capsys, str(bad), "--arch", "riscv64", "--entry", "entry",
                           "--args", "1")
    assert code == 1
    assert "before <-entry" in out and "guest fault on hart 0" in err
