"""Dynamic ftrace on real code, every arch and scheme, checked against an emulator oracle."""

import errno

import pytest

from conftest import guest
from ftlab.ftrace.core import Ftrace
from ftlab.ftrace.schemes import get_scheme, schemes
from ftlab.ftrace.steps import PatchError
from ftlab.ftrace.tracers import TraceInstance
from ftlab.machine.machine import Machine, Scheduler
from ftlab.session import load
from ftlab.trace.events import FuncEvent, GraphEntryEvent, merge_cpus, read_trace_array
from ftrace_oracle import EntryOracle

WORKLOAD = guest("workload.c")
ALL_SCHEMES = [(a, s) for a in ("x86_64", "arm64", "riscv64") for s in schemes(a)] + [
    ("x86_32", "int3")]  # the fourth ISA: its default scheme only (the suite's time budget)
TRACED = ["workload", "do_work", "fib", "apply_ops", "leaf_add", "leaf_mul",
          "not_traced_by_filter"]


def setup(arch, scheme, harts=2):
    image = load([WORKLOAD], arch, scheme=scheme)
    m = Machine(image, harts=harts)
    ft = Ftrace(m, get_scheme(arch, scheme))
    ft.boot()
    return image, m, ft


def func_events(m, tr):
    _, bufs = read_trace_array(m.mem.read, tr.addr, len(m.harts))
    return [e for e in merge_cpus(bufs) if isinstance(e, FuncEvent)]


def by_pid(image, events):
    out = {}
    for e in events:
        out.setdefault(e.pid, []).append((image.func_at(e.ip).name, e.parent_ip))
    return out


def untraced_results(arch, scheme, args, harts=2):
    image, m, _ = setup(arch, scheme, harts)
    tasks = [m.spawn("workload", args) for _ in range(harts)]
    Scheduler(m, seed=5).run()
    return [t.result for t in tasks]


@pytest.mark.parametrize("arch,scheme", ALL_SCHEMES)
def test_function_trace_equals_entry_oracle(arch, scheme):
    image, m, ft = setup(arch, scheme)
    oracle = EntryOracle(m, TRACED, at=lambda f: ft.by_func[f].ip)
    tr = TraceInstance(ft)
    tr.set_tracer("function")
    tasks = [m.spawn("workload", [6, 3]) for _ in range(2)]
    Scheduler(m, seed=5, slice_range=(300, 3000)).run()
    assert all(t.fault is None for t in tasks), [t.fault for t in tasks]
    assert [t.result for t in tasks] == untraced_results(arch, scheme, [6, 3])
    traced = by_pid(image, func_events(m, tr))
    assert set(traced) == {100, 101}
    for pid, calls in traced.items():
        assert calls == oracle.calls[pid], f"pid {pid}"
    assert len(traced[100]) > 100


@pytest.mark.parametrize("arch,scheme", ALL_SCHEMES)
def test_graph_trace_pairs_every_entry(arch, scheme):
    image, m, ft = setup(arch, scheme, harts=1)
    tr = TraceInstance(ft)
    tr.set_filter(["do_work", "fib", "apply_ops", "leaf_*"])
    tr.set_tracer("function_graph")
    task = m.spawn("workload", [5, 2])
    Scheduler(m).run()
    assert task.fault is None and task.result == untraced_results(arch, scheme, [5, 2], 1)[0]
    _, bufs = read_trace_array(m.mem.read, tr.addr, 1)
    events = merge_cpus(bufs)
    stack = []
    for e in events:
        if isinstance(e, GraphEntryEvent):
            assert e.depth == len(stack)
            stack.append(e.func)
        else:
            assert stack.pop() == e.func and e.depth == len(stack)
            assert e.rettime > e.calltime
    assert not stack
    names = {image.func_at(e.func).name for e in events}
    assert names == {"do_work", "fib", "apply_ops", "leaf_add", "leaf_mul"}


@pytest.mark.parametrize("arch", ["x86_64", "arm64", "riscv64"])
def test_filters_notrace_and_negation(arch):
    image, m, ft = setup(arch, None, harts=1)
    tr = TraceInstance(ft)
    tr.set_filter(["leaf_*", "fib"])
    tr.set_filter(["!leaf_mul"], append=True)
    tr.set_filter(["*work*"], append=True)
    tr.set_filter(["workload"], notrace=True)
    tr.set_tracer("function")
    m.spawn("workload", [4, 2])
    Scheduler(m).run()
    names = {image.func_at(e.ip).name for e in func_events(m, tr)}
    assert names == {"leaf_add", "fib", "do_work"}
    enabled = {r.func for r, _ in ft.enabled_functions()}
    assert enabled == names


def test_glob_matching_nothing_is_einval():
    _, _, ft = setup("arm64", None, harts=1)
    tr = TraceInstance(ft)
    with pytest.raises(Exception, match="no function matches 'nosuch_\\*'.*-EINVAL"):
        tr.set_filter(["nosuch_*"])


@pytest.mark.parametrize("arch,scheme", ALL_SCHEMES)
def test_enable_disable_refilter_while_running(arch, scheme):
    """Tracing changes between time slices while tasks run: the trace holds exactly the
    calls the emulator saw while their function was enabled, no more, no fewer."""
    image, m, ft = setup(arch, scheme)
    enabled: set[str] = set()
    oracle = EntryOracle(m, TRACED, at=lambda f: ft.by_func[f].ip,
                         enabled=lambda f: f in enabled)
    tr = TraceInstance(ft)
    tasks = [m.spawn("workload", [5, 80]) for _ in range(2)]
    sched = Scheduler(m, seed=11, slice_range=(200, 2000))
    for t in tasks:
        sched.enqueue(t)
    plan = {3: ("tracer", "function", {"do_work", "fib", "apply_ops", "leaf_add",
                                       "leaf_mul", "workload", "not_traced_by_filter"}),
            10: ("filter", ["fib", "leaf_*"], {"fib", "leaf_add", "leaf_mul"}),
            18: ("filter", ["do_work"], {"do_work"}),
            25: ("tracer", "nop", set()),
            31: ("tracer", "function", {"do_work"})}
    rounds = 0
    caller = image.function("ftrace_caller")
    windows = [(r.site.start, r.site.start + r.site.size) for r in ft.records]
    windows.append((caller.addr, caller.addr + caller.size))

    def in_window(pc: int) -> bool:
        return any(lo <= pc < hi for lo, hi in windows)
    while sched.step():
        rounds += 1
        if rounds in plan:
            # Updates land while no task is inside a site or ftrace_caller. riscv's
            # ftrace_caller loads the CALL_OPS literal twice (mcount-dyn.S), and v6.8 patches
            # a two-instruction site under stop_machine: a task held inside either window can
            # see half an update (seed 003), which is the race explorer's business.
            for hart in m.harts:
                while hart.task and in_window(hart.pc):
                    m.run_slice(hart, 1)
            kind, arg, now = plan[rounds]
            if kind == "tracer":
                tr.set_tracer(arg)
            else:
                tr.set_filter(arg)
            enabled.clear()
            enabled.update(now)
    assert rounds > 31
    assert all(t.fault is None for t in tasks)
    assert [t.result for t in tasks] == untraced_results(arch, scheme, [5, 80])
    traced = by_pid(image, func_events(m, tr))
    for pid in (100, 101):
        assert traced.get(pid, []) == oracle.calls[pid]


@pytest.mark.parametrize("arch,scheme", [("x86_64", "int3"), ("arm64", "callops"),
                                         ("riscv64", "v6.16-callops"), ("riscv64", "v6.16"),
                                         ("riscv64", "v6.8"), ("x86_32", "int3")])
def test_direct_call_alone_and_shared(arch, scheme):
    image, m, ft = setup(arch, scheme, harts=1)
    calls = image.addr("ftlab_direct_calls")
    direct = ft.new_ops("direct", "ftrace_stub")
    ft.set_filter(direct, ["direct_target"])
    ft.register_direct(direct, image.addr("ftlab_direct_tramp"))
    rec = ft.by_func["direct_target"]
    assert rec.call == image.addr("ftlab_direct_tramp"), "the fast path: the site calls it"
    t = m.spawn("call_direct_target", [7])
    Scheduler(m).run()
    assert t.result == sum(3 * i for i in range(7))
    assert m.mem.u64(calls) == 7
    # with the function tracer on the same function: list ops + the direct trampoline slot
    tr = TraceInstance(ft)
    tr.set_filter(["direct_target"])
    tr.set_tracer("function")
    assert rec.call == image.addr("ftrace_caller")
    t = m.spawn("call_direct_target", [5])
    Scheduler(m).run()
    assert t.result == sum(3 * i for i in range(5))
    assert m.mem.u64(calls) == 12
    assert [image.func_at(e.ip).name for e in func_events(m, tr)] == ["direct_target"] * 5
    ft.unregister(direct)
    tr.set_tracer("nop")
    assert rec.call is None
    t = m.spawn("call_direct_target", [3])
    Scheduler(m).run()
    assert m.mem.u64(calls) == 12 and t.result == 9


def test_arm64_nocallops_has_no_direct_calls():
    image, m, ft = setup("arm64", "nocallops", harts=1)
    ops = ft.new_ops("direct", "ftrace_stub")
    ft.set_filter(ops, ["direct_target"])
    with pytest.raises(Exception, match="no direct calls"):
        ft.register_direct(ops, image.addr("ftlab_direct_tramp"))


@pytest.mark.parametrize("arch,scheme", [("x86_64", "int3"), ("arm64", "callops"),
                                         ("x86_32", "int3")])
def test_make_call_validates_old_instruction(arch, scheme):
    image, m, ft = setup(arch, scheme, harts=1)
    rec = ft.by_func["leaf_add"]
    m.mem.write(rec.ip, b"\xcc\xcc\xcc\xcc")
    tr = TraceInstance(ft)
    tr.set_filter(["leaf_add"])
    with pytest.raises(PatchError) as err:
        tr.set_tracer("function")
    assert err.value.code == errno.EINVAL


def test_riscv_v616_make_call_writes_without_reading():
    image, m, ft = setup("riscv64", "v6.16-callops", harts=1)
    rec = ft.by_func["leaf_add"]
    m.mem.write(rec.ip, b"\xff\xff\xff\xff")  # make_call does not look
    tr = TraceInstance(ft)
    tr.set_filter(["leaf_add"])
    tr.set_tracer("function")
    assert rec.call == image.addr("ftrace_caller")
    # modify_call checks the AUIPC word, and only that
    m.mem.write(rec.func_addr, b"\x13\x00\x00\x00")
    other = TraceInstance(ft)
    other.set_filter(["leaf_add"])
    with pytest.raises(PatchError) as err:
        other.set_tracer("function")
    assert err.value.code == errno.EINVAL


@pytest.mark.parametrize("arch", ["arm64", "riscv64"])
def test_call_ops_literal_names_the_ops(arch):
    image, m, ft = setup(arch, None, harts=1)
    a, b = TraceInstance(ft, "a"), TraceInstance(ft, "b")
    a.set_filter(["fib", "leaf_add"])
    b.set_filter(["leaf_add"])
    a.set_tracer("function")
    b.set_tracer("function")
    lit = ft.arch_ops._literal_addr
    assert m.mem.u64(lit(ft.by_func["fib"])) == a.ops.addr
    assert m.mem.u64(lit(ft.by_func["leaf_add"])) == image.addr("ftrace_list_ops")
    assert m.mem.u64(lit(ft.by_func["leaf_mul"])) == image.addr("ftrace_nop_ops")
    m.spawn("workload", [4, 2])
    Scheduler(m).run()
    fa = [image.func_at(e.ip).name for e in func_events(m, a)]
    fb = [image.func_at(e.ip).name for e in func_events(m, b)]
    assert set(fa) == {"fib", "leaf_add"} and set(fb) == {"leaf_add"}
    assert fa.count("leaf_add") == fb.count("leaf_add") == 4
