"""x86_32, the fourth ISA: encoders against capstone in 32-bit mode, regparm(3) entries, both
tracers, stack traces, per-hart %gs, BPF trampolines and mass attach grouping (seed 002)."""

from __future__ import annotations

import re

import capstone
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import guest
from ftlab.arch import get_arch
from ftlab.arch.x86_32 import encode as X
from ftlab.arch.x86_32.info import ARCH
from ftlab.bpf.attach import BpfManager, find_programs
from ftlab.cli import main
from ftlab.ftrace.core import Ftrace
from ftlab.ftrace.schemes import get_scheme
from ftlab.machine.machine import Machine, Scheduler
from ftlab.session import load

CS = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
REGS = sorted(X.REGS)
FAST = settings(max_examples=60, deadline=None)
MASK = 0xFFFFFFFF


def _one(code: bytes, addr: int = 0x1000) -> str:
    insns = list(CS.disasm(code, addr))
    assert len(insns) == 1 and insns[0].size == len(code), (code.hex(), insns)
    return f"{insns[0].mnemonic} {insns[0].op_str}".strip()


def _num(v: int) -> str:
    return str(v) if v < 10 else f"{v:#x}"  # capstone writes 0..9 in decimal


def _mem(base: str, disp: int) -> str:
    return f"[{base}]" if disp == 0 else f"[{base} {'+' if disp > 0 else '-'} {_num(abs(disp))}]"


def test_registry_and_alias() -> None:
    assert get_arch("i386") is ARCH and ARCH.bits == 32 and ARCH.word == 4
    assert ARCH.call_pushes_ret and ARCH.endian == "little"


def test_nops_and_traps() -> None:
    assert _one(X.NOP5) == "lea esi, ds:[esi]"  # 3e 8d 74 26 00, the 32-bit kernel's nop5
    assert _one(X.int3()) == "int3" and _one(X.ret()) == "ret" and _one(X.ud2()) == "ud2"
    assert re.fullmatch(ARCH.insns.trap, _one(X.int3()))


@FAST
@given(st.integers(0, MASK), st.integers(0, MASK))
def test_branches_wrap(pc: int, target: int) -> None:
    for enc, mnem in ((X.call_rel32, "call"), (X.jmp_rel32, "jmp"), (X.jne_rel32, "jne"),
                      (X.je_rel32, "je")):
        insn = next(CS.disasm(enc(pc, target), pc))
        assert insn.mnemonic == mnem and int(insn.op_str, 16) == target


@FAST
@given(st.sampled_from(REGS), st.sampled_from(REGS), st.integers(-(1 << 31), (1 << 31) - 1))
def test_memory_forms(reg: str, base: str, disp: int) -> None:
    assert _one(X.mov_load(reg, base, disp)) == f"mov {reg}, dword ptr {_mem(base, disp)}"
    assert _one(X.mov_store(base, disp, reg)) == f"mov dword ptr {_mem(base, disp)}, {reg}"
    assert _one(X.lea(reg, base, disp)) == f"lea {reg}, {_mem(base, disp)}"


@FAST
@given(st.sampled_from(REGS), st.integers(-128, 127), st.integers(-(1 << 31), MASK))
def test_register_forms(reg: str, disp: int, imm: int) -> None:
    assert _one(X.push(reg)) == f"push {reg}" and _one(X.pop(reg)) == f"pop {reg}"
    text, value = _one(X.mov_imm32(reg, imm)).rsplit(", ", 1)
    assert text == f"mov {reg}" and int(value, 0) == imm & MASK
    assert _one(X.push_mem("ebp", disp)) == f"push dword ptr {_mem('ebp', disp)}"
    assert _one(X.pop_mem("esp", disp)) == f"pop dword ptr {_mem('esp', disp)}"
    assert _one(X.call_mem("esp", disp)) == f"call dword ptr {_mem('esp', disp)}"
    text, value = _one(X.mov_store_imm("esp", disp, imm)).rsplit(", ", 1)
    assert text == f"mov dword ptr {_mem('esp', disp)}" and int(value, 0) == imm & MASK
    assert _one(X.add_mem_imm8("esp", disp, 5)) == f"add dword ptr {_mem('esp', disp)}, 5"
    for other in REGS:
        assert _one(X.mov_reg_reg(reg, other)) == f"mov {reg}, {other}"
        assert _one(X.test_reg_reg(reg, other)) == f"test {reg}, {other}"


def _run(capsys, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out


def _expected_work(n: int) -> int:
    s = 0
    for i in range(n):
        s += (i - 4 + 9) + (i - 9) + (2**32 + i) * 3
        s += (0x200000007 - i) + (-1 + 0x300000000 + i)
        s += (0x123456789 ^ -i) + (10 + i) + (i + 5 - 0x400000000)
    return s


def test_run_regparm_entry_on_two_harts(capsys) -> None:
    """An entry mixing int and u64 arguments (words in eax, edx, ecx, then the stack), on two
    harts: each has its own GDT, so %gs-based this_cpu() works on both."""
    rc, out = _run(capsys, "run", str(guest("regparm.c")), "--arch", "i386", "--entry",
                   "rp_iqi", "--args", "-1,0x300000000,7", "--harts", "2")
    assert rc == 0 and out.split() == ["hart", "0:", str(0x300000006), "hart", "1:",
                                       str(0x300000006)]
    rc, out = _run(capsys, "run", str(guest("regparm.c")), "--arch", "x86_32", "--entry",
                   "rp_work", "--args", "3")
    assert rc == 0 and out.strip() == f"hart 0: {_expected_work(3)}"


def test_function_graph_and_stack(capsys) -> None:
    rc, out = _run(capsys, "trace", str(guest("regparm.c")), "--arch", "x86_32", "--entry",
                   "rp_work", "--args", "1", "--tracer", "function_graph")
    calls = re.findall(r"\|\s+(rp_\w+)\(\);", out)
    assert rc == 0 and "rp_work() {" in out
    assert calls == ["rp_iii", "rp_ii", "rp_qi", "rp_iq", "rp_iqi", "rp_qq", "rp_iiiii",
                     "rp_iiq"]
    rc, out = _run(capsys, "trace", str(guest("regparm.c")), "--arch", "x86_32", "--entry",
                   "rp_work", "--args", "1", "--filter", "rp_qq", "--option",
                   "func_stack_trace")
    assert rc == 0 and "rp_qq <-rp_work" in out
    assert re.search(r"=> rp_qq\s+=> rp_work\s+=> ftlab_task_main", out), out


@pytest.mark.parametrize("frames", ["entry", "legacy", "plain"])
def test_bpf_sees_every_argument(frames: str) -> None:
    """The fentry.multi program records (ip, nargs, args...) of every call; each must be the
    C argument, whichever of eax, edx, ecx or the stack (and pairs of them) carried it."""
    image = load([guest("regparm.c")], "x86_32")
    m = Machine(image)
    ft = Ftrace(m, get_scheme("x86_32", None))
    ft.boot()
    bm = BpfManager(ft, frames=frames)
    prog = next(p for p in find_programs(image) if p.name == "rp_args")
    bm.attach_multi(prog, prog.target)
    bm.commit()
    t = m.spawn("rp_work", [2])
    Scheduler(m).run()
    assert t.fault is None and t.result == _expected_work(2) % 2**64
    mem = m.mem
    base, n = image.addr("seen"), mem.u64(image.addr("nseen"))
    got = []
    for i in range(n):
        row = [mem.u64(base + 48 * i + 8 * k) for k in range(6)]
        name = image.func_at(row[0]).name
        got.append((name, row[1], row[2:2 + min(row[1], 4)]))

    def s32(v: int) -> int:
        return v & MASK  # an int argument: its 32 bits, zero-extended in the u64 slot

    def s64(v: int) -> int:
        return v & (2**64 - 1)

    want = []
    for i in range(2):
        want += [("rp_iii", 3, [s32(i), s32(-2), s32(3)]), ("rp_ii", 2, [s32(i), s32(9)]),
                 ("rp_qi", 2, [s64(2**32 + i), s32(3)]), ("rp_iq", 2, [s32(i), 0x200000007]),
                 ("rp_iqi", 3, [s32(-1), 0x300000000, s32(i)]),
                 ("rp_qq", 2, [0x123456789, s64(-i)]),
                 ("rp_iiiii", 5, [1, 2, 3, 4]),
                 ("rp_iiq", 3, [s32(i), 5, s64(-0x400000000)])]
    assert got == want


def test_bpf_return_values() -> None:
    """fexit sees an int result zero-extended (edx is undefined after it), and an fmod_ret
    program's int result replaces a 64-bit one zero-extended: what x86_64 and arm64 give
    (a 32-bit operation there clears the register's upper half)."""
    image = load([guest("regparm.c")], "x86_32")
    m = Machine(image)
    ft = Ftrace(m, get_scheme("x86_32", None))
    ft.boot()
    bm = BpfManager(ft)
    for p in find_programs(image):
        if p.name.startswith("rp_ii_") or p.name.startswith("rp_qi_"):
            bm.attach(p, p.target)
    bm.commit()
    t = m.spawn("rp_work", [1])
    Scheduler(m).run()
    assert t.fault is None
    base = image.addr("ret_seen")
    assert m.mem.u64(base) == (0 - 9) & MASK  # rp_ii(0, 9) = -9 as an int: its 32 bits
    assert m.mem.u64(base + 8) == (-7) & MASK  # what rp_work got from rp_qi
    # rp_work(1) with rp_qi(0x100000000, 3) replaced by that value
    assert t.result == (_expected_work(1) - 3 * 2**32 + ((-7) & MASK)) % 2**64


MIXED = """#include <ftlab/runtime.h>
#include <ftlab/bpf.h>
{funcs}
long long mx_work(void)
{{
	long long s = 0;
{calls}
	return s;
}}

SEC("fentry.multi/mx_f*")
int BPF_PROG(mx_prog)
{{
	return 0;
}}
"""

# parameter lists whose words regparm(3) places differently: each its own trampoline shape
SHAPES = [("int", "int"), ("long long",), ("int", "long long"), ("long long", "int"),
          ("int", "int", "long long"), ("long long", "long long")]


def _mixed_groups(tmp_path, shapes: int, per_shape: int = 3) -> tuple[int, int]:
    """(N functions attached, M trampolines) for a guest of `shapes` argument shapes."""
    funcs, calls = [], []
    for si, params in enumerate(SHAPES[:shapes]):
        for j in range(per_shape):
            name = f"mx_f{si}_{j}"
            decl = ", ".join(f"{t} a{k}" for k, t in enumerate(params))
            body = " + ".join(f"a{k}" for k in range(len(params)))
            funcs.append(f"noinline long long {name}({decl}) {{ return {body}; }}")
            calls.append(f"\ts += {name}({', '.join(str(k + 1) for k in range(len(params)))});")
    src = tmp_path / f"mixed{shapes}.c"
    src.write_text(MIXED.format(funcs="\n".join(funcs), calls="\n".join(calls)))
    image = load([src], "x86_32")
    m = Machine(image)
    ft = Ftrace(m, get_scheme("x86_32", None))
    ft.boot()
    bm = BpfManager(ft)
    prog = find_programs(image)[0]
    attached = bm.attach_multi(prog, prog.target)
    bm.commit()
    t = m.spawn("mx_work", [])
    Scheduler(m).run()
    assert t.fault is None
    return len(attached), len(bm.trampolines)


def test_mass_attach_groups_by_argument_passing(tmp_path) -> None:
    """Seed 002 on x86_32: functions share a trampoline only when regparm(3) passes their
    arguments the same way, so M grows with the shapes mixed into N functions."""
    figures = [_mixed_groups(tmp_path, k) for k in (1, 3, 6)]
    assert figures == [(3, 1), (9, 3), (18, 6)]


def test_trampoline_sizes_do_not_depend_on_addresses() -> None:
    """arch_bpf_trampoline_size: every constant and call here is 32 bits wide, so the dry run
    at address 0 reserves exactly what any real build at any addresses takes."""
    import itertools
    import random

    from ftlab.bpf import layout as L
    from ftlab.bpf.trampoline import Links, arch_emitter, build
    from ftlab.guest.model import FuncModel, Param, TypeInfo

    helpers = ("ftlab_bpf_func_nslots", "ftlab_bpf_store_ret", "__bpf_tramp_enter",
               "__bpf_tramp_exit", "ftlab_bpf_boundary", "__bpf_prog_enter_recur",
               "__bpf_prog_exit_recur")
    int32, int64 = TypeInfo("int", 4, signed=True), TypeInfo("long long", 8, signed=True)
    abi = arch_emitter(ARCH).ARG_ABI
    rng = random.Random("x86_32-sizing")
    for n in range(0, 9):
        types = [rng.choice((int32, int64)) for _ in range(n)]
        model = FuncModel("f", 0x1000, int64, tuple(Param(f"a{i}", t)
                                                    for i, t in enumerate(types)))
        layout = L.layout_for(model, abi)
        for mix, frames in itertools.product([(1, 0, 0), (1, 1, 1), (0, 2, 1)],
                                             ("entry", "legacy", "plain")):
            progs = [rng.randrange(0x1000_0000, 0xFFFF_0000) for _ in range(sum(mix))]
            links = Links(progs[:mix[0]], progs[mix[0]:mix[0] + mix[1]], progs[mix[0] + mix[1]:])
            common = dict(boundaries={progs[0]: rng.randrange(1 << 32)},
                          prog_state={p: rng.randrange(1 << 32) for p in progs})
            reserved = build(ARCH, layout, links, 0, 0, frames, dict.fromkeys(helpers, 0),
                             sizing=True, **common).code
            real = build(ARCH, layout, links, rng.randrange(0x1000_0000, 0xF000_0000),
                         rng.randrange(0x1000_0000, 0xF000_0000), frames,
                         {h: rng.randrange(0x1000_0000, 0xF000_0000) for h in helpers},
                         ref=rng.randrange(1 << 32), **common).code
            assert len(real) == len(reserved), (types, mix, frames)


def test_struct_arguments_are_refused() -> None:
    import errno

    from ftlab.bpf import layout as L
    from ftlab.bpf.trampoline import arch_emitter
    from ftlab.guest.model import FuncModel, Param, TypeInfo

    pair = TypeInfo("struct pair", 8, is_struct=True, align=4)
    model = FuncModel("f", 0x1000, TypeInfo("int", 4), (Param("p", pair),))
    with pytest.raises(L.BpfError) as err:
        L.layout_for(model, arch_emitter(ARCH).ARG_ABI)
    assert err.value.code == errno.EOPNOTSUPP and "struct" in str(err.value)
