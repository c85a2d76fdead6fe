"""Detaching a trampoline while tasks are inside it (kernel/bpf/trampoline.c
bpf_tramp_image_put): the kernel's protocol never frees the image early; the shortcuts do."""

import pytest

from ftlab.bpf.attach import BpfManager, find_programs
from ftlab.explore.world import TRAMP_C as SLEEP_C  # noqa: E402  the explorer's workload
from ftlab.ftrace.core import Ftrace
from ftlab.ftrace.schemes import get_scheme
from ftlab.machine.machine import Machine, Scheduler
from ftlab.machine.task import TaskState
from ftlab.session import load


def setup(arch):
    image = load([SLEEP_C], arch)
    m = Machine(image, harts=1)
    ft = Ftrace(m, get_scheme(arch, None))
    ft.boot()
    bm = BpfManager(ft)
    prog = find_programs(image)[0]
    bm.attach(prog, "sleepy")
    bm.commit()
    tasks = [m.spawn("sleeper", [4]) for _ in range(2)]
    sched = Scheduler(m, seed=2, slice_range=(50, 400))
    for t in tasks:
        sched.enqueue(t)
    return image, m, bm, sched, tasks


def sleeping_in_original(m, image, sched, tramp):
    """Run until a task is parked voluntarily inside sleepy, called from the trampoline."""
    for _ in range(10_000):
        sched.step()
        for t in sched.runq:
            frames = [f.text for f in m.task_backtrace(t)]
            if t.voluntary and any(f.startswith("sleepy+") for f in frames) and any(
                    f.startswith("bpf_trampoline_sleepy") for f in frames):
                return t
    raise AssertionError("no task slept inside the traced function")


@pytest.mark.parametrize("arch", ["x86_64", "arm64", "riscv64", "x86_32"])
@pytest.mark.parametrize("protocol,safe", [("kernel", True), ("rcu-tasks-only", False),
                                           ("naive", False)])
def test_detach_while_a_task_sleeps_in_the_original(arch, protocol, safe):
    image, m, bm, sched, tasks = setup(arch)
    tr = bm.trampolines["sleepy"]
    sleeper = sleeping_in_original(m, image, sched, tr)
    sched.runq.remove(sleeper)
    m.sleep(sleeper)  # it sleeps on: the other task goes on meanwhile
    bm.detach(tr, protocol)
    sched.run()
    m.wake(sleeper)  # wakes up and returns through the trampoline
    sched.run()
    faults = [t.fault for t in tasks if t.fault is not None]
    if safe:
        assert not faults, faults[0].report()
        assert all(t.state == TaskState.DONE and t.result == 10 for t in tasks)
        assert (tr.image, tr.size) in m.freed, "freed once nobody can run it"
        assert not m.deferred
    else:
        assert faults, "the image was freed under a sleeping task"
        assert m.in_freed_text(faults[0].pc)


@pytest.mark.parametrize("arch", ["x86_64", "arm64", "riscv64", "x86_32"])
def test_detach_while_a_task_is_preempted_inside_the_trampoline(arch):
    image, m, bm, sched, tasks = setup(arch)
    tr = bm.trampolines["sleepy"]
    hart = m.harts[0]
    sched.runq.clear()
    m.switch_in(hart, tasks[0])
    while not tr.image <= hart.pc < tr.image + tr.size:
        m.run_slice(hart, 1)
    for _ in range(5):
        m.run_slice(hart, 1)
    assert tr.image <= hart.pc < tr.image + tr.size
    sched.enqueue(m.switch_out(hart))  # preempted in the trampoline, not quiescent
    sched.enqueue(tasks[1])
    bm.detach(tr, "kernel")
    assert m.deferred, "the grace period waits for the preempted task"
    sched.run()
    assert all(t.fault is None and t.result == 10 for t in tasks)
    assert (tr.image, tr.size) in m.freed
