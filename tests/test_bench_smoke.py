"""The machine-speed benchmark imports and counts guest instructions deterministically."""

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "machine_speed.py"


def _bench():
    name = "machine_speed"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the file runs
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_counting_is_exact_and_deterministic():
    bench = _bench()
    image = bench.load_guest("x86_64")
    # two harts: time slices end inside blocks, which the block counter must un-count
    first = bench.count_instructions(image, "ftlab-2", rounds=400)
    second = bench.count_instructions(image, "ftlab-2", rounds=400)
    assert first > 0
    assert first == second
    assert first == bench.count_instructions(image, "ftlab-2", rounds=400, method="code")
    plain = bench.count_instructions(image, "plain", rounds=400)
    assert 0 < plain < first
