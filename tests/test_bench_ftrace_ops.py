"""The ftrace-ops benchmark (ftlab.bench.ftrace_ops) on small bounds: exact, deterministic
instruction counts and the shapes the kernel's figures have."""

import math

import pytest
from unicorn import UC_HOOK_CODE

from ftlab.bench.ftrace_ops import (
    LOOP,
    UNTRACED,
    Bench,
    Config,
    format_summary,
    format_table,
    run_ftrace_ops,
    summarize,
)
from ftlab.ftrace.schemes import get_scheme
from ftlab.machine.counting import counting
from ftlab.machine.machine import Scheduler
from ftlab.session import load

CALL_OPS = [("arm64", "callops"), ("riscv64", "v6.16-callops")]
LIST_OPS = [("x86_64", "int3"), ("arm64", "nocallops"), ("riscv64", "v6.16")]


def _counts(rows):
    return {r["label"]: r["instructions_per_call"] for r in rows}


def _bench(arch, scheme, config, dynamic_ops=True):
    from ftlab.bench.ftrace_ops import GUEST

    image = load([GUEST], arch, scheme=scheme)
    return Bench(image, get_scheme(arch, scheme), config, dynamic_ops)


def _per_call(bench, n1=8, n2=40):
    bench.warm_up(n2)
    return (bench.count(n2) - bench.count(n1)) / (n2 - n1)


@pytest.mark.parametrize("arch,scheme", CALL_OPS + LIST_OPS)
def test_counts_are_exact_and_deterministic(arch, scheme):
    first = run_ftrace_ops(arch, scheme, irrelevant=(0, 1), timed=False)
    second = run_ftrace_ops(arch, scheme, irrelevant=(0, 1), timed=False)
    assert _counts(first) == _counts(second)
    assert all(isinstance(r["instructions_per_call"], int) for r in first)
    assert all(r["ns_per_call"] is None and r["overhead_ns"] is None for r in first)
    untraced = first[0]
    assert untraced["config"] == "untraced" and untraced["overhead_instructions"] == 0
    for row in first[1:]:
        assert row["traced"]
        assert row["overhead_instructions"] > 0
        assert row["overhead_instructions"] == (row["instructions_per_call"]
                                                - untraced["instructions_per_call"])
    kinds = {r["config"] for r in first}
    assert "function-tracer" in kinds
    # arm64 without CALL_OPS has no direct calls: the row is left out, not an error
    assert ("direct" in kinds) == (scheme != "nocallops")


@pytest.mark.parametrize("arch,scheme", CALL_OPS)
def test_call_ops_cost_does_not_depend_on_irrelevant_ops(arch, scheme):
    counts = _counts(run_ftrace_ops(arch, scheme, irrelevant=(0, 10), direct=False,
                                    tracer=False, timed=False))
    assert counts["ops R=1 K=0"] == counts["ops R=1 K=10"]
    assert counts["ops R=1 K=0"] > counts["untraced"]


@pytest.mark.parametrize("arch,scheme", LIST_OPS)
def test_list_ops_cost_grows_with_irrelevant_ops(arch, scheme):
    counts = _counts(run_ftrace_ops(arch, scheme, irrelevant=(0, 1, 10), direct=False,
                                    tracer=False, timed=False))
    assert counts["untraced"] < counts["ops R=1 K=0"] < counts["ops R=1 K=1"] \
        < counts["ops R=1 K=10"]


@pytest.mark.parametrize("arch,scheme", [("arm64", "callops"), ("riscv64", "v6.16")])
def test_many_relevant_ops_go_through_the_list(arch, scheme):
    counts = _counts(run_ftrace_ops(arch, scheme, relevant=2, irrelevant=(0,), direct=False,
                                    tracer=False, timed=False, many_relevant=(1,)))
    assert counts["untraced"] < counts["ops R=1 K=0"] < counts["ops R=2 K=0"]


@pytest.mark.parametrize("arch,scheme", [("arm64", "callops"), ("x86_64", "int3")])
def test_untraced_count_equals_the_baseline(arch, scheme):
    base = _per_call(_bench(arch, scheme, UNTRACED))
    # irrelevant ops alone leave bench_target's site disabled
    assert _per_call(_bench(arch, scheme, Config("ops", 0, 10))) == base
    # registering then unregistering brings the site back to its untraced form
    bench = _bench(arch, scheme, Config("ops", 1, 3))
    assert _per_call(bench) > base
    for ops in list(bench.ftrace.ops):
        bench.ftrace.unregister(ops)
    assert _per_call(bench) == base
    rows = run_ftrace_ops(arch, scheme, irrelevant=(), direct=False, tracer=False, timed=False)
    assert rows[0]["instructions_per_call"] == base


@pytest.mark.parametrize("arch,scheme,config", [
    ("riscv64", "v6.16-callops", Config("function-tracer", 1, 0)),
    ("x86_64", "int3", Config("ops", 1, 2)),
    ("arm64", "callops", Config("direct", 1, 0)),
])
def test_block_counts_match_a_per_instruction_hook(arch, scheme, config):
    bench = _bench(arch, scheme, config)
    bench.warm_up(40)
    by_blocks = bench.count(25)
    seen = [0]

    def each(uc, addr, size, data):
        seen[0] += 1

    uc = bench.machine.harts[0].uc
    handle = uc.hook_add(UC_HOOK_CODE, each)
    uc.ctl_flush_tb()
    bench.run(25)
    uc.hook_del(handle)
    assert seen[0] == by_blocks


def test_slices_ending_inside_blocks_are_uncounted():
    bench = _bench("arm64", "callops", Config("ops", 1, 1))
    bench.warm_up(40)
    whole = bench.count(25)
    m = bench.machine
    with counting(m) as counters:
        m.spawn(LOOP, [25])
        # exact (count=) slices stop mid-block
        sched = Scheduler(m, seed=3, slice_range=(3, 17), exact=True)
        sched.run()
    assert sched.slices > 100
    assert sum(c.total for c in counters) == whole


def test_dynamic_ops_use_the_list_function_without_call_ops():
    alone = Config("ops", 1, 0)
    direct_func = _per_call(_bench("arm64", "nocallops", alone, dynamic_ops=False))
    via_list = _per_call(_bench("arm64", "nocallops", alone, dynamic_ops=True))
    assert via_list > direct_func
    # CALL_OPS sites call the literal's ops->func either way
    assert _per_call(_bench("arm64", "callops", alone, dynamic_ops=False)) == \
        _per_call(_bench("arm64", "callops", alone, dynamic_ops=True))


def test_timed_run_and_report():
    rows = run_ftrace_ops("arm64", "callops", irrelevant=(0,), direct=False, tracer=False,
                          quick=True, target=0.01, repeat=1)
    rows += run_ftrace_ops("arm64", "nocallops", irrelevant=(0,), direct=False, tracer=False,
                           quick=True, target=0.01, repeat=1)
    for r in rows:
        # a timed figure is a difference of two wall-clock runs: on a loaded machine it can be
        # anything, so only its presence is a test (figures come from the bench scripts)
        assert math.isfinite(r["ns_per_call"]) and r["n_time"] > 0
        for key in ("arch", "scheme", "config", "relevant", "irrelevant", "traced",
                    "instructions_per_call", "ns_per_call", "overhead_instructions",
                    "overhead_ns"):
            assert key in r
    assert [r["call_ops"] for r in rows] == [True, True, False, False]
    table = format_table(rows)
    assert "ops R=1 K=0" in table and "callops (CALL_OPS)" in table
    (summary,) = summarize(rows)
    assert summary["arch"] == "arm64"
    assert summary["traced_untraced_insns"] > 1
    assert summary["list_call_ops_overhead_insns"] > 1
    assert "list ops (nocallops) / CALL_OPS" in format_summary([summary])
