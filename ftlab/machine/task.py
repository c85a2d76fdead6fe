"""Tasks are separate from harts: a task's registers live here while it is parked."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class TaskState(enum.Enum):
    RUNNABLE = "runnable"
    RUNNING = "running"
    SLEEPING = "sleeping"  # parked and not runnable until woken
    DONE = "done"
    FAULTED = "faulted"


@dataclass
class Task:
    index: int
    pid: int
    comm: str
    entry: str
    struct_addr: int
    stack_top: int
    state: TaskState = TaskState.RUNNABLE
    context: list[int] = field(default_factory=list)  # arch.context_regs values while parked
    result: int | None = None  # the raw return register of the last invocation
    fault: object | None = None  # a GuestFault once faulted
    insns: int = 0  # instructions charged (time slices that ran to completion)
    last_hart: int | None = None
    voluntary: bool = False  # parked at a voluntary switch point (an RCU-tasks QS)
    interrupted: list[list[int]] = field(default_factory=list)  # contexts under an IRQ frame

    @property
    def name(self) -> str:
        return f"{self.comm}-{self.pid}"

    @property
    def finished(self) -> bool:
        return self.state in (TaskState.DONE, TaskState.FAULTED)
