import os
from pathlib import Path

import pytest

GUESTS = Path(__file__).parent / "guests"
os.environ.setdefault("FTLAB_CACHE", str(Path.home() / ".cache" / "ftlab"))

# The ISAs every arch-parametrized test runs on. A newer ISA (x86_32) has its own test module
# and joins parametrized lists only where that is cheap: the suite has a time budget.
ARCH_NAMES = ("x86_64", "arm64", "riscv64")


@pytest.fixture(params=ARCH_NAMES)
def arch(request) -> str:
    return request.param


def guest(name: str) -> Path:
    return GUESTS / name
