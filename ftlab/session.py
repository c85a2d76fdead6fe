"""Build, load and run a guest: the shared front half of every command."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ftlab.arch import get_arch
from ftlab.arch.base import ArchInfo, EntryLayout
from ftlab.errors import FtlabError, UsageError
from ftlab.ftrace.schemes import get_scheme
from ftlab.guest.build import build_image
from ftlab.guest.loader import Image, load_image
from ftlab.guest.model import FuncModel, TypeInfo, extend
from ftlab.machine.machine import DEFAULT_MAX_INSNS, Machine, Scheduler
from ftlab.machine.task import Task, TaskState
from ftlab.validate import check_entry_args


def load(sources: Sequence[str | Path], arch: str | ArchInfo, layout: str | None = None,
         extra_flags: Sequence[str] = (), scheme: str | None = None) -> Image:
    """Build and load a guest for `scheme` (default: the arch's default scheme); `layout`
    overrides the patchable-entry layout alone."""
    info = get_arch(arch) if isinstance(arch, str) else arch
    chosen = get_scheme(info.name, scheme)
    lay: EntryLayout = info.layout(layout or chosen.layout)
    image = load_image(build_image(sources, info, lay, extra_flags,
                                   runtime_defines=chosen.runtime_defines))
    image.scheme = chosen.name
    return image


def entry_args(image: Image, model: FuncModel, values: Sequence[int]) -> list[int]:
    """The raw register values a C caller would pass for `values`, as the prototype says."""
    if model.varargs:
        raise FtlabError(f"entry '{model.name}' is variadic; give a fixed-argument entry")
    if len(model.params) > 6:
        raise FtlabError(f"entry '{model.name}' takes {len(model.params)} arguments; "
                         "an entry can take at most 6")
    if len(values) != len(model.params):
        raise UsageError(f"entry '{model.name}' takes {len(model.params)} argument(s) "
                         f"({model.prototype()}), --args gave {len(values)}")
    for note in check_entry_args(model, values):
        print(f"ftlab: note: {note}", file=sys.stderr)
    raw = []
    for value, param in zip(values, model.params, strict=True):
        t = param.type
        if t.is_struct:
            raise FtlabError(f"entry '{model.name}': argument '{param.name}' is a struct passed "
                             "by value; --args passes integers only")
        if t.is_float:
            raise FtlabError(f"entry '{model.name}': argument '{param.name}' is floating-point")
        # C converts an argument to _Bool by truth, not by truncation
        value = (1 if value else 0) if t.is_bool else extend(value, t)
        raw.append(register_value(image.arch, value, t))
    return raw


def register_value(arch: ArchInfo, value: int, t: TypeInfo) -> int:
    if arch.int32_sign_extended and t.size == 4:
        value = extend(value, TypeInfo("s32", 4, signed=True))  # LP64: int32 kept sign-extended
    return value & (2**64 - 1)


def check_returnable(model: FuncModel) -> None:
    if model.ret.is_struct:
        raise FtlabError(f"entry '{model.name}' returns a struct ({model.ret.name}); "
                         "give an entry returning an integer, pointer or void")
    if model.ret.is_float:
        raise FtlabError(f"entry '{model.name}' returns floating-point ({model.ret.name})")


def format_result(task: Task, model: FuncModel) -> str:
    if task.state == TaskState.FAULTED or task.result is None:
        return "fault"
    if model.ret.is_void:
        return "void"
    return str(extend(task.result, model.ret))


@dataclass
class RunResult:
    machine: Machine
    tasks: list[Task]
    model: FuncModel

    def lines(self) -> list[str]:
        return [f"hart {i}: {format_result(t, self.model)}" for i, t in enumerate(self.tasks)]

    @property
    def faults(self) -> list:
        return [t.fault for t in self.tasks if t.fault is not None]


def run_entry(image: Image, entry: str, args: Sequence[int] = (), harts: int = 1, seed: int = 0,
              max_insns: int = DEFAULT_MAX_INSNS, iterations: int = 1) -> RunResult:
    """Run `entry(*args)` as one task per hart and collect each task's result."""
    image.function(entry)
    model = image.model(entry)
    check_returnable(model)
    raw = entry_args(image, model, args)
    machine = Machine(image, harts=harts, max_insns=max_insns)
    tasks = [machine.spawn(entry, raw, iterations=iterations) for _ in range(harts)]
    Scheduler(machine, seed=seed).run()
    return RunResult(machine, tasks, model)
