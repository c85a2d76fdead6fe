"""Guest faults: what a user needs to find the bug (hart, task, pc, insn, registers, stack)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ftlab.errors import FtlabError


@dataclass
class GuestFault(FtlabError):
    hart: int
    task: str
    pc: int
    where: str
    reason: str
    insn: str
    registers: dict[str, int] = field(default_factory=dict)
    backtrace: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.report())

    def report(self) -> str:
        lines = [f"guest fault on hart {self.hart}, task {self.task}: {self.reason}",
                 f"  pc {self.pc:#x} <{self.where}>: {self.insn}", "  registers:"]
        items = [f"{n:>7} {v:#018x}" for n, v in self.registers.items()]
        for i in range(0, len(items), 4):
            lines.append("   " + "  ".join(items[i:i + 4]))
        lines.append("  backtrace:")
        lines += [f"    #{i} {f}" for i, f in enumerate(self.backtrace)]
        return "\n".join(lines)
