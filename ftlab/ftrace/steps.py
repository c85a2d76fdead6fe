"""Update paths as sequences of steps: one code or data write, one barrier, one IPI or sync
per step. The normal executor applies them at once; the race explorer interleaves them with
the harts, so there is one implementation of every update path."""

from __future__ import annotations

import errno
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ftlab.errors import FtlabError

if TYPE_CHECKING:
    from ftlab.machine.machine import Machine


@dataclass(frozen=True)
class CodeWrite:
    addr: int
    data: bytes
    what: str = ""


@dataclass(frozen=True)
class DataWrite:
    """A store to data other harts read (ftrace_call_dest, an ops field, a list pointer)."""

    addr: int
    data: bytes
    what: str = ""


@dataclass(frozen=True)
class Barrier:
    kind: str  # smp_wmb, smp_mb


@dataclass(frozen=True)
class SyncCore:
    """Make every hart see the code written so far: the sync IPI / flush_icache_all."""

    what: str = "sync"


@dataclass(frozen=True)
class StopMachine:
    """Begin or end a stop_machine() section: tasks on harts are held where they are."""

    begin: bool


@dataclass(frozen=True)
class WaitRcuTasks:
    """synchronize_rcu_tasks(): every task that was not quiescent when it began has since
    passed a voluntary switch point or exited. Grace periods count tasks, not harts."""

    what: str = "rcu_tasks"


@dataclass(frozen=True)
class WaitRefZero:
    """percpu_ref_kill() and wait: a guest counter (the image's enter/exit count) reaches 0."""

    addr: int
    what: str = ""


@dataclass(frozen=True)
class FreeText:
    """Free generated code: ftlab poisons it, so a task still executing it is caught."""

    addr: int
    size: int
    what: str = ""


@dataclass(frozen=True)
class FuncRetired:
    """update_ftrace_func() returned: from here on no hart may call `old` through the trace
    function slot (a marker: it changes nothing)."""

    old: int
    new: int


Step = (CodeWrite | DataWrite | Barrier | SyncCore | StopMachine | WaitRcuTasks | WaitRefZero
        | FreeText | FuncRetired)
Waiting = WaitRcuTasks | WaitRefZero
Steps = Iterator[Step]


class PatchError(FtlabError):
    """An arch patching function failed with the kernel's code (-EFAULT, -EINVAL, -EPERM)."""

    def __init__(self, code: int, where: str, detail: str) -> None:
        self.code = code
        name = errno.errorcode.get(code, str(code))
        super().__init__(f"ftrace: -{name} at {where}: {detail}")


def u64(value: int) -> bytes:
    return (value & (2**64 - 1)).to_bytes(8, "little")


class Executor:
    """Applies steps with no hart running in between. Code writes are batched and made
    visible to every hart at the next sync (one flush per batch), or at the end."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.pending: list[tuple[int, bytes]] = []
        self._overlay: dict[int, int] = {}  # byte address -> pending value, for reads
        self.steps = 0

    def read(self, addr: int, n: int) -> bytes:
        """What the patcher reads back (pending code writes included)."""
        data = bytearray(self.machine.mem.read(addr, n))
        if self._overlay:
            for i in range(n):
                b = self._overlay.get(addr + i)
                if b is not None:
                    data[i] = b
        return bytes(data)

    def apply(self, step: Step) -> None:
        self.steps += 1
        if isinstance(step, FreeText):
            self.flush()
            self.machine.free_text(step.addr, step.size)
        elif isinstance(step, CodeWrite):
            self.pending.append((step.addr, step.data))
            for i, b in enumerate(step.data):
                self._overlay[step.addr + i] = b
        elif isinstance(step, DataWrite):
            self.machine.mem.write(step.addr, step.data)
        elif isinstance(step, SyncCore):
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.machine.text_poke(self.pending)
            self.pending = []
            self._overlay = {}

    def run(self, steps: Iterable[Step]) -> None:
        """Apply steps until one must wait for the guest (a grace period, a reference
        count): the rest then runs later, between time slices (Machine.poll_deferred)."""
        it = iter(steps)
        try:
            for step in it:
                if isinstance(step, WaitRcuTasks | WaitRefZero):
                    self.flush()
                    self.machine.defer(step, it, self)
                    return
                self.apply(step)
        finally:
            self.flush()
