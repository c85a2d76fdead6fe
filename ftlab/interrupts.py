"""SIGINT and SIGTERM end any command promptly, through the usual cleanup paths.

An exception raised inside a Unicorn hook is swallowed by ctypes ("Exception ignored on calling
ctypes callback"), and the Python-level handler runs inside whatever hook is executing. So while
a hart emulates, the handler only records the signal and stops emulation (emu_stop); the
exception is raised once emu_start has returned, outside any hook."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # kept light: installed before the heavy imports (ftlab/__main__.py)
    from unicorn import Uc

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The command was interrupted by a signal; exit code 128 + the signal number (the shell's
    convention: 130 for SIGINT, 143 for SIGTERM)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


_pending: int | None = None
_running: list[Uc] = []  # Unicorn instances inside emu_start


def _handler(signum: int, frame) -> None:
    global _pending
    if _running:
        _pending = signum
        for uc in list(_running):
            uc.emu_stop()
        return
    raise Interrupted(signum)


def install() -> dict:
    """Route SIGINT and SIGTERM through Interrupted (main thread only); returns the handlers
    replaced, for restore()."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _handler) for sig in SIGNALS}


def uninstall() -> dict:
    """Python's own handling again (for a command whose library handles the signals)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
            signal.SIGTERM: signal.signal(signal.SIGTERM, signal.SIG_DFL)}


def restore(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def ignore_in_child() -> None:
    """For worker processes: a terminal's Ctrl-C reaches the parent, which ends its workers
    (with SIGTERM, which kills them outright)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def check() -> None:
    """Raise a signal that arrived while emulating."""
    global _pending
    if _pending is not None and not _running:
        signum, _pending = _pending, None
        raise Interrupted(signum)


@contextmanager
def emulating(uc: Uc) -> Iterator[None]:
    """Around emu_start: a signal stops this Unicorn instance and is raised afterwards."""
    _running.append(uc)
    try:
        yield
    finally:
        _running.remove(uc)
        check()
