"""The race explorer: every built-in scenario gets its verdict within a small bound, and
every counterexample replays to the same failure."""

import json

import pytest

from ftlab.cli import main
from ftlab.explore.parallel import explore_parallel
from ftlab.explore.report import replay
from ftlab.explore.scenarios import SCENARIOS, get_scenario
from ftlab.explore.search import canonical_key, execute, explore_exhaustive, explore_random
from ftlab.explore.world import World

VIOLATIONS = [n for n, s in SCENARIOS.items() if s.expect == "violation"]
# safe within one preemption here; benchmarks/explore.py runs bound 2
SAFE = [n for n, s in SCENARIOS.items() if s.expect == "safe"]


@pytest.mark.parametrize("name", VIOLATIONS)
def test_unsafe_schemes_have_a_counterexample(name, tmp_path, capsys):
    out_file = tmp_path / "cx.json"
    code = main(["explore", name, "--preemptions", "1", "-o", str(out_file)])
    out, _ = capsys.readouterr()
    assert code == 1, out
    doc = json.loads(out_file.read_text())
    assert doc["verdict"] == "violation" and doc["preemptions"] == 1
    assert doc["schedule"] and doc["invariant"]
    # replay reproduces the same invariant
    world, run = replay(doc)
    assert run.violation is not None and run.violation.invariant == doc["invariant"]
    assert main(["replay", str(out_file)]) == 1
    assert "reproduced: " + doc["invariant"] in capsys.readouterr()[0]


@pytest.mark.parametrize("name", SAFE)
def test_safe_schemes_within_one_preemption(name):
    world = World(get_scenario(name))
    out = explore_exhaustive(world, 1)
    assert out.verdict == "safe", out.execution and out.execution.violation
    assert out.stats.schedules > 20


def test_v68_counterexample_is_the_seed_003_race():
    world = World(get_scenario("riscv64-v6.8-enable"))
    out = explore_exhaustive(world, 1)
    run = execute(world, out.execution.schedule, record=True)
    last = run.actions[-1]
    # the task ran the first NOP, was held, and resumed into the new jalr
    assert last.hart is not None and last.text.startswith("target+0x4: jalr")
    assert any(a.text.startswith("stop_machine begins") for a in run.actions)


def test_arm64_twoinsn_cmodx_undefined_instruction():
    """A hart fetching `mov x9, x30` while it is being written may, by the Arm ARM, execute
    an undefined instruction: the explorer offers that choice and it is a violation."""
    world = World(get_scenario("arm64-twoinsn-enable"))
    # the patcher writes its code, then hart 0 runs to the rewritten entry before any sync
    base = execute(world, ["P"] * 8)
    offered = None
    for i, d in enumerate(base.decisions):
        if "H0:udf" in d.enabled:
            offered = [x.chosen for x in base.decisions[:i]] + ["H0:udf"]
            break
    if offered is None:  # find it from a hart-first schedule instead
        run = execute(world, ["P"] * 5 + ["H0"] * 3)
        offered = next([x.chosen for x in run.decisions[:i]] + ["H0:udf"]
                       for i, d in enumerate(run.decisions) if "H0:udf" in d.enabled)
    run = execute(world, offered)
    assert run.violation is not None and run.violation.invariant == "undefined instruction"
    assert "CMODX" in run.violation.detail


def test_random_strategy_finds_the_v68_race():
    world = World(get_scenario("riscv64-v6.8-enable"))
    out = explore_random(world, seed=1, schedules=300)
    assert out.verdict == "violation"


def test_call_dest_verdict_and_budget_exit_code(capsys):
    code = main(["explore", "riscv64-v6.16-call-dest", "--preemptions", "1", "--format",
                 "json"])
    doc = json.loads(capsys.readouterr()[0])
    assert code == 1 and doc["verdict"] == "violation"
    assert "function_trace_call" in doc["detail"]
    code = main(["explore", "arm64-callops-enable", "--budget", "0.01"])
    assert code == 3 and "incomplete" in capsys.readouterr()[0]


def test_custom_guest(tmp_path, capsys):
    src = tmp_path / "mine.c"
    src.write_text("__attribute__((noinline)) unsigned long f(unsigned long x) "
                   "{ return x * 3; }\nunsigned long work(unsigned long n) "
                   "{ unsigned long s = 0; for (unsigned long i = 0; i < n; i++) s += f(i); "
                   "return s; }\n")
    code = main(["explore", "--guest", str(src), "--entry", "work", "--arch", "riscv64",
                 "--scheme", "v6.8", "--operation", "enable", "--filter", "f",
                 "--preemptions", "1"])
    out = capsys.readouterr()[0]
    assert code == 1 and "violation" in out


@pytest.mark.parametrize("argv", [["explore"], ["explore", "nosuch"],
                                  ["explore", "--guest", "x.c"],
                                  ["explore", "arm64-callops-enable", "--strategy", "dfs"],
                                  ["explore", "riscv64-v6.16-seed004-0to1", "--variant", "mb"]])
def test_usage_errors(argv, capsys):
    assert main(argv) == 2


def test_seed004_a_stale_trace_function_after_update_ftrace_func():
    """riscv v6.16 without CALL_OPS: a task that loaded ftrace_call_dest before the update
    and was held before calling it calls the old function after update_ftrace_func()
    returned, whatever barriers and IPIs the update used."""
    world = World(get_scenario("riscv64-v6.16-call-dest"))
    out = explore_exhaustive(world, 1, invariant="stale trace function")
    assert out.verdict == "violation" and out.preemptions == 1
    assert "ftrace_ops_list_func" in out.execution.violation.detail


def test_hotplug_hart_comes_online_during_the_update():
    """A hart brought up mid-update boots with a fresh view: its calls are traced once the
    update completes, like everyone else's (the default schedule brings it up last)."""
    world = World(get_scenario("riscv64-v6.16-callops-enable"), hotplug=True)
    run = execute(world, [], record=True)
    assert run.violation is None
    assert any(a.actor == "ON" for a in run.actions)
    assert any(a.actor == "H2" for a in run.actions)
    # riscv: smp_callin()'s five calls, three scheduling points (the rest have no effect)
    assert len(world.rules.boot) == 5
    boot = ["ON"] * 3
    early = execute(world, boot + ["H2"] * 6)  # online before the patcher starts
    assert early.violation is None


def test_seed004_incoming_hart_misses_the_ipi_unless_smp_mb():
    """Seed 004 under RVWMO: with smp_wmb() the sender's read of cpu_online_mask may miss a
    hart whose later loads still return the old ftrace_call_dest (the store-buffering shape);
    smp_mb() closes it, unless set_cpu_online() were an unordered AMO."""
    sc = get_scenario("riscv64-v6.16-seed004-1to0")
    out = explore_exhaustive(World(sc), 1, invariant=sc.invariant)
    assert out.verdict == "violation" and out.execution.violation.invariant == "stale load"
    assert "IPI to hart(s) none" in "\n".join(
        a.text for a in execute(World(sc), out.execution.schedule, record=True).actions)
    out = explore_exhaustive(World(sc, variants=("smp_mb",)), 1, invariant=sc.invariant)
    assert out.verdict == "safe"
    out = explore_exhaustive(World(sc, variants=("smp_mb", "relaxed-online")), 1,
                             invariant=sc.invariant)
    assert out.verdict == "violation"


def test_seed004_counterexample_replays(tmp_path, capsys):
    out_file = tmp_path / "cx.json"
    code = main(["explore", "riscv64-v6.16-seed004-1to0", "--preemptions", "1", "--variant",
                 "relaxed-online", "--variant", "smp_mb", "-o", str(out_file)])
    assert code == 1
    doc = json.loads(out_file.read_text())
    assert doc["model"].startswith("RVWMO") and doc["variants"] == ["relaxed-online", "smp_mb"]
    assert ["ON", 1] in doc["schedule"] or any(a == "ON" for a, _ in doc["schedule"])
    capsys.readouterr()
    assert main(["replay", str(out_file)]) == 1
    assert "reproduced: stale load" in capsys.readouterr()[0]


@pytest.mark.parametrize("name,bound", [("riscv64-v6.8-enable", 1), ("x86_64-naive-enable", 2),
                                        ("tramp-free-kernel", 1)])
def test_parallel_search_gives_the_sequential_verdict_and_counterexample(name, bound):
    """Work stealing over schedule prefixes: the least violation in the canonical order
    (fewest preemptions, fewest decisions, actor order) whatever the number of workers."""
    world = World(get_scenario(name))
    alone = explore_exhaustive(world, bound)
    shared = explore_parallel(world, lambda: World(get_scenario(name)), bound, jobs=2)
    assert shared.verdict == alone.verdict == SCENARIOS[name].expect
    assert shared.preemptions == alone.preemptions
    if alone.execution is not None:
        assert shared.execution.schedule == alone.execution.schedule
        assert shared.execution.violation.invariant == alone.execution.violation.invariant
    else:  # nothing to prune: the same schedules, the same end states
        assert shared.stats.schedules == alone.stats.schedules
        assert shared.stats.states == alone.stats.states


def test_canonical_order_prefers_fewer_preemptions_then_decisions_then_actors():
    assert canonical_key(0, ["H0"] * 9) < canonical_key(1, ["H0"])
    assert canonical_key(1, ["P", "H0"]) < canonical_key(1, ["P", "H0", "H1"])
    assert canonical_key(1, ["P", "W", "H1"]) < canonical_key(1, ["P", "H0", "H1"])
    assert canonical_key(1, ["H0", "H1"]) < canonical_key(1, ["H0:old", "H0"])
    assert canonical_key(1, ["W", "W2"]) < canonical_key(1, ["W1", "W"])
