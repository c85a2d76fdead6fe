"""Built-in race-explorer scenarios and the user's own (`--guest ... --operation ...`)."""

from __future__ import annotations

from pathlib import Path

from ftlab.errors import UsageError
from ftlab.explore.world import EXPLORE_C, TRAMP_C, Scenario, World


def _trace_target(w: World) -> None:
    """The tracer is already on (for a function the workload never calls): enabling `target`
    is then only the site update, which is what the scheme's patching protocol is about."""
    t = w.instance("t")
    t.set_filter(["idle_traced"])
    t.set_tracer("function")


def _enable(w: World) -> None:
    w.instance("t").set_filter(["target"], append=True)


def _first_tracer_setup(w: World) -> None:
    w.instance("t").set_filter(["target"])


def _first_tracer(w: World) -> None:
    w.instance("t").set_tracer("function")


def _enabled_setup(w: World) -> None:
    _first_tracer_setup(w)
    _first_tracer(w)


def _disable(w: World) -> None:
    w.instance("t").set_tracer("nop")


def _direct_near(w: World) -> None:
    ops = w.ftrace.new_ops("direct", "ftrace_stub")
    w.ftrace.set_filter(ops, ["target"])
    w.ftrace.register_direct(ops, w.near_tramp)
    w.direct_ops = ops


def _direct_swap(w: World) -> None:
    w.ftrace.modify_direct(w.direct_ops, w.far_tramp)


def _two_tracers(w: World) -> None:
    _enabled_setup(w)
    other = w.instance("o")
    other.set_filter(["other"])
    other.set_tracer("function")


def _drop_second_tracer(w: World) -> None:
    w.instance("o").set_tracer("nop")


def _fexit_attached(w: World) -> None:
    from ftlab.bpf.attach import BpfManager, find_programs

    w.bpf = BpfManager(w.ftrace)
    for prog in find_programs(w.image):
        w.bpf.attach(prog, prog.target)
    w.bpf.commit()


def _detach(protocol: str):
    def op(w: World) -> None:
        w.bpf.detach(w.bpf.trampolines["sleepy"], protocol)
    return op


def _s(name, arch, scheme, expect, description, setup, operation, **kw) -> Scenario:
    return Scenario(name, arch, scheme, expect, description, setup, operation, **kw)


SCENARIOS = {s.name: s for s in [
    _s("riscv64-v6.8-enable", "riscv64", "v6.8", "violation",
       "nop;nop -> auipc;jalr under stop_machine: a task held between the two resumes into "
       "a jalr whose auipc never ran (seed 003)", _trace_target, _enable),
    _s("riscv64-v6.8-modify", "riscv64", "v6.8", "violation",
       "retarget a direct call: old auipc + new jalr lands on neither target (seed 003)",
       _direct_near, _direct_swap),
    _s("riscv64-v6.16-callops-enable", "riscv64", "v6.16-callops", "safe",
       "auipc written at boot, only the jalr word flips; the ops literal first",
       _trace_target, _enable),
    _s("riscv64-v6.16-callops-modify", "riscv64", "v6.16-callops", "safe",
       "retarget a direct call out of JALR range: through ftrace_caller and the literal",
       _direct_near, _direct_swap),
    _s("riscv64-v6.16-call-dest", "riscv64", "v6.16", "find",
       "2 -> 1 ops without CALL_OPS: function_trace_op and ftrace_call_dest are published "
       "with smp_wmb and an IPI each (seed 004)", _two_tracers, _drop_second_tracer),
    _s("arm64-callops-enable", "arm64", "callops", "safe",
       "mov x9, x30 at boot, NOP -> BL, literal first", _trace_target, _enable),
    _s("arm64-callops-direct-swap", "arm64", "callops", "safe",
       "BL from one direct trampoline to another, and the literal's direct_call",
       _direct_near, _direct_swap),
    _s("arm64-twoinsn-enable", "arm64", "twoinsn", "violation",
       "mov x9, x30 and bl both written at enable time", _trace_target, _enable),
    _s("x86_64-int3-enable", "x86_64", "int3", "safe",
       "nop5 -> call through int3, tail, first byte, with syncs", _trace_target, _enable),
    _s("x86_64-int3-first-tracer", "x86_64", "int3", "find",
       "the first tracer: ftrace_call and function_trace_op change too; a task holding the "
       "old op across the update calls the new function", _first_tracer_setup, _first_tracer),
    _s("x86_64-naive-enable", "x86_64", "naive", "violation",
       "the 5 bytes written in place: a CPU can fetch a torn instruction",
       _trace_target, _enable),
    _s("tramp-free-naive", "x86_64", "int3", "violation",
       "detach an fexit trampoline and free its image at once", _fexit_attached,
       _detach("naive"), guest=TRAMP_C, entry="sleeper", traced=("sleepy",), harts=1),
    _s("tramp-free-rcu-tasks-only", "x86_64", "int3", "violation",
       "free after one RCU-tasks grace period: a task that slept in the original (a "
       "quiescent state) returns into the freed image", _fexit_attached,
       _detach("rcu-tasks-only"), guest=TRAMP_C, entry="sleeper", traced=("sleepy",), harts=1),
    _s("tramp-free-kernel", "x86_64", "int3", "safe",
       "bpf_tramp_image_put: jump over fexit, RCU-tasks, the image reference drains, "
       "RCU-tasks, free", _fexit_attached, _detach("kernel"), guest=TRAMP_C,
       entry="sleeper", traced=("sleepy",), harts=1),
    _s("riscv64-v6.16-seed004-0to1", "riscv64", "v6.16", "find",
       "seed 004: the first tracer (0 -> 1) while a hart comes online and calls target; "
       "ftrace_update_ftrace_func() as posted and merged: WRITE_ONCE, smp_wmb, "
       "smp_call_function", _first_tracer_setup, _first_tracer, harts=0, hotplug=True,
       calls=1, invariant="stale load"),
    _s("riscv64-v6.16-seed004-1to0", "riscv64", "v6.16", "find",
       "seed 004: the last tracer goes (1 -> 0) while a hart comes online and calls target",
       _enabled_setup, _disable, harts=0, hotplug=True, calls=1, invariant="stale load"),
]}

OPERATIONS = {"enable": (_first_tracer_setup, _first_tracer),
              "disable": (_enabled_setup, _disable),
              "modify": (_direct_near, _direct_swap),
              "direct-swap": (_direct_near, _direct_swap)}


def get_scenario(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise UsageError(f"unknown scenario '{name}'; valid: {', '.join(SCENARIOS)}")
    return SCENARIOS[name]


def custom_scenario(guest: str, entry: str, arch: str, scheme: str, operation: str,
                    filters: list[str]) -> Scenario:
    if operation not in OPERATIONS:
        raise UsageError(f"unknown operation '{operation}'; valid: {', '.join(OPERATIONS)}")
    setup, op = OPERATIONS[operation]
    globs = filters or ["*"]

    def setup_f(w: World) -> None:
        if operation in ("modify", "direct-swap"):
            ops = w.ftrace.new_ops("direct", "ftrace_stub")
            w.ftrace.set_filter(ops, globs)
            w.ftrace.register_direct(ops, w.near_tramp)
            w.direct_ops = ops
        else:
            w.instance("t").set_filter(globs)
            if operation == "disable":
                w.instance("t").set_tracer("function")

    name = f"{Path(guest).name}:{entry}:{arch}:{scheme}:{operation}"
    return Scenario(name, arch, scheme, "find", f"{operation} on {', '.join(globs)}", setup_f,
                    op, guest=Path(guest), entry=entry,
                    custom={"entry": entry, "operation": operation, "filter": list(filters)})


__all__ = ["SCENARIOS", "get_scenario", "custom_scenario", "EXPLORE_C"]
