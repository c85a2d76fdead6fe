"""BPF exceptions (seed 001): bpf_throw from a function the boundary program calls walks the
frame records to the boundary, runs its __exception_cb callback on that frame, and leaves
every callee-saved register of the interrupted code as it was."""

import re

import pytest

from conftest import guest
from ftlab.arch.unwind import disassembler
from ftlab.bpf.attach import BpfManager, find_programs
from ftlab.ftrace.core import Ftrace
from ftlab.ftrace.schemes import get_scheme
from ftlab.machine.machine import Machine, Scheduler
from ftlab.session import load

SAVES = {"x86_64": r"push (rbx|r1[2-5])", "arm64": r"st(p|r) x(19|2[0-8]), .*",
         "riscv64": r"(c\.)?sd(sp)? s([1-9]|1[01]), .*", "x86_32": r"push (ebx|esi|edi)"}


@pytest.mark.parametrize("arch", ["x86_64", "arm64", "riscv64", "x86_32"])
def test_throw_keeps_callee_saved_registers(arch):
    image = load([guest("bpf_throw.c"), guest(f"callee_saved_{arch}.S")], arch)
    # the program really keeps values in callee-saved registers: the throw skips its epilogue
    prog = image.function("boundary")
    code = next(s for s in image.segments if s.executable)
    body = code.data[prog.addr - code.addr:prog.addr - code.addr + prog.size]
    insns = [f"{i.mnemonic} {i.op_str}" for i in disassembler(image.arch).disasm(body, prog.addr)]
    assert any(re.fullmatch(SAVES[arch], t) for t in insns), insns[:12]

    def run(entry):
        m = Machine(image)
        ft = Ftrace(m, get_scheme(arch, None))
        ft.boot()
        bm = BpfManager(ft)
        for p in find_programs(image):
            bm.attach(p, p.target)
        bm.commit()
        assert bm.boundaries == {prog.addr: image.function("throw_cb").addr}
        t = m.spawn(entry, [7])
        Scheduler(m).run()
        assert t.fault is None, t.fault.report()
        return t.result, m.mem.u64(image.addr("cb_cookie")), m.mem.u64(image.addr("after_throw"))

    assert run("check_entry") == (0, 1007, 0)  # no callee-saved register changed
    assert run("plain_entry") == (21, 1007, 0)  # the traced function ran on


def test_throw_outside_a_boundary_is_a_bug():
    image = load([guest("bpf_throw.c"), guest("callee_saved_riscv64.S")], "riscv64")
    m = Machine(image)
    ft = Ftrace(m, get_scheme("riscv64", None))
    ft.boot()
    bm = BpfManager(ft)
    bm.boundaries.clear()  # as if the program had no __exception_cb
    bm.attach(find_programs(image)[0], "traced")
    bm.commit()
    t = m.spawn("plain_entry", [7])
    Scheduler(m).run()
    assert t.fault is not None and "outside an exception boundary" in t.fault.reason
