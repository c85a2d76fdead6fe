"""The machine on real code: determinism, tasks vs harts, interrupts, hotplug, patching, faults."""

from unicorn import UC_HOOK_CODE

from conftest import guest
from ftlab.arch import get_arch
from ftlab.arch.unwind import prologue_state
from ftlab.guest import abi
from ftlab.machine.machine import Machine, Outcome, Scheduler
from ftlab.machine.task import TaskState
from ftlab.session import load, run_entry

MACHINE_C = guest("machine.c")


def _image(arch):
    return load([MACHINE_C], arch)


def _trace_run(image, seed):
    """Run `work` on 2 harts, recording (hart, pc) for every executed instruction."""
    m = Machine(image, harts=2)
    seen = []
    for hart in m.harts:
        hart.uc.hook_add(UC_HOOK_CODE, lambda uc, addr, size, h: seen.append((h, addr)),
                         user_data=hart.id)
    tasks = [m.spawn("work", [300]) for _ in range(3)]
    Scheduler(m, seed=seed, slice_range=(50, 400)).run()
    counter = m.mem.u64(image.addr("shared_counter"))
    return seen, [t.result for t in tasks], counter


def test_same_seed_same_instructions(arch):
    image = _image(arch)
    a, res_a, count_a = _trace_run(image, seed=7)
    b, res_b, count_b = _trace_run(image, seed=7)
    assert count_a == count_b == 900
    assert res_a == res_b
    assert len(a) > 10_000
    assert a == b, "same seed, same instruction stream on every hart"
    c, res_c, _ = _trace_run(image, seed=8)
    assert res_c == res_a
    assert c != a, "another seed interleaves differently"


def test_more_tasks_than_harts_migrate(arch):
    image = _image(arch)
    m = Machine(image, harts=2)
    tasks = [m.spawn("work", [2000]) for _ in range(5)]
    harts_seen = {t.pid: set() for t in tasks}
    orig = m.switch_in

    def spy(hart, task):
        harts_seen[task.pid].add(hart.id)
        orig(hart, task)

    m.switch_in = spy
    Scheduler(m, seed=1, slice_range=(200, 3000)).run()
    assert all(t.state == TaskState.DONE for t in tasks)
    assert len({t.result for t in tasks}) == 1
    assert m.mem.u64(image.addr("shared_counter")) == 5 * 2000
    assert any(len(s) == 2 for s in harts_seen.values()), "some task resumed on another hart"


def test_current_and_cpu(arch):
    image = _image(arch)
    result = run_entry(image, "my_pid", harts=3)
    assert result.lines() == ["hart 0: 100", "hart 1: 101", "hart 2: 102"]
    result = run_entry(image, "whoami", harts=2)
    assert result.lines() == ["hart 0: 0", "hart 1: 1"]


def test_interrupt_runs_handler_and_resumes(arch):
    image = _image(arch)
    m = Machine(image, harts=1)
    task = m.spawn("chain", [500])
    sched = Scheduler(m, seed=0)
    sched.enqueue(task)
    m.switch_in(m.harts[0], sched.runq.popleft())
    hart = m.harts[0]
    for _ in range(40):
        m.run_slice(hart, 1)
    # interrupt leaf's body (its frame record set up), as an unwinder needs
    while image.func_at(hart.pc).name != "leaf" or not prologue_state(
            m.arch, image, m.mem, hart.pc)[0]:
        m.run_slice(hart, 1)
    m.interrupt(m.harts[0], "irq_handler", 5)
    sched.run()
    reference = run_entry(image, "chain", [500])
    assert task.state == TaskState.DONE
    assert task.result == reference.tasks[0].result
    assert m.mem.u64(image.addr("irq_count")) == 5
    assert m.mem.u64(image.addr("irq_seen_cpu")) == 0
    stack = [e for e in m.events if e.kind == "stack"][0]
    names = [f.text.split("+")[0] for f in stack.frames]
    assert names[:2] == ["irq_handler", "ftlab_irq_entry"]
    assert names[2:] == ["leaf", "level3", "level2", "level1", "chain", "ftlab_task_main"]


def test_hotplug_hart_takes_queued_task(arch):
    image = _image(arch)
    m = Machine(image, harts=1)
    tasks = [m.spawn("work", [3000]) for _ in range(2)]
    sched = Scheduler(m, seed=3, slice_range=(500, 500))
    for t in tasks:
        sched.enqueue(t)
    sched.step()
    new = m.add_hart()
    assert m.mem.u64(new.percpu + abi.PERCPU_ONLINE) == 1
    sched.run()
    assert all(t.state == TaskState.DONE for t in tasks)
    assert tasks[1].last_hart == 1 or tasks[0].last_hart == 1


def test_text_poke_invalidates_every_hart(arch):
    image = _image(arch)
    m = Machine(image, harts=2)
    one, two = image.function("ret_one"), image.function("ret_two")
    assert run_on(m, "ret_one") == [1, 1]  # translated on both harts
    code = m.mem.read(two.addr, two.size)
    # a plain write is not seen: Unicorn keeps the stale translation
    saved = m.mem.read(one.addr, two.size)
    m.mem.write(one.addr, code)
    assert run_on(m, "ret_one") == [1, 1]
    m.mem.write(one.addr, saved)
    m.text_poke([(one.addr, code)])
    assert run_on(m, "ret_one") == [2, 2]
    assert m.code_flushes == 1


def run_on(m, entry):
    tasks = [m.spawn(entry) for _ in m.harts]
    Scheduler(m).run()
    return [t.result & 0xFFFFFFFF for t in tasks]


def test_unwind_matches_call_chain_at_every_step(arch):
    """Single-step through a call chain and unwind at every instruction boundary of the traced
    functions, prologues and epilogues included: the backtrace is always the call chain."""
    image = _image(arch)
    m = Machine(image, harts=1)
    task = m.spawn("chain", [2])
    hart = m.harts[0]
    m.switch_in(hart, task)
    names = ("chain", "level1", "level2", "level3", "leaf")
    checked = 0
    while hart.task is not None:
        sym = image.func_at(hart.pc)
        if sym is not None and sym.name in names:
            frames = [f.text.split("+")[0] for f in m.backtrace(hart)]
            depth = names.index(sym.name)
            expected = list(reversed(names[:depth + 1])) + ["ftlab_task_main"]
            assert frames == expected, (image.symbolize(hart.pc), frames)
            checked += 1
        m.run_slice(hart, 1)
    assert checked > 50


def test_fault_report_keeps_other_harts(arch):
    image = _image(arch)
    result = run_entry(image, "fault_on_cpu1", harts=2)
    assert result.lines() == ["hart 0: 7", "hart 1: fault"]
    fault = result.faults[0]
    assert fault.hart == 1
    assert fault.where.startswith("fault_on_cpu1+")
    assert "UNMAPPED" in fault.reason or "unmapped" in fault.reason.lower()
    assert fault.backtrace[:2][0].startswith("fault_on_cpu1+")
    assert fault.backtrace[-1].startswith("ftlab_task_main+")
    report = fault.report()
    assert "hart 1" in report and "registers:" in report and get_arch(arch).sp in report


def test_illegal_instruction_and_budget(arch):
    image = _image(arch)
    trap = run_entry(image, "trap")
    assert trap.lines() == ["hart 0: fault"]
    assert trap.faults[0].where.startswith("trap+")
    spin = run_entry(image, "chain", [10**9], max_insns=20_000)
    assert spin.lines() == ["hart 0: fault"]
    assert "--max-insns 20000" in spin.faults[0].reason
    assert spin.faults[0].backtrace[0].startswith(("leaf+", "mix+"))


def test_bug_reports_the_caller(arch):
    image = _image(arch)
    result = run_entry(image, "call_bug")
    fault = result.faults[0]
    assert "BUG: something is wrong" in fault.reason
    assert [f.split("+")[0] for f in fault.backtrace][:3] == ["die", "call_bug",
                                                             "ftlab_task_main"]


def test_return_values_extended_by_type(arch):
    image = _image(arch)
    assert run_entry(image, "neg_char", [5]).lines() == ["hart 0: -5"]
    assert run_entry(image, "big_ushort").lines() == ["hart 0: 65535"]
    assert run_entry(image, "is_odd", [3]).lines() == ["hart 0: 1"]
    assert run_entry(image, "nothing").lines() == ["hart 0: void"]


def test_time_slices_end_at_a_block_boundary_and_are_counted(arch):
    """The Scheduler's slices (the native budget hook, no count=) end at the first block
    boundary at or past their length, the same one every run; exact slices end on the
    instruction; either way the instructions charged are those a block counter sees."""
    from ftlab.machine import budget
    from ftlab.machine.counting import counting

    assert budget.available(), budget._failed
    image = _image(arch)
    ends = []
    for exact in (False, False, True):
        m = Machine(image)
        task = m.spawn("work", [200])
        m.switch_in(m.harts[0], task)
        with counting(m) as counters:
            stops = [m.run_slice(m.harts[0], 333, exact=exact) for _ in range(5)]
        assert stops == [Outcome.SLICE] * 5
        assert task.insns == counters[0].total
        ends.append((m.harts[0].pc, task.insns))
    fast, again, exact = ends
    assert fast == again
    assert exact[1] == 5 * 333
    assert 5 * 333 <= fast[1] < 5 * (333 + 64)


def test_exact_slices_fallback_runs_the_same_program(arch, monkeypatch):
    """FTLAB_EXACT_SLICES=1 (or no native hook) slices with count=: same results."""
    from ftlab.machine import budget

    image = _image(arch)
    m = Machine(image, harts=2)
    tasks = [m.spawn("work", [300]) for _ in range(3)]
    Scheduler(m, seed=3, slice_range=(50, 400)).run()
    monkeypatch.setattr(budget, "_lib", None)
    monkeypatch.setattr(budget, "_failed", "disabled by the test")
    slow = Machine(image, harts=2)
    assert all(h.budget is None for h in slow.harts)
    slow_tasks = [slow.spawn("work", [300]) for _ in range(3)]
    Scheduler(slow, seed=3, slice_range=(50, 400)).run()
    assert [t.result for t in tasks] == [t.result for t in slow_tasks]
    assert slow.mem.u64(image.addr("shared_counter")) == 900


def test_exact_steps_after_time_slices_and_back(arch):
    """A single step right after a budget slice stops after one instruction (Unicorn's
    count= hook is not in blocks translated without it), and slices resume afterwards."""
    image = _image(arch)
    m = Machine(image)
    task = m.spawn("work", [100_000])
    hart = m.harts[0]
    m.switch_in(hart, task)
    m.run_slice(hart, 500, exact=False)
    for _ in range(3):
        before = task.insns
        assert m.run_slice(hart, 1) == Outcome.SLICE
        assert task.insns == before + 1
    before = task.insns
    assert m.run_slice(hart, 2000, exact=False) == Outcome.SLICE
    assert 2000 <= task.insns - before < 2000 + 64


def test_budget_table_growth_keeps_counts_exact(arch, monkeypatch):
    """A 2-slot block table is replaced by bigger empty ones many times: counts stay exact."""
    from ftlab.machine import budget
    from ftlab.machine.counting import counting

    monkeypatch.setattr(budget, "TABLE_START", 2)
    m = Machine(_image(arch))
    task = m.spawn("chain", [300])
    m.switch_in(m.harts[0], task)
    with counting(m) as counters:
        while m.run_slice(m.harts[0], 97, exact=False) == Outcome.SLICE:
            pass
    assert task.state == TaskState.DONE
    assert task.insns == counters[0].total
    assert len(m.harts[0].budget._table) > 2
