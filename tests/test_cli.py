"""The CLI contract: exit codes, stdout lines, diagnostics on stderr without tracebacks."""

import pytest

from conftest import guest
from ftlab.cli import main

MACHINE_C = str(guest("machine.c"))
MODELS_C = str(guest("models.c"))


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_run_prints_one_line_per_hart(capsys):
    code, out, _ = run(capsys, "run", MACHINE_C, "--arch", "arm64", "--entry", "whoami",
                       "--harts", "3")
    assert code == 0
    assert out.splitlines() == ["hart 0: 0", "hart 1: 1", "hart 2: 2"]


def test_negative_and_hex_args(capsys):
    code, out, _ = run(capsys, "run", MACHINE_C, "--arch", "riscv64", "--entry", "neg_char",
                       "--args", "0x7")
    assert (code, out) == (0, "hart 0: -7\n")


def test_fault_exit_1_keeps_other_harts(capsys):
    code, out, err = run(capsys, "run", MACHINE_C, "--arch", "x86_64", "--entry",
                         "fault_on_cpu1", "--harts", "2")
    assert code == 1
    assert out.splitlines() == ["hart 0: 7", "hart 1: fault"]
    assert "guest fault on hart 1" in err and "backtrace:" in err and "fault_on_cpu1+" in err


def test_unknown_entry_names_closest(capsys):
    code, _, err = run(capsys, "run", MACHINE_C, "--arch", "arm64", "--entry", "whoamii")
    assert code == 1
    assert "unknown function 'whoamii'" in err and "whoami" in err


def test_compile_error(capsys, tmp_path):
    bad = tmp_path / "bad.c"
    bad.write_text("int f(void) { return x; }\n")
    code, _, err = run(capsys, "run", str(bad), "--arch", "riscv64", "--entry", "f")
    assert code == 1
    assert f"{bad}:1:22: error" in err


def test_struct_return_refused(capsys):
    code, _, err = run(capsys, "run", MODELS_C, "--arch", "x86_64", "--entry", "ret_big",
                       "--args", "1")
    assert code == 1 and "returns a struct" in err


def test_wrong_argument_count(capsys):
    code, _, err = run(capsys, "run", MODELS_C, "--arch", "x86_64", "--entry", "entry")
    assert code == 2 and "takes 1 argument" in err


@pytest.mark.parametrize("argv", [
    ["run", MACHINE_C, "--arch", "mips", "--entry", "whoami"],
    ["run", MACHINE_C, "--entry", "whoami"],
    ["run", MACHINE_C, "--arch", "arm64", "--entry", "whoami", "--args", "1,2,3,4,5,6,7"],
    ["run", MACHINE_C, "--arch", "arm64", "--entry", "whoami", "--harts", "0"],
    ["frobnicate"],
])
def test_usage_errors_exit_2(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("ftlab: error:")


def test_missing_file(capsys):
    code, _, err = run(capsys, "run", "/nonexistent.c", "--arch", "arm64", "--entry", "f")
    assert code == 1 and "no such file" in err


def test_budget_exceeded(capsys):
    code, out, err = run(capsys, "run", MACHINE_C, "--arch", "arm64", "--entry", "chain",
                         "--args", "1000000000", "--max-insns", "10000")
    assert code == 1 and out == "hart 0: fault\n" and "--max-insns 10000" in err
