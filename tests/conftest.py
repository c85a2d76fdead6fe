import os
from pathlib import Path

import pytest

from ftlab.arch import ARCH_NAMES

GUESTS = Path(__file__).parent / "guests"
os.environ.setdefault("FTLAB_CACHE", str(Path.home() / ".cache" / "ftlab"))


@pytest.fixture(params=ARCH_NAMES)
def arch(request) -> str:
    return request.param


def guest(name: str) -> Path:
    return GUESTS / name
