"""Small-bound version of benchmarks/bpf.py: counts are exact and repeatable."""

from ftlab.bpf.bench import measure_attach, measure_trampolines


def test_trampoline_costs_are_deterministic_and_ordered():
    a = measure_trampolines("riscv64", timed=False)
    b = measure_trampolines("riscv64", timed=False)
    assert a == b
    by = {r["config"]: r["instructions_per_call"] for r in a}
    assert by["untraced"] < by["direct"] < by["fentry"] < by["fexit"] <= by["fmod_ret"]
    assert by["fentry"] < by["function-tracer"]


def test_mass_attach_on_generated_functions():
    r = measure_attach("arm64", 60)
    assert r["functions"] == 60 and r["trampolines"] == 1
