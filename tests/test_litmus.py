"""`ftlab litmus` against herd7 7.58: states and verdicts from ../shared/litmus (the full
catalogue runs in conformance/litmus.py)."""

from pathlib import Path

import pytest

from ftlab.cli import main
from ftlab.litmus.herd import compare, parse_state, read_herd
from ftlab.litmus.run import run_litmus

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "litmus"

# A few tests per architecture, both verdicts, the shapes and the orderings each one has.
CASES = [
    ("aarch64", "MP"),  # allowed: no ordering at all
    ("aarch64", "MP+dmb.sys"),  # forbidden: barriers
    ("aarch64", "LB+rel+CSEL"),  # allowed: CSEL's unchosen source carries no dependency
    ("aarch64", "MP+rel+CAS-addr"),  # CAS result into an address dependency
    ("aarch64", "SB+dmb.sy+rel-acqpc"),  # LDAPR (RCpc) does not order a release before it
    ("aarch64", "2+2W+dmb.sys"),  # coherence against final memory
    ("aarch64", "LB+rel+CAS-ok-MRs-addr"),  # `0: X0 = x` spelling; CAS result as a pick
    ("aarch64", "S+dmb.sy+po"),
    # instruction fetch (herd7 -variant ifetch, CTR_EL0.DIC=0 IDC=0)
    ("aarch64-ifetch", "MP.FF+dc.cvau-dsb.ish+ic.vau-dsb.ish"),  # no ISB: stale fetch allowed
    ("aarch64-ifetch", "MP.FF+dc.cvau-dsb.ish+ic.vau-dsb.ish-isb"),  # with ISB: forbidden
    ("aarch64-ifetch", "coFF"),  # two fetches of one address may see new then old
    ("aarch64-ifetch", "coFF+cachesync"),  # not after the cache maintenance
    ("aarch64-ifetch", "SM.B+badcachesync-isb"),  # self-modifying code, maintenance wrong
    ("aarch64-ifetch", "icc3"),  # calls into another thread's modified code
    ("aarch64-ifetch", "SM-invalid-2"),  # a fetched undefined instruction runs the handler
    ("riscv", "SB"),
    ("riscv", "MP+fence.rw.rw+addr"),
    ("riscv", "ISA-MP-DEP-ADDR-LR-SUCCESS"),  # ~exists, SC result as a dependency
    ("riscv", "WRC+fence.rw.rwss"),
    ("riscv", "LR-SC-diff-loc1"),  # an SC to another address fails
    ("riscv", "Andy27+FILTER"),  # filter
    ("riscv", "Andy27"),  # a retry loop, unrolled as herd7 does
    ("riscv", "S+fence.rw.rw+data"),
    ("riscv", "R+fence.rw.rws"),
    ("x86", "SB"),  # store buffering: the one TSO relaxation
    ("x86", "SB+mfences"),
    ("x86", "2+2W+mfences"),
    ("x86", "R+mfence+rfi-po"),  # forwarding from the own store buffer
]


def _shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"no herd7 results at {SHARED} (CI has ../shared beside the clone)")
    return SHARED


@pytest.mark.parametrize(("folder", "name"), CASES, ids=[f"{f}/{n}" for f, n in CASES])
def test_litmus_matches_herd7(folder, name):
    test = _shared() / folder / f"{name}.litmus"
    expected = read_herd(test.with_suffix(".herd7"))
    result = run_litmus(test)
    got = {parse_state(s) for s in result.shown}
    assert expected.states <= got, "unsound: a state herd7 allows is never reached"
    assert got <= expected.states, "imprecise: a state herd7 forbids is reached"
    assert (result.ok, result.observation) == (expected.ok, expected.observation)
    assert compare(expected, result.shown, result.ok, result.observation) == []


def test_cli_prints_herd_shape(capsys):
    test = _shared() / "aarch64" / "SB.litmus"
    assert main(["litmus", str(test)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Test SB Allowed"
    assert out[1] == "States 4"
    assert {parse_state(s) for s in out[2:6]} == read_herd(test.with_suffix(".herd7")).states
    assert out[6] == "Ok"
    assert any(line.startswith("Observation SB Sometimes ") for line in out)


MP_RISCV = """RISCV MPish
{
0:x6=x; 0:x8=y;
1:x6=y; 1:x8=x;
}
 P0          | P1          ;
 ori x5,x0,1 | lw x5,0(x6) ;
 sw x5,0(x6) | {insn}      ;
 fence w,w   | lw x7,0(x8) ;
 sw x5,0(x8) |             ;
exists (1:x5=1 /\\ 1:x7=0)
"""


def test_fence_kind_decides(tmp_path, capsys):
    """The reader's fence: r,r orders the two loads, w,w does not (RVWMO rule 4)."""
    words = {}
    for fence in ("fence r,r", "fence w,w"):
        path = tmp_path / "t.litmus"
        path.write_text(MP_RISCV.replace("{insn}", fence))
        words[fence] = run_litmus(path).observation
    assert words == {"fence r,r": "Never", "fence w,w": "Sometimes"}


@pytest.mark.parametrize(("text", "needle"), [
    ("PPC X\n{ }\n P0 ;\n nop ;\nexists (x=0)\n", "unsupported architecture 'PPC'"),
    (MP_RISCV.replace("{insn}", "frobnicate x1"), ":8: P1: unsupported instruction 'frobnicate"),
    (MP_RISCV.replace("{insn}", "ecall"), ":8: unsupported instruction 'ecall'"),
    (MP_RISCV.replace("exists (1:x5=1 /\\ 1:x7=0)", "exists (1:q9=1)"), "not a register of RISCV"),
    (MP_RISCV.replace("exists (1:x5=1 /\\ 1:x7=0)", ""), "no final condition"),
])
def test_bad_input_is_a_clear_error(tmp_path, capsys, text, needle):
    path = tmp_path / "bad.litmus"
    path.write_text(text)
    assert main(["litmus", str(path)]) == 1
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


SEED_004 = Path(__file__).resolve().parents[1] / "docs" / "seed-004"


@pytest.mark.parametrize(("name", "word"), [
    ("update-0to1-wmb", "Sometimes"),  # store buffering: smp_wmb does not order W -> R
    ("update-1to0-wmb", "Sometimes"),
    ("update-0to1-mb", "Never"),  # fence rw,rw + the incoming hart's .aqrl test-and-set
    ("relaxed-online-mb", "Sometimes"),  # a relaxed AMO leaves the incoming hart's W -> R open
    ("relaxed-online-mb-fence", "Never"),
    ("ipi-path", "Never"),
])
def test_seed_004_answers(name, word):
    """The seed 004 shapes (docs/seed-004/README.md): verdicts by RVWMO's rules 4 and 5."""
    assert run_litmus(SEED_004 / f"{name}.litmus").observation == word


ATOMICS = {
    # two increments by exclusives: both succeed only if the second read the first's write
    "AArch64 ATOM": ("""AArch64 ATOM
{ 0:X1=x; 1:X1=x; }
 P0              | P1               ;
 LDXR W0,[X1]    | LDAXR W0,[X1]    ;
 ADD W0,W0,#1    | ADD W0,W0,#1     ;
 STXR W2,W0,[X1] | STLXR W2,W0,[X1] ;
locations [x;]
exists (0:X2=0 /\\ 1:X2=0 /\\ x=1)
""", "Never", 4),
    # locked instructions are fences on TSO: store buffering is gone
    "X86 SB+xchgs": ("""X86 SB+xchgs
{ }
 P0           | P1           ;
 MOV EAX,$1   | MOV EAX,$1   ;
 XCHG [x],EAX | XCHG [y],EAX ;
 MOV EBX,[y]  | MOV EBX,[x]  ;
exists (0:EBX=0 /\\ 1:EBX=0)
""", "Never", 3),
    # herd's X86_64 dialect (AT&T): store buffering allowed, forbidden with MFENCE
    "X86_64 SB": ("""X86_64 SB
{ }
 P0            | P1            ;
 movl $1,(x)   | movl $1,(y)   ;
 movl (y),%eax | movl (x),%eax ;
exists (0:rax=0 /\\ 1:rax=0)
""", "Sometimes", 4),
    "X86_64 SB+mfences": ("""X86_64 SB+mfences
{ }
 P0            | P1            ;
 movl $1,(x)   | movl $1,(y)   ;
 mfence        | mfence        ;
 movl (y),%eax | movl (x),%eax ;
exists (0:rax=0 /\\ 1:rax=0)
""", "Never", 3),
    "X86 cmpxchg": ("""X86 cmpxchg
{ 0:ECX=5; 1:ECX=7; }
 P0                   | P1                   ;
 MOV EAX,$0           | MOV EAX,$0           ;
 LOCK CMPXCHG [x],ECX | LOCK CMPXCHG [x],ECX ;
locations [x;]
exists (0:EAX=0 /\\ 1:EAX=0)
""", "Never", 2),
}


@pytest.mark.parametrize("name", sorted(ATOMICS))
def test_atomics(tmp_path, name):
    text, word, states = ATOMICS[name]
    path = tmp_path / "t.litmus"
    path.write_text(text)
    result = run_litmus(path)
    assert (result.observation, len(result.shown)) == (word, states)


LOOPS = """AArch64 loops
{ uint64_t 0:X5; 0:X3=x; }
 P0           ;
 MOV W0,#10   ;
 MOV W1,#0    ;
L0:           ;
 ADD W1,W1,#1 ;
 SUB W0,W0,#1 ;
 CBNZ W0,L0   ;
 MOV X5,#-1   ;
 LDR W2,[X3]  ;
L1:           ;
 CBZ W2,L1    ;
exists (0:X1=10 /\\ 0:X5=-1)
"""


def test_loops_and_types(tmp_path):
    """A loop on constants runs out (10 iterations); one on a loaded value is unrolled, and the
    runs that would spin forever are cut, as herd7 does: no final state is left. X5 is declared
    uint64_t, so -1 reads as 2^64-1 on both sides of the comparison."""
    path = tmp_path / "t.litmus"
    path.write_text(LOOPS)
    assert run_litmus(path).shown == []
    path.write_text(LOOPS.replace("LDR W2,[X3]", "MOV W2,#1 "))
    result = run_litmus(path)
    assert result.shown == ["0:X1=10; 0:X5=18446744073709551615;"]
    assert result.observation == "Always"
