"""events/ of the tracefs model: the kernel's layout, sched tracepoints written where ftlab's
scheduler acts, filters, triggers, function commands, snapshot, tracing_cpumask, error_log."""

from __future__ import annotations

import errno
import re
from pathlib import Path

import pytest

from ftlab.ftrace.schemes import get_scheme
from ftlab.session import load
from ftlab.tracefs import Lab, Tracefs
from ftlab.tracefs import events as tev

DEMO = Path(__file__).parent.parent / "ftlab" / "examples" / "demo.c"
_images: dict[str, object] = {}


@pytest.fixture
def lab() -> Lab:
    if "x86_64" not in _images:
        _images["x86_64"] = load([DEMO], "x86_64", scheme=get_scheme("x86_64", None).name)
    lab = Lab(_images["x86_64"], harts=2, io_period=2, fork_period=1)  # type: ignore[arg-type]
    lab.start("sys_sendfile64", [1, 3, 4096])
    return lab


@pytest.fixture
def fs(lab) -> Tracefs:
    return Tracefs(lab)


def errno_of(fn, *args) -> int:
    try:
        fn(*args)
    except OSError as err:
        return err.errno
    return 0


def events_in(text: str) -> list[tuple[str, str]]:
    """(event name, fields) of the trace's tracepoint lines."""
    return re.findall(r"^\s*\S+-\d+\s+\[\d+\] \S+\s+\d+: (sched_\w+): (.*)$", text, re.M)


def test_tree_and_format_files(fs):
    top = set(fs.listdir("/events"))
    assert {"enable", "header_page", "header_event", "sched", "ftrace"} <= top
    files = ["enable", "filter", "format", "id", "trigger"]
    assert fs.listdir("/events/sched/sched_switch") == files
    assert fs.listdir("/events/ftrace/function") == ["format", "id", "trigger"]  # no enable
    fmt = fs.read("/events/sched/sched_switch/format")
    assert fmt.startswith("name: sched_switch\nID: 316\nformat:\n"
                          "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n")
    assert "\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;\n" in fmt
    assert "\tfield:char buf[];\toffset:16;\tsize:0;\tsigned:1;\n" in fs.read(
        "/events/ftrace/print/format")
    # header_page's data area is a sub-buffer less its 16-byte header
    assert "\tfield: char data;\toffset:16;\tsize:4080;\tsigned:1;\n" in fs.read(
        "/events/header_page")
    assert "type_len    :    5 bits" in fs.read("/events/header_event")
    assert fs.read("/available_events").splitlines() == [e.full for e in tev.TRACEPOINTS]
    # every field's offset+size lies inside what pack() writes
    for ev in tev.TRACEPOINTS:
        end = max((f.offset + f.size for f in ev.fields), default=8)
        assert len(ev.pack({})) == end - tev.COMMON_HEADER


def test_set_event_and_enable_files(fs, lab):
    fs.write("/set_event", "sched:sched_switch sched_process_fork")
    assert fs.read("/set_event") == "sched:sched_process_fork\nsched:sched_switch\n"
    assert fs.read("/events/sched/enable") == "X\n" and fs.read("/events/enable") == "X\n"
    lab.step(20)
    names = {name for name, _ in events_in(fs.read("/trace"))}
    assert names == {"sched_switch", "sched_process_fork"}
    # the instance's events are its own
    fs.mkdir("/instances/quiet")
    assert fs.read("/instances/quiet/events/enable") == "0\n"
    assert events_in(fs.read("/instances/quiet/trace")) == []
    fs.rmdir("/instances/quiet")
    fs.write("/events/sched/enable", "1")
    assert fs.read("/events/sched/sched_waking/enable") == "1\n"
    fs.write("/set_event", "!sched:*", append=True)
    assert fs.read("/events/enable") == "0\n"
    assert errno_of(fs.write, "/set_event", "nosuch:event") == errno.EINVAL
    assert errno_of(fs.write, "/events/enable", "2") == errno.EINVAL


def test_sched_events_follow_the_scheduler(fs, lab):
    """A forked task: fork and wakeup_new, switched in, exits (X), its pid is new."""
    fs.write("/set_event", "sched:*")
    lab.step(30)
    evs = events_in(fs.read("/trace"))
    forks = [re.search(r"child_pid=(\d+)", f).group(1) for n, f in evs if n == "sched_process_fork"]
    assert len(set(forks)) == len(forks) >= 3
    child = forks[0]
    mine = [(n, f) for n, f in evs if f"pid={child} " in f + " " or f"next_pid={child} " in f]
    order = [n for n, _ in mine]
    assert order.index("sched_wakeup_new") < order.index("sched_switch")
    assert any(n == "sched_process_exit" for n in order)
    assert any(f"prev_pid={child} " in f and "prev_state=X " in f for n, f in mine)


def test_filters(fs, lab):
    ev = tev.SCHED_SWITCH
    pred = tev.parse_filter('prev_pid == 100 && (next_comm ~ "swap*" || !(next_pid < 5))', ev)
    assert pred({"prev_pid": 100, "next_comm": "swapper/0", "next_pid": 0})
    assert not pred({"prev_pid": 100, "next_comm": "kernel", "next_pid": 1})
    assert not pred({"prev_pid": 101, "next_comm": "swapper/0", "next_pid": 0})
    for bad, pos in (("nosuch == 1", 7), ("prev_pid ~ 3", 9), ("(prev_pid == 1", 0),
                     ("prev_comm < 3", 10), ("prev_pid == x1", 12)):
        with pytest.raises(tev.EventError) as err:
            tev.parse_filter(bad, ev)
        assert err.value.pos == pos, bad
    fs.write("/events/sched/sched_switch/filter", "next_pid == 0")
    fs.write("/events/sched/sched_switch/enable", "1")
    lab.step(20)
    evs = events_in(fs.read("/trace"))
    assert evs and all("next_pid=0 " in f for _, f in evs)
    assert errno_of(fs.write, "/events/sched/sched_switch/filter", "nosuch == 1") == errno.EINVAL
    log = fs.read("/error_log")
    assert re.match(r"\[\s*\d+\.\d{6}\] event filter parse error: error: Field not found\n"
                    r"  Command: nosuch == 1\n {18}\^\n$", log), log
    assert fs.read("/events/sched/sched_switch/filter") == "next_pid == 0\n"  # unchanged
    fs.write("/events/sched/sched_switch/filter", "0")
    assert fs.read("/events/sched/sched_switch/filter") == "none\n"


def test_triggers(fs, lab):
    trig = "/events/sched/sched_process_fork/trigger"
    assert fs.read(trig).startswith("# Available triggers:")
    fs.write(trig, "traceoff:2 if child_pid > 0")
    assert fs.read(trig) == "traceoff:count=2 if child_pid > 0\n"
    assert errno_of(fs.write, trig, "traceoff") == errno.EEXIST
    assert errno_of(fs.write, trig, "nosuch") == errno.EINVAL
    lab.step(10)
    assert fs.read("/tracing_on") == "0\n"
    # the count goes down only when the trigger turns tracing off
    assert fs.read(trig) == "traceoff:count=1 if child_pid > 0\n"
    fs.write(trig, "!traceoff")
    fs.write("/tracing_on", "1")
    # enable_event puts its target in soft mode: "0*" until it fires, then "1*"
    fs.write(trig, "enable_event:sched:sched_switch:1")
    assert fs.read("/events/sched/sched_switch/enable") == "0*\n"
    lab.step(10)
    assert fs.read("/events/sched/sched_switch/enable") == "1*\n"
    assert any(n == "sched_switch" for n, _ in events_in(fs.read("/trace")))
    fs.write(trig, "!enable_event:sched:sched_switch")
    assert fs.read("/events/sched/sched_switch/enable") == "0\n"
    # a snapshot trigger moves what was recorded into the snapshot buffer
    fs.write("/events/sched/sched_process_fork/enable", "1")
    lab.step(20)
    fs.write(trig, "snapshot:1")
    lab.step(20)
    assert "sched_process_fork:" in fs.read("/snapshot")
    fs.write("/snapshot", "0")
    assert "# * Snapshot is freed *" in fs.read("/snapshot")


def test_function_commands(fs, lab):
    fs.write("/set_ftrace_filter", "do_empty:traceoff:1")
    fs.write("/set_ftrace_filter", "do_s*:stacktrace", append=True)
    fs.write("/set_ftrace_filter", "*:mod:nosuchmod", append=True)
    assert fs.read("/set_ftrace_filter") == (
        "#### all functions enabled ####\ndo_empty:traceoff:count=1\n"
        "do_splice_direct:stacktrace:unlimited\ndo_sendfile:stacktrace:unlimited\n"
        "*:mod:nosuchmod\n")
    lab.step(10)
    assert fs.read("/tracing_on") == "0\n"
    assert "do_empty:traceoff:count=0\n" in fs.read("/set_ftrace_filter")
    fs.write("/set_ftrace_filter", "!do_s*:stacktrace", append=True)
    assert "stacktrace" not in fs.read("/set_ftrace_filter")
    assert errno_of(fs.write, "/set_ftrace_filter", "nosuch:traceon") == errno.EINVAL
    assert errno_of(fs.write, "/set_ftrace_filter", "do_empty:nosuchcmd") == errno.EINVAL
    assert errno_of(fs.write, "/set_ftrace_filter", "!do_empty:stacktrace") == errno.ENOENT
    # a stacktrace probe records a stack where the function runs
    fs.write("/tracing_on", "1")
    fs.write("/trace", "")
    fs.write("/set_ftrace_filter", "do_sendfile:stacktrace:2", append=True)
    lab.step(10)
    assert fs.read("/trace").count(" => do_sendfile\n") == 2


def test_cpumask_snapshot_and_tracing_on(fs, lab):
    fs.write("/current_tracer", "function")
    fs.write("/tracing_cpumask", "1")
    assert fs.read("/tracing_cpumask") == "1\n"
    fs.write("/trace", "")
    lab.step(10)
    cpus = set(re.findall(r"\[(\d{3})\]", fs.read("/trace")))
    assert cpus == {"000"}
    fs.write("/tracing_cpumask", "3")
    assert errno_of(fs.write, "/tracing_cpumask", "xyz") == errno.EINVAL
    fs.write("/snapshot", "1")
    assert "do_sendfile" in fs.read("/snapshot")
    assert "# * Snapshot is allocated *" not in fs.read("/snapshot")
    # function_trace_start: turning tracing back on clears the buffer
    lab.step(3)
    fs.write("/tracing_on", "0")
    assert "do_sendfile" in fs.read("/trace")
    fs.write("/tracing_on", "1")
    assert "do_sendfile" not in fs.read("/trace")


def test_marker_snapshot_trigger_swaps_buffers(fs):
    """A snapshot trigger on ftrace:print (trace_marker) swaps the live and snapshot buffers
    after each write: odd markers end in the live buffer, even ones in the snapshot."""
    fs.write("/events/ftrace/print/trigger", "snapshot")
    assert "# * Snapshot is allocated *" in fs.read("/snapshot")
    for i in range(1, 11):
        fs.write("/trace_marker", f"hello >{i}<")
    assert re.findall(r">(\d+)<", fs.read("/trace")) == ["1", "3", "5", "7", "9"]
    assert re.findall(r">(\d+)<", fs.read("/snapshot")) == ["2", "4", "6", "8", "10"]


def test_function_profiler_counts_hits_per_cpu(fs, lab):
    assert fs.read("/function_profile_enabled") == "0\n"
    fs.write("/function_profile_enabled", "1")
    lab.step(10)
    lines = fs.read("/trace_stat/function0").splitlines()
    assert lines[:2] == ["  Function                               Hit",
                         "  --------                               ---"]
    hits = {ln.split()[0]: int(ln.split()[1]) for ln in lines[2:]}
    # every call of the entry runs the whole chain once: equal counts down the chain
    assert hits["do_sendfile"] == hits["do_empty"] > 0
    assert [int(ln.split()[1]) for ln in lines[2:]] == sorted(hits.values(), reverse=True)
    fs.write("/function_profile_enabled", "0")
    frozen = fs.read("/trace_stat/function0")
    lab.step(5)
    assert fs.read("/trace_stat/function0") == frozen
    assert errno_of(fs.write, "/function_profile_enabled", "2") == errno.EINVAL


def test_readme_advertises_only_what_exists(fs):
    """Each file the README names at the start of a line exists (the selftests grep it)."""
    names = re.findall(r"^  ([a-z_]+(?:/[a-zA-Z_<>]*)?)\s*(?:\t|- )", fs.read("/README"), re.M)
    assert len(names) > 30
    for name in names:
        if "<" in name:
            continue
        path = "/" + name.rstrip("/")
        if name == "trace_stat/functionN":
            path = "/trace_stat/function0"
        assert fs.exists(path), name
    assert "gid=" not in fs.read("/README")  # a FUSE mount cannot honour tracefs' gid=


def test_counter_clock_is_global_and_never_reset(fs, lab):
    """trace_clock counter: one counter for every CPU and instance; clearing a buffer or
    switching clocks does not restart it (the kernel's trace_clock_counter)."""
    fs.mkdir("/instances/other")
    fs.write("/trace_marker", "a")
    first = int(re.search(r"(\d+): tracing_mark_write: a", fs.read("/trace")).group(1))
    fs.write("/trace", "")
    fs.write("/trace_clock", "local")
    fs.write("/trace_clock", "counter")
    fs.write("/instances/other/trace_marker", "b")
    fs.write("/trace_marker", "c")
    second = int(re.search(r"(\d+): tracing_mark_write: b",
                           fs.read("/instances/other/trace")).group(1))
    third = int(re.search(r"(\d+): tracing_mark_write: c", fs.read("/trace")).group(1))
    assert first < second < third
    fs.rmdir("/instances/other")


def test_translated_code_cache_is_flushed_between_rounds(lab, monkeypatch):
    """Bounded memory: Unicorn's code cache (up to 1 GiB) is flushed every TB_FLUSH_ROUNDS
    rounds, between slices (benchmarks/tracefs_memory.py measures the resident set)."""
    from ftlab.tracefs import lab as labmod

    monkeypatch.setattr(labmod, "TB_FLUSH_ROUNDS", 5)
    flushes: list[int] = []
    for hart in lab.machine.harts:
        monkeypatch.setattr(hart.uc, "ctl_flush_tb", lambda h=hart.id: flushes.append(h))
    lab.step(10)
    assert sorted(flushes) == [0, 0, 1, 1]


def test_set_event_pid_follows_either_side_of_a_switch(fs, lab):
    fs.write("/set_event_pid", "100")
    assert fs.read("/set_event_pid") == "100\n"
    fs.write("/set_event", "sched:sched_switch sched:sched_wakeup_new")
    lab.step(20)
    evs = events_in(fs.read("/trace"))
    assert evs
    for name, fields in evs:
        if name == "sched_switch":
            assert "prev_pid=100 " in fields or "next_pid=100 " in fields, fields
        else:
            assert " pid=100 " in " " + fields, fields
    # a switch to the followed task is kept although another task was running (common_pid)
    assert any("next_pid=100 " in f and "prev_pid=100 " not in f for _, f in evs)
