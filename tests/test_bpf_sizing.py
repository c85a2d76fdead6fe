"""Trampoline images never outgrow the space reserved for them: the space is sized by a dry
run with every constant load at its longest (the kernel's arch_bpf_trampoline_size), and a
sweep over shapes (0-24 ctx slots from 0-12 arguments of 8 or 16 bytes, aligned or not),
program mixes, frame styles, shared layouts and addresses (32-bit and full 64-bit) builds
each image for real and checks it against that reservation, without running anything."""

import itertools
import random

import pytest

from ftlab.arch import get_arch
from ftlab.bpf import layout as L
from ftlab.bpf.trampoline import Links, arch_emitter, build
from ftlab.guest.model import FuncModel, Param, TypeInfo

ARCHES = ["x86_64", "arm64", "riscv64"]
HELPERS = ("ftlab_bpf_func_nslots", "ftlab_bpf_store_ret", "__bpf_tramp_enter",
           "__bpf_tramp_exit", "ftlab_bpf_boundary", "__bpf_prog_enter_recur",
           "__bpf_prog_exit_recur")
LONG = TypeInfo("long", 8, signed=True, align=8)
PAIR = TypeInfo("struct pair", 16, is_struct=True, align=8)
WIDE = TypeInfo("__int128", 16, signed=True, align=16)
MIXES = [m for m in itertools.product(range(3), range(3), range(3)) if any(m)]


def model(types):
    return FuncModel("f", 0x1000, LONG, tuple(Param(f"a{i}", t) for i, t in enumerate(types)))


def shapes(rng):
    """Every slot count from 0 to 24, each from a few argument lists."""
    out = {0: [[]]}
    for n in range(1, 13):
        for wide in range(n + 1):  # how many of the n arguments take two slots
            for _ in range(2):
                types = [LONG] * (n - wide) + [rng.choice((PAIR, WIDE)) for _ in range(wide)]
                rng.shuffle(types)
                out.setdefault(n + wide, []).append(types)
    assert sorted(out) == list(range(25))
    return [(slots, rng.choice(lists)) for slots, lists in sorted(out.items())]


def address(rng, wide):
    return rng.getrandbits(64) & ~3 if wide else rng.randrange(0x1000_0000, 0x9000_0000) & ~3


@pytest.mark.parametrize("arch", ARCHES)
def test_every_shape_fits_its_reservation(arch):
    info = get_arch(arch)
    abi = arch_emitter(info).ARG_ABI
    rng = random.Random(f"sizing-{arch}")
    built = 0
    for slots, types in shapes(rng):
        layout = L.layout_for(model(types), abi)
        assert layout.nr_slots == slots
        regs_only = layout.stack_slots == 0
        for mix, frames in itertools.product(MIXES, ("entry", "legacy", "plain")):
            wide = rng.random() < 0.5
            progs = [address(rng, wide) for _ in range(sum(mix))]
            links = Links(progs[:mix[0]], progs[mix[0]:mix[0] + mix[1]],
                          progs[mix[0] + mix[1]:])
            shared = frames != "plain" and rng.random() < 0.3
            tramp = L.shared_layout(abi.regs) if shared and regs_only else layout
            func = None if shared else address(rng, wide)
            guarded = {p: address(rng, wide) for p in progs if rng.random() < 0.8}
            boundary = {progs[0]: address(rng, wide)} if rng.random() < 0.2 else {}
            ip_arg = rng.random() < 0.5
            common = dict(ip_arg=ip_arg, boundaries=boundary, prog_state=guarded)
            reserved = len(build(info, tramp, links, 0, None if shared else 0, frames,
                                 dict.fromkeys(HELPERS, 0), ref=0, sizing=True, **common).code)
            helpers = {h: address(rng, wide) for h in HELPERS}
            base = address(rng, wide) & ~15
            img = build(info, tramp, links, base, func, frames, helpers,
                        ref=address(rng, wide), **common)
            assert len(img.code) <= reserved, (slots, mix, frames, shared, hex(base))
            built += 1
    assert built == 25 * len(MIXES) * 3
