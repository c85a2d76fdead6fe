"""Guest build and loader: patchable-entry layouts, patch sites, DWARF function models."""

import capstone
import pytest

from conftest import guest
from ftlab.arch import get_arch
from ftlab.errors import CompileError, UsageError
from ftlab.guest.build import build_image
from ftlab.guest.model import BTF_FMODEL_SIGNED_ARG, BTF_FMODEL_STRUCT_ARG
from ftlab.session import load, run_entry

MODELS_C = guest("models.c")
USER_FUNCS = {"mixed", "by_value", "ret_big", "nothing", "pick", "name_of", "entry"}

LAYOUTS = [("x86_64", "fentry"), ("arm64", "callops"), ("arm64", "plain"),
           ("riscv64", "callops-rvc"), ("riscv64", "callops"), ("riscv64", "plain-rvc"),
           ("riscv64", "plain")]


def _nops(arch, data, addr):
    cs = capstone.Cs(arch.cs_arch, arch.cs_mode)
    return [(i.mnemonic, i.size) for i in cs.disasm(data, addr)]


@pytest.mark.parametrize("arch_name,layout", LAYOUTS)
def test_patch_sites_follow_the_layout(arch_name, layout):
    arch = get_arch(arch_name)
    image = load([MODELS_C], arch, layout)
    lay = arch.layout(layout)
    assert {s.func for s in image.sites} == USER_FUNCS, "runtime and notrace have no sites"
    unit = arch.patch_unit // 2 if lay.compressed else arch.patch_unit
    for site in image.sites:
        assert site.func_addr - site.start == lay.before * unit
        assert site.size == lay.total * unit
        if lay.align:
            assert site.func_addr % lay.align == 0
        data = b"".join(s.data[site.start - s.addr:site.start - s.addr + site.size]
                        for s in image.segments if s.addr <= site.start < s.addr + len(s.data))
        decoded = _nops(arch, data, site.start)
        assert sum(size for _, size in decoded) == site.size
        assert all(m in ("nop", "c.nop") for m, _ in decoded), decoded
        if lay.compressed:
            assert all(size == 2 for _, size in decoded)


def test_x86_clang_nop_is_not_the_kernels_nop5():
    arch = get_arch("x86_64")
    image = load([MODELS_C], arch)
    site = image.sites[0]
    seg = next(s for s in image.segments if s.executable)
    raw = seg.data[site.start - seg.addr:site.start - seg.addr + 5]
    assert raw == bytes.fromhex("0f1f440008")  # clang's; ftrace_init_nop writes 0f 1f 44 00 00
    assert arch.nop == bytes.fromhex("0f1f440000")


def test_function_models(arch):
    image = load([MODELS_C], arch)
    m = image.model("mixed")
    assert m.nr_args == 11
    assert m.arg_size == (1, 1, 2, 2, 4, 4, 8, 8, 8, 8, 1)
    signed = [bool(f & BTF_FMODEL_SIGNED_ARG) for f in m.arg_flags]
    assert signed == [True, False, True, False, True, False, True, True, False, False, False]
    assert m.ret_size == 8 and m.ret_flags == BTF_FMODEL_SIGNED_ARG
    assert m.addr == image.addr("mixed")
    v = image.model("by_value")
    assert v.arg_size == (8, 16, 4)
    assert [bool(f & BTF_FMODEL_STRUCT_ARG) for f in v.arg_flags] == [True, True, False]
    r = image.model("ret_big")
    assert r.ret.is_struct and r.ret_size == 24
    assert image.model("nothing").ret.is_void and image.model("nothing").nr_args == 0
    assert image.model("pick").ret.signed  # enum with a negative enumerator
    assert image.model("name_of").ret_size == 8
    assert image.model("entry").prototype() == "int entry(int x)"


def test_compile_error_is_the_compilers_message(tmp_path):
    bad = tmp_path / "bad.c"
    bad.write_text("int f(void) {\n  return nope;\n}\n")
    with pytest.raises(CompileError) as err:
        build_image([bad], get_arch("arm64"))
    assert f"{bad}:2:10: error: use of undeclared identifier 'nope'" in str(err.value)


def test_build_cache_is_keyed_by_content(tmp_path):
    src = tmp_path / "a.c"
    src.write_text("int f(void) { return 1; }\n")
    arch = get_arch("riscv64")
    first = build_image([src], arch)
    assert build_image([src], arch).path == first.path
    src.write_text("int f(void) { return 2; }\n")
    second = build_image([src], arch)
    assert second.path != first.path
    assert run_entry(load([src], arch), "f").lines() == ["hart 0: 2"]


def test_entry_arguments_follow_the_prototype(arch):
    image = load([MODELS_C], arch)
    # pick(enum color) is signed: -1 passes through; entry(int) converts as C does, and no C
    # integer holds more than 64 bits
    assert run_entry(image, "pick", [-1]).lines() == ["hart 0: -1"]
    assert run_entry(image, "entry", [2]).lines() == run_entry(image, "entry", [2 + 2**32]).lines()
    with pytest.raises(UsageError, match="does not fit argument 1"):
        run_entry(image, "entry", [2**64])
