"""Hostile input and faults, through the real command line (`python -m ftlab` in a subprocess):
signals, stack overflows, random search claims, the image cache, output paths, replay input
and argument ranges. Each must give a clear message, the documented exit code, no traceback,
no lost result and nothing left behind."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from unicorn import UcError

from conftest import guest
from ftlab.guest import abi

REPO = Path(__file__).resolve().parent.parent
MACHINE_C = str(guest("machine.c"))
TRACE = ["trace", MACHINE_C, "--arch", "arm64", "--entry", "whoami"]
RECURSION_C = str(guest("stack_overflow.c"))
CACHE = Path(os.environ["FTLAB_CACHE"])
# a fresh FTLAB_CACHE still shares zig's own object cache: cold builds would take minutes
ZIG_CACHE = str(CACHE / "zig")


def ftlab_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("ZIG_GLOBAL_CACHE_DIR", ZIG_CACHE)
    env.setdefault("ZIG_LOCAL_CACHE_DIR", ZIG_CACHE)
    env.update(extra)
    return env


def ftlab(*argv: str, env: dict[str, str] | None = None, stdout=subprocess.PIPE,
          timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "ftlab", *argv], cwd=REPO, env=env or ftlab_env(),
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Exception ignored" not in proc.stderr, proc.stderr
    return proc


def interrupt(argv: list[str], sig: int, after: float, env: dict[str, str] | None = None,
              ready: str | None = None) -> tuple[int, str, str, float]:
    """Start ftlab, send `sig` `after` seconds later (or once `ready` exists); returns the exit
    code, stdout, stderr and how long the command took to end after the signal."""
    proc = subprocess.Popen([sys.executable, "-m", "ftlab", *argv], cwd=REPO,
                            env=env or ftlab_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(after)
    sent = time.monotonic()
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"{argv}: still running 30 s after {signal.Signals(sig).name}")
    took = time.monotonic() - sent
    assert "Traceback" not in err and "Exception ignored" not in err, err
    return proc.returncode, out, err, took


# --- 1. signals ----------------------------------------------------------------------------------
def test_explore_interrupted_prints_an_incomplete_report():
    rc, out, err, took = interrupt(["explore", "x86_64-int3-enable", "--preemptions", "100",
                                    "--format", "json"], signal.SIGTERM, after=2.5)
    assert rc == 143 and took < 2, (rc, took, err)
    doc = json.loads(out)
    assert doc["verdict"] == "incomplete" and doc["interrupted"] == "SIGTERM"
    assert "invariant" not in doc and "schedule" not in doc
    assert "interrupted" in err
    rc, out, err, took = interrupt(["explore", "x86_64-int3-enable", "--preemptions", "100"],
                                   signal.SIGINT, after=2.5)
    assert rc == 130 and took < 2
    assert "verdict: incomplete (interrupted by SIGINT" in out
    assert "violation" not in out.split("expected")[0] and "invariant broken" not in out


def test_trace_interrupted_while_tracing():
    rc, out, err, took = interrupt([*TRACE[:4], "--entry", "chain", "--args", "100000000",
                                    "--tracer", "function_graph"], signal.SIGINT, after=2)
    assert rc == 130 and took < 2 and "interrupted (SIGINT)" in err


def test_parallel_explore_interrupted_stops_every_worker():
    rc, out, err, took = interrupt(["explore", "x86_64-int3-enable", "--preemptions", "100",
                                    "--jobs", "2", "--format", "json"], signal.SIGINT, after=4)
    assert rc == 130 and took < 3, (rc, took, err)
    doc = json.loads(out)
    assert doc["verdict"] == "incomplete" and doc["interrupted"] == "SIGINT"
    assert doc["schedules"] > 0, doc  # what the workers covered
    assert "invariant" not in doc


def test_run_interrupted_while_emulating():
    rc, out, err, took = interrupt(["run", MACHINE_C, "--arch", "arm64", "--entry", "chain",
                                    "--args", "1000000000"], signal.SIGTERM, after=2)
    assert (rc, out) == (143, "") and took < 2
    assert "interrupted (SIGTERM)" in err


def test_sigterm_during_a_build_leaves_nothing_behind(tmp_path):
    # a fresh source (zig caches by content) that takes seconds to compile
    tag = uuid.uuid4().hex
    src = tmp_path / f"big_{tag}.c"
    src.write_text("\n".join(
        f"long g{i}(long x) {{ long s = x * {i}; for (int k = 0; k < x; k++) s += k ^ (s >> 3);"
        " return s; }" for i in range(3000)) + "\nlong f(void) { return g1(3); }\n")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = ftlab_env(TMPDIR=str(tmpdir))
    rc, _, err, took = interrupt(["run", str(src), "--arch", "riscv64", "--entry", "f"],
                                 signal.SIGTERM, after=2, env=env)
    assert rc == 143 and took < 2, err
    assert list(tmpdir.iterdir()) == []  # no ftlab-build-*
    time.sleep(0.2)
    left = []
    for proc in Path("/proc").iterdir():
        try:
            if tag.encode() in (proc / "cmdline").read_bytes():
                left.append(proc.name)
        except OSError:
            continue
    assert left == [], "compiler still running"


# --- 2. stack guards -----------------------------------------------------------------------------
def test_stack_overflow_is_a_fault_naming_the_task(arch):
    proc = ftlab("run", RECURSION_C, "--arch", arch, "--entry", "entry", "--harts", "2")
    assert proc.returncode == 1
    # the other hart's stack is untouched: its result is right
    assert proc.stdout.splitlines() == ["hart 0: 199990000", "hart 1: fault"]
    assert "guest fault on hart 1, task entry-101: stack overflow: task entry-101" in proc.stderr
    assert "backtrace:" in proc.stderr and "rec+" in proc.stderr


def test_guard_pages_are_unmapped_in_every_hart():
    from ftlab.machine.machine import Machine
    from ftlab.session import load

    m = Machine(load([MACHINE_C], "arm64"), harts=2)
    base = m.arch.ram_base
    for off in [*abi.TRAMP_GUARDS, abi.STACK_AREA, abi.STACK_AREA + abi.STACK_SIZE
                + abi.STACK_GUARD_OFFSETS[1]]:
        for hart in m.harts:
            with pytest.raises(UcError):
                hart.uc.mem_read(base + off, 8)
    # around them, RAM is shared by all harts
    m.mem.write(base + abi.STACK_AREA + abi.PAGE, b"ftlab!!!")
    assert bytes(m.harts[1].uc.mem_read(base + abi.STACK_AREA + abi.PAGE, 8)) == b"ftlab!!!"


@pytest.mark.parametrize("entry,reason", [
    ("irq_return_without_irq", "IRQ return without an interrupt"),
    ("puts_wild_pointer", "outside guest RAM"), ("bug_huge_length", "outside guest RAM"),
    ("unknown_call", "unknown machine call 99"),
])
def test_bad_machine_calls_are_faults_of_their_task(entry, reason):
    from ftlab.session import load, run_entry

    result = run_entry(load([guest("bad_mcalls.c")], "riscv64"), entry, harts=2)
    assert result.lines() == ["hart 0: fault", "hart 1: fault"]
    assert all(reason in f.reason and entry[:15] in f.task for f in result.faults)  # comm


# --- 3. random search ----------------------------------------------------------------------------
def test_random_search_never_claims_safety():
    proc = ftlab("explore", "riscv64-v6.8-enable", "--strategy", "random", "--schedules", "3")
    assert proc.returncode == 0
    assert "no violation found in 3 random schedules (not a proof)" in proc.stdout
    assert "safe (" not in proc.stdout and "verdict: safe" not in proc.stdout
    proc = ftlab("explore", "riscv64-v6.8-enable", "--strategy", "random", "--schedules", "2",
                 "--preemptions", "300", "--format", "json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["verdict"] == ("no violation found in 2 random schedules "
                                                  "(not a proof)")


# --- 4. the image cache --------------------------------------------------------------------------
def test_cache_follows_included_headers_and_rebuilds_corrupt_entries(tmp_path):
    cache = tmp_path / "cache"
    env = ftlab_env(FTLAB_CACHE=str(cache))
    (tmp_path / "value.h").write_text("#define VALUE 3\n")
    src = tmp_path / "uses_header.c"
    src.write_text('#include "value.h"\nlong f(void) { return VALUE; }\n')
    argv = ["run", str(src), "--arch", "riscv64", "--entry", "f"]
    assert ftlab(*argv, env=env).stdout == "hart 0: 3\n"
    (tmp_path / "value.h").write_text("#define VALUE 4\n")
    assert ftlab(*argv, env=env).stdout == "hart 0: 4\n"
    images = cache / "images"
    for damage in (b"", b"\x7fELF\x02\x01\x01", os.urandom(4096), "flip"):
        for elf in images.glob("*.elf"):
            if damage == "flip":  # still parses: the manifest's digest catches it
                data = bytearray(elf.read_bytes())
                data[len(data) // 3] ^= 0xFF
                damage = bytes(data)
            elf.write_bytes(damage)
        proc = ftlab(*argv, env=env)
        assert (proc.returncode, proc.stdout) == (0, "hart 0: 4\n"), proc.stderr
        for manifest in images.glob("*.deps"):  # rebuilt: the image is the one recorded
            doc = json.loads(manifest.read_text())
            if doc["deps"] and any(d.endswith("value.h") for d in doc["deps"]):
                image = (images / doc["elf"]).read_bytes()
                assert hashlib.sha256(image).hexdigest() == doc["sha256"]
    assert not [p for p in images.iterdir() if p.name.endswith(".tmp")]


def test_cache_that_is_a_file(tmp_path):
    not_dir = tmp_path / "file"
    not_dir.write_text("x")
    proc = ftlab("run", MACHINE_C, "--arch", "arm64", "--entry", "whoami",
                 env=ftlab_env(FTLAB_CACHE=str(not_dir)))
    assert proc.returncode == 1 and "is not a directory" in proc.stderr


def test_replay_rebuilds_under_ftlab_cache(tmp_path):
    cache = tmp_path / "cache"
    env = ftlab_env(FTLAB_CACHE=str(cache), HOME=str(tmp_path / "no-home"))
    src = tmp_path / "mine.c"
    src.write_text("__attribute__((noinline)) unsigned long f(unsigned long x) "
                   "{ return x * 3; }\nunsigned long work(unsigned long n) "
                   "{ unsigned long s = 0; for (unsigned long i = 0; i < n; i++) s += f(i); "
                   "return s; }\n")
    report = tmp_path / "cx.json"
    proc = ftlab("explore", "--guest", str(src), "--entry", "work", "--arch", "riscv64",
                 "--scheme", "v6.8", "--operation", "enable", "--filter", "f",
                 "--preemptions", "1", "-o", str(report), env=env)
    assert proc.returncode == 1
    src.unlink()  # replay rebuilds from the source the report carries
    (tmp_path / "no-home").mkdir(mode=0o500)
    proc = ftlab("replay", str(report), env=env)
    assert proc.returncode == 1 and "reproduced: " in proc.stdout
    assert list((cache / "replay").glob("*-mine.c"))


# --- 5. output paths -----------------------------------------------------------------------------
@pytest.mark.parametrize("output,message", [(".", "is a directory"),
                                            ("/missing/x", "no such directory")])
def test_bad_output_refused_before_the_work(output, message):
    proc = ftlab(*TRACE, "-o", output)
    assert proc.returncode == 2 and message in proc.stderr


def test_failed_output_is_rescued(tmp_path):
    env = ftlab_env(FTLAB_CACHE=str(tmp_path / "cache"))
    proc = ftlab(*TRACE, "-o", "/dev/full", env=env)
    assert proc.returncode == 1 and "saved in" in proc.stderr
    saved = Path(proc.stderr.split("saved in ")[1].split()[0])
    assert saved.parent == tmp_path / "cache" / "rescued"
    assert saved.read_text().startswith("# tracer: function")
    with open("/dev/full", "w") as full:  # stdout on a full disk
        proc = ftlab("explore", "riscv64-v6.8-enable", "--preemptions", "1", stdout=full,
                     env=env)
    assert proc.returncode == 1 and "could not write stdout" in proc.stderr
    saved = Path(proc.stderr.split("saved in ")[1].split()[0])
    assert "invariant broken" in saved.read_text()


def test_output_written_through_a_rename(tmp_path):
    out = tmp_path / "trace.txt"
    out.write_text("old")
    proc = ftlab(*TRACE, "-o", str(out))
    assert proc.returncode == 0 and out.read_text().startswith("# tracer: function")
    assert [p.name for p in tmp_path.iterdir()] == ["trace.txt"]
    # -o /dev/stdout with stdout on a file: written in place, once, not renamed over /dev
    with open(tmp_path / "stdout.txt", "w") as f:
        proc = ftlab(*TRACE, "-o", "/dev/stdout", stdout=f)
    assert proc.returncode == 0 and Path("/dev/stdout").is_symlink()
    text = (tmp_path / "stdout.txt").read_text()
    assert text.startswith("# tracer: function") and "hart 0" not in text


def test_bench_report_to_a_file_refused_before_measuring(tmp_path):
    target = tmp_path / "report"
    target.write_text("")
    start = time.monotonic()
    proc = ftlab("bench", "report", "-o", str(target), "--quick", "--arch", "x86_64")
    assert proc.returncode == 2 and "not a directory" in proc.stderr
    assert time.monotonic() - start < 20


def test_bench_report_that_cannot_be_written_keeps_the_results(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "report"
    (out / "README.md").mkdir(parents=True)  # the report's own file cannot be written
    env = ftlab_env(FTLAB_CACHE=str(tmp_path / "cache"))
    proc = ftlab("bench", "report", "--from-results", str(REPO / "docs/cost-lab/results.json"),
                 "-o", str(out), env=env)
    assert proc.returncode == 1 and "--from-results" in proc.stderr
    saved = Path(proc.stderr.split("saved in ")[1].split()[0])
    assert json.loads(saved.read_text()) == json.loads(
        (REPO / "docs/cost-lab/results.json").read_text())


# --- 6. replay input -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def counterexample(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("cx") / "cx.json"
    proc = ftlab("explore", "riscv64-v6.8-enable", "--preemptions", "1", "-o", str(path))
    assert proc.returncode == 1
    return json.loads(path.read_text())


def _mutate(doc: dict, how: str) -> object:
    doc = json.loads(json.dumps(doc))
    if how == "list":
        return [doc]
    if how == "harts-text":
        doc["harts"] = "two"
    elif how == "harts-huge":
        doc["harts"] = 10**6
    elif how == "count-text":
        doc["schedule"][0][1] = "x"
    elif how == "count-negative":
        doc["schedule"][0][1] = -3
    elif how == "count-huge":
        doc["schedule"][0][1] = 10**12
    elif how == "actor":
        doc["schedule"][0][0] = "rm -rf"
    elif how == "no-schedule":
        del doc["schedule"]
    elif how == "custom-missing":
        doc["scenario"] = "mine"
    elif how == "arch":
        doc["arch"] = 3
    return doc


REPLAY_CASES = [
    ("list", "not an object"), ("harts-text", "'harts' must be"), ("harts-huge", "'harts' is"),
    ("count-text", "positive integer"), ("count-negative", "positive integer"),
    ("count-huge", "longer than any run"), ("actor", "not an actor"),
    ("no-schedule", "no counterexample"), ("custom-missing", "'custom' is missing"),
    ("arch", "'arch' must be"),
]


@pytest.mark.parametrize("how,message", REPLAY_CASES)
def test_replay_report_checks(counterexample, how, message):
    from ftlab.errors import FtlabError
    from ftlab.explore.report import check_report

    with pytest.raises(FtlabError, match=message.replace("(", r"\(")):
        check_report(_mutate(counterexample, how))


@pytest.mark.parametrize("how", ["list", "count-negative", "count-huge", "no-schedule"])
def test_replay_refuses_a_bad_report(counterexample, tmp_path, how):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_mutate(counterexample, how)))
    start = time.monotonic()
    proc = ftlab("replay", str(path))
    assert proc.returncode == 1 and dict(REPLAY_CASES)[how] in proc.stderr, proc.stderr
    assert time.monotonic() - start < 20
    assert "reproduced" not in proc.stdout and "no longer breaks" not in proc.stdout


def test_replay_of_unreadable_input(tmp_path):
    binary = tmp_path / "bin.json"
    binary.write_bytes(bytes(range(256)))
    for path in (binary, tmp_path, tmp_path / "none.json"):
        proc = ftlab("replay", str(path))
        assert proc.returncode == 1 and "not a readable explorer report" in proc.stderr


# --- 7. usage errors -----------------------------------------------------------------------------
RUN = ["run", MACHINE_C, "--arch", "riscv64", "--entry", "neg_char"]


@pytest.mark.parametrize("argv,message", [
    (["run", MACHINE_C, "--arch", "arm64", "--entry", "whoami", "--harts", "1000"], "--harts"),
    (["run", MACHINE_C, "--arch", "arm64", "--entry", "whoami", "--max-insns", "-5"],
     "--max-insns"),
    ([*TRACE, "--buffer-size-kb", "0"], "--buffer-size-kb"),
    ([*TRACE, "--buffer-size-kb", "-1"], "--buffer-size-kb"),
    ([*TRACE, "--max-graph-depth", "-1"], "--max-graph-depth"),
    ([*RUN, "--args", "18446744073709551616"], "64 bits"),
    ([*RUN, "--args", "1,2"], "takes 1 argument"),
    (["attach", MACHINE_C, "--arch", "arm64", "--entry", "whoami", "--format", "xml"], "xml"),
    ([*TRACE, "--args", "1,2,3,4,5,6,7"], "at most 6"),
    (["explore", "x86_64-int3-enable", "--budget", "-1"], "--budget"),
    (["explore", "x86_64-int3-enable", "--budget", "nan"], "--budget"),
    (["explore", "x86_64-int3-enable", "--harts", "16", "--hotplug"], "with --hotplug"),
    (["explore", "x86_64-int3-enable", "--preemptions", "100000"], "--preemptions"),
    (["explore", "x86_64-int3-enable", "--strategy", "random", "--schedules", "0"],
     "--schedules"),
    (["explore", "x86_64-int3-enable", "--jobs", "0"], "--jobs"),
])
def test_usage_errors_exit_2(argv, message):
    proc = ftlab(*argv)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("ftlab: error:") and message in proc.stderr


def test_entry_arguments_against_the_prototype():
    # beyond 64 bits: no C integer holds it (a usage error, not a wrap to 0)
    from ftlab.guest.model import FuncModel, Param, TypeInfo
    from ftlab.validate import check_entry_args

    model = FuncModel("f", 0, TypeInfo("long", 8, True), (Param("x", TypeInfo("int", 4, True)),))
    with pytest.raises(Exception, match="no C integer type holds it"):
        check_entry_args(model, [-(2**63) - 1])
    # narrower: converted as a C call converts it, with a note saying so
    proc = ftlab(*RUN, "--args", "4294967301")
    assert (proc.returncode, proc.stdout) == (0, "hart 0: -5\n")
    assert "is passed as 5, as C converts it" in proc.stderr


def test_directory_as_source():
    proc = ftlab("run", str(REPO / "tests"), "--arch", "arm64", "--entry", "f")
    assert proc.returncode == 1 and "is a directory" in proc.stderr


def test_output_naming_an_input_is_refused(tmp_path):
    src = tmp_path / "keep.c"
    src.write_text("long f(void) { return 1; }\n")
    proc = ftlab("trace", str(src), "--arch", "x86_64", "--entry", "f", "-o", str(src))
    assert proc.returncode == 2 and "input file" in proc.stderr
    assert src.read_text() == "long f(void) { return 1; }\n"


def test_closed_stdout_rescues_the_result(tmp_path):
    env = ftlab_env(FTLAB_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "ftlab", "run", MACHINE_C, "--arch", "arm64",
                           "--entry", "whoami"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, timeout=120,
                          preexec_fn=lambda: os.close(1))
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1 and "stdout is closed" in proc.stderr
    saved = Path(proc.stderr.split("saved in ")[1].split()[0])
    assert saved.read_text() == "hart 0: 0\n"


def test_replay_of_deeply_nested_json(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    proc = ftlab("replay", str(path))
    assert proc.returncode == 1 and "nested too deeply" in proc.stderr
