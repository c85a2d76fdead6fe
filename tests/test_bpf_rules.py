"""Issue 15's classes on every arch: images within their reserved space, one trampoline per
function holding all its links, 16-byte-aligned arguments, unique names for shared
trampolines, bpf_get_func_ip from subprograms, the recursion guard, the verifier-style
refusals and DW_CC_nocall functions. Values are checked against the workload built natively
(or under qemu-user) by tests/reference.py."""

import errno
import re

import pytest

import reference as R
from conftest import guest
from ftlab.bpf.attach import BpfManager, find_programs
from ftlab.bpf.layout import BpfError
from ftlab.bpf.trampoline import IP_ARG
from ftlab.cli import main
from ftlab.errors import FtlabError
from ftlab.ftrace.core import Ftrace
from ftlab.ftrace.schemes import get_scheme
from ftlab.machine.machine import Machine, Scheduler
from ftlab.session import load

ARCHES = ["x86_64", "arm64", "riscv64"]
ABI_WORK, ABI_PROGS = guest("bpf_abi_work.c"), guest("bpf_abi_progs.c")
WORK = guest("bpf_rules_work.c")
AL_FUNCS = ["al_i_reg", "al_w_reg", "al_s_reg", "al_i_stk", "al_s_stk", "al_w_stk",
            "al_i_split", "al_i_last"]


def s64(v):
    return v - 2**64 if v >= 2**63 else v


def reference(program, arch, entry, *args):
    try:
        return int(R.run_cases(program, arch, [R.Case(entry, args)])[0])
    except R.ReferenceUnavailable as err:
        pytest.skip(str(err))


def manager(sources, arch, frames="entry"):
    image = load(sources, arch)
    m = Machine(image)
    ft = Ftrace(m, get_scheme(arch, None))
    ft.boot()
    return image, m, ft, BpfManager(ft, frames=frames)


def run(m, entry, *args):
    t = m.spawn(entry, list(args))
    Scheduler(m).run()
    assert t.fault is None, t.fault.report()
    return s64(t.result)


def check_images(bm):
    """Every image within its reservation, no two reservations overlapping."""
    spans = sorted((tr.image, tr.reserved) for tr in bm.trampolines.values())
    for tr in bm.trampolines.values():
        assert 0 < tr.size <= tr.reserved, tr.key
    for (a, n), (b, _) in zip(spans, spans[1:], strict=False):
        assert a + n <= b


def attach_cli(capsys, src, arch, entry, args, *extra):
    rc = main(["attach", *map(str, src), "--arch", arch, "--entry", entry, "--args", args,
               *extra])
    out, err = capsys.readouterr()
    return rc, out, err


def printk(out):
    return re.findall(r"bpf_trace_printk: (.*)", out)


REPRO_1 = """#include <ftlab/bpf.h>
noinline s64 a1(s64 x, s64 y) { return x + y; }
noinline s64 a2(s64 x) { return x * 2; }
s64 entry(s64 x) { return a1(x, 1) * 1000 + a2(x); }
SEC("fexit/a1") int xa1(u64 *ctx) { bpf_printk("a1 ret %lld", ctx[2]); return 0; }
SEC("fexit/a2") int xa2(u64 *ctx) { bpf_printk("a2 ret %lld", ctx[1]); return 0; }
"""

REPRO_2 = """#include <ftlab/bpf.h>
noinline s64 mx1(s64 a) { return a + 1; }
s64 entry(s64 x) { return mx1(x); }
SEC("fentry.multi/mx*") int m_entry(u64 *ctx) { bpf_printk("ME %lld", ctx[0]); return 0; }
SEC("fexit.multi/mx*")  int m_exit(u64 *ctx)  { bpf_printk("MX %lld", ctx[1]); return 0; }
SEC("fmod_ret/mx1")     int s_mod(u64 *ctx)   { bpf_printk("SM"); return 5; }
"""


def native(tmp_path, text):
    """The reproducer's workload alone, as plain C for the reference build."""
    body = [ln for ln in text.splitlines() if not ln.startswith(("#include", "SEC("))]
    src = tmp_path / "native.c"
    src.write_text("typedef long long s64;\n#define noinline __attribute__((noinline))\n"
                   + "\n".join(body) + "\n")
    return src


# --- 1: images sized by a dry run with the longest constants --------------------------------

@pytest.mark.parametrize("arch", ARCHES)
def test_reproducer_1_two_fexit_images_do_not_overlap(arch, tmp_path, capsys):
    src = tmp_path / "overlap.c"
    src.write_text(REPRO_1)
    rc, out, err = attach_cli(capsys, [src], arch, "entry", "5")
    assert rc == 0
    assert printk(out) == ["a1 ret 6", "a2 ret 10"]
    want = reference(native(tmp_path, REPRO_1), arch, "entry", 5)
    assert f"hart 0: {want}" in err and want == 6010
    assert "prog xa1: fexit on a1; recursion_misses 0" in err


@pytest.mark.parametrize("arch", ARCHES)
def test_every_image_fits_its_reservation(arch):
    image, m, _, bm = manager([ABI_WORK, ABI_PROGS], arch)
    for p in find_programs(image):
        for f in AL_FUNCS:
            bm.attach(p, f)
    bm.commit()
    check_images(bm)
    for tr in bm.trampolines.values():
        assert image.func_at(tr.image + tr.size - 1).name == tr.name


# --- 2: one trampoline per function, all its links, in the kernel's order ------------------

@pytest.mark.parametrize("arch", ARCHES)
def test_reproducer_2_all_links_run_in_order(arch, tmp_path, capsys):
    src = tmp_path / "two_attach.c"
    src.write_text(REPRO_2)
    rc, out, err = attach_cli(capsys, [src], arch, "entry", "7", "--list-trampolines")
    assert rc == 0
    assert printk(out) == ["ME 7", "SM", "MX 5"]  # fentry, fmod_ret (skips mx1), fexit
    assert "hart 0: 5" in err
    assert reference(native(tmp_path, REPRO_2), arch, "entry", 7) == 8  # untraced
    # one trampoline for mx1 holding the three links, listed in the order they run
    listing = [ln.strip() for ln in out.split("trampoline bpf_trampoline_mx1", 1)[1]
               .splitlines() if ln.startswith("  ")]
    assert listing[0] == "functions (1): mx1"
    assert listing[2:5] == ["fentry m_entry: recursion_misses 0",
                            "fmod_ret s_mod: recursion_misses 0",
                            "fexit m_exit: recursion_misses 0"]


@pytest.mark.parametrize("arch", ARCHES)
def test_functions_share_only_with_the_same_links(arch, capsys):
    share = guest("bpf_rules_share.c")
    rc, out, err = attach_cli(capsys, [WORK, share], arch, "sh_entry", "2", "--option",
                              "stacktrace")
    assert rc == 0
    assert printk(out) == ["in 2", "in 2", "in 2", "out -1", "in 2", "out 32"]
    assert f"hart 0: {reference(WORK, arch, 'sh_entry', 2)}" in err
    # 7: the two shared trampolines have names of their own, and stacks print them
    frames = [ln[4:] for ln in out.splitlines() if ln.startswith(" => ")]
    assert "bpf_trampoline_multi1" in frames and "bpf_trampoline_multi2" in frames
    assert not [f for f in frames if f.startswith("0x")]


@pytest.mark.parametrize("arch", ARCHES)
def test_a_function_with_more_links_leaves_the_shared_trampoline(arch):
    image, m, ft, bm = manager([WORK, guest("bpf_rules_share.c")], arch)
    progs = {p.name: p for p in find_programs(image)}
    bm.attach_multi(progs["sh_in"], "sh[0-9]")
    bm.commit()
    assert [tr.functions for tr in bm.trampolines.values()] == [["sh1", "sh2", "sh3", "sh4"]]
    want = reference(WORK, arch, "sh_entry", 3)
    assert run(m, "sh_entry", 3) == want
    bm.attach(("fexit", progs["sh_out"].addr), "sh2")  # sh2 now has two links
    bm.commit()
    groups = sorted(sorted(tr.functions) for tr in bm.trampolines.values())
    assert groups == [["sh1", "sh3", "sh4"], ["sh2"]]
    tr = bm.trampolines["sh2"]
    assert (tr.links.fentry, tr.links.fexit) == ([progs["sh_in"].addr], [progs["sh_out"].addr])
    names = [tr.name for tr in bm.trampolines.values()]
    assert len(set(names)) == len(names)
    check_images(bm)
    assert run(m, "sh_entry", 3) == want
    # a second direct ops on a function that has one is refused (register_ftrace_direct)
    ops = ft.new_ops("other", "ftrace_stub")
    ft.set_filter(ops, ["sh2"])
    with pytest.raises(FtlabError, match="-EBUSY"):
        ft.register_direct(ops, image.addr("ftlab_direct_tramp"))


# --- 8: 16-byte-aligned arguments, as each ABI passes them ---------------------------------

@pytest.mark.parametrize("mode", ["single", "multi"])
@pytest.mark.parametrize("arch", ARCHES)
def test_aligned_arguments_follow_the_abi(arch, mode):
    image, m, _, bm = manager([ABI_WORK, ABI_PROGS], arch)
    for p in find_programs(image):
        if mode == "multi":
            bm.attach_multi(p, p.target)
        else:
            for f in AL_FUNCS:
                bm.attach(p, f)
    bm.commit()
    # fexit keeps every function's own result: the entry's sum is the native one
    assert run(m, "al_entry", 3) == reference(ABI_WORK, arch, "al_entry", 3)

    def table(name, rows, cols):
        return [[m.mem.u64(image.addr(name) + 8 * (cols * i + j)) for j in range(cols)]
                for i in range(rows)]
    got, seen = table("got", 8, 16), table("seen", 8, 16)
    counts = [row[0] for row in table("seen_n", 8, 1)]
    assert counts == [4, 4, 4, 12, 12, 12, 10, 8]  # a 16-byte argument is two slots
    for i, f in enumerate(AL_FUNCS):
        assert seen[i][:counts[i]] == got[i][:counts[i]], f
    assert table("seen_ret", 8, 1) == table("got_ret", 8, 1)


# --- 3: bpf_get_func_ip from a subprogram --------------------------------------------------

@pytest.mark.parametrize("arch", ARCHES)
def test_func_ip_from_a_subprogram(arch):
    image, m, _, bm = manager([WORK, guest("bpf_rules_ip.c")], arch)
    for p in find_programs(image):
        bm.attach(p, p.target)
    bm.commit()
    assert bm.trampolines["ipf"].flags & IP_ARG
    assert run(m, "ip_entry", 4) == reference(WORK, arch, "ip_entry", 4)
    assert m.mem.u64(image.addr("ip_seen")) == image.function("ipf").addr


# --- 4: the recursion guard ----------------------------------------------------------------

@pytest.mark.parametrize("arch", ARCHES)
def test_a_program_calling_its_function_is_not_rerun(arch, capsys):
    rec = guest("bpf_rules_rec.c")
    rc, out, err = attach_cli(capsys, [WORK, rec], arch, "rec_entry", "5",
                              "--list-trampolines")
    assert rc == 0
    # the original ran for the two nested calls too: rec_calls is 4 where it was 2
    assert f"hart 0: {reference(WORK, arch, 'rec_entry', 5) + 2}" in err
    assert "prog rec_prog: fentry on rec_target; recursion_misses 2" in err
    assert "fentry rec_prog: recursion_misses 2" in out


@pytest.mark.parametrize("arch", ARCHES)
def test_recursion_misses_are_counted_per_program(arch):
    image, m, _, bm = manager([WORK, guest("bpf_rules_rec.c")], arch, frames="legacy")
    prog = find_programs(image)[0]
    bm.attach(prog, "rec_target")
    bm.commit()
    run(m, "rec_entry", 1)
    run(m, "rec_entry", 1)
    assert bm.recursion_misses(prog.addr) == 4
    assert m.mem.u64(image.addr("rec_runs")) == 4  # the outer runs only


# --- 5 and 6: refusals ---------------------------------------------------------------------

PROGS = {
    "too_many": ('SEC("fentry/two") int BPF_PROG(too_many, s64 x, s64 y, s64 z) '
                 '{ return x + y + z; }', errno.EACCES, "invalid bpf_context access"),
    "plain": ('SEC("fentry/two") int plain(int x) { return x; }', errno.EINVAL,
              "cannot be a BPF program"),
    "void_mod": ('SEC("fmod_ret/vfn") int void_mod(u64 *ctx) { return 1; }', errno.EINVAL,
                 "void function has no return value"),
    "missing": ('SEC("fentry/bpf_trace_printkk") int missing(u64 *ctx) { return 0; }',
                errno.ESRCH, "no function 'bpf_trace_printkk'"),
    "kprobe": ('SEC("kprobe/two") int kp(u64 *ctx) { return 0; }', errno.EOPNOTSUPP,
               'SEC("kprobe/two")'),
    "nocall": ('SEC("fentry/nc_drop") int on_nc(u64 *ctx) { return 0; }', errno.ESRCH,
               "DW_CC_nocall"),
}
NAMES = {errno.EACCES: "-EACCES", errno.EINVAL: "-EINVAL", errno.ESRCH: "-ESRCH",
         errno.EOPNOTSUPP: "-EOPNOTSUPP", errno.EBUSY: "-EBUSY"}


@pytest.mark.parametrize("case", sorted(PROGS))
@pytest.mark.parametrize("arch", ARCHES)
def test_refusals_name_the_errno(arch, case, tmp_path, capsys):
    text, code, why = PROGS[case]
    src = tmp_path / f"{case}.c"
    src.write_text(f"#include <ftlab/bpf.h>\n{text}\n")
    rc, _, err = attach_cli(capsys, [WORK, src], arch, "misc_entry", "2")
    assert rc == 1 and NAMES[code] in err and why in err, err
    assert "Traceback" not in err
    if case == "missing":  # never a runtime (notrace) function as the closest
        assert "bpf_trace_printk," not in err and not err.rstrip().endswith(
            "bpf_trace_printk (-ESRCH)")


@pytest.mark.parametrize("arch", ARCHES)
def test_refusals_through_the_api(arch, tmp_path):
    src = tmp_path / "ok.c"
    src.write_text('#include <ftlab/bpf.h>\ns64 two(s64 x, s64 y);\n'
                   'SEC("fexit/two") int BPF_PROG(ok_exit, s64 x, s64 y, s64 ret) '
                   '{ return 0; }\n'
                   'SEC("fentry.multi/[ns]*") int any_in(u64 *ctx) { return 0; }\n')
    image, m, _, bm = manager([WORK, src], arch)
    progs = {p.name: p for p in find_programs(image)}
    bm.attach(progs["ok_exit"], "two")  # the return value after the arguments: allowed
    with pytest.raises(BpfError) as err:
        bm.attach(progs["ok_exit"], "two")
    assert err.value.code == errno.EBUSY
    # functions left out of BTF are not offered to a glob
    assert "nc_drop" not in bm.attach_multi(progs["any_in"], "[ns]*")
    with pytest.raises(BpfError) as err:
        bm.attach(progs["any_in"], "sh1")  # already linked through the glob
    assert err.value.code == errno.EBUSY
    with pytest.raises(BpfError) as err:
        bm.attach(progs["any_in"], "ftlab_bpf_func_nslots")  # runtime code: no entry
    assert err.value.code == errno.EINVAL
    bm.commit()
    assert run(m, "misc_entry", 4) == reference(WORK, arch, "misc_entry", 4)


def test_more_links_than_a_trampoline_holds(tmp_path):
    progs = "".join(f'SEC("fentry/two") int p{i}(u64 *ctx) {{ return {i}; }}\n'
                    for i in range(39))
    src = tmp_path / "many.c"
    src.write_text(f"#include <ftlab/bpf.h>\n{progs}")
    image, _, _, bm = manager([WORK, src], "riscv64")
    programs = find_programs(image)
    for p in programs[:38]:
        bm.attach(p, "two")
    with pytest.raises(BpfError) as err:
        bm.attach(programs[38], "two")
    assert err.value.code == errno.E2BIG


@pytest.mark.parametrize("arch", ARCHES)
def test_preempted_and_migrated_programs_keep_the_count(arch, tmp_path):
    """Many tasks on two harts with short slices: a task preempted inside the program may
    move to the other hart; every call either runs the program or counts a miss (another
    task's run on the CPU the program holds, as in a preemptible kernel), and the counters
    drop back to zero."""
    src = tmp_path / "count.c"
    src.write_text('#include <ftlab/bpf.h>\nu64 runs;\n'
                   'SEC("fexit/sh2") int count(u64 *ctx)\n'
                   '{ for (volatile int i = 0; i < 40; i++); '
                   '__atomic_fetch_add(&runs, 1, __ATOMIC_RELAXED); return 0; }\n')
    image = load([WORK, src], arch)
    m = Machine(image, harts=2)
    ft = Ftrace(m, get_scheme(arch, None))
    ft.boot()
    bm = BpfManager(ft)
    prog = find_programs(image)[0]
    bm.attach(prog, "sh2")
    bm.commit()
    tasks = [m.spawn("sh_entry", [k]) for k in range(6)]
    Scheduler(m, seed=5, slice_range=(20, 120)).run()
    for k, t in enumerate(tasks):
        assert t.fault is None, t.fault.report()
        assert s64(t.result) == reference(WORK, arch, "sh_entry", k)
    assert m.mem.u64(image.addr("runs")) + bm.recursion_misses(prog.addr) == 6
    state = bm.prog_state[prog.addr]
    assert [m.mem.u64(state + 8 + 8 * cpu) for cpu in range(2)] == [0, 0]
