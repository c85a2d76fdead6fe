"""Programs, links and trampolines: attach through ftrace direct calls (the kernel's
register_ftrace_direct when the site is ftrace-managed, always on arm64), share trampolines
across functions whose arguments are saved identically (seed 002's mass attach)."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from elftools.elf.elffile import ELFFile

from ftlab.arch.unwind import disassembler
from ftlab.bpf import layout as L
from ftlab.bpf.trampoline import CALL_ORIG, KINDS, Links, arch_emitter, build
from ftlab.errors import FtlabError
from ftlab.ftrace.core import Ftrace, FtraceOps
from ftlab.ftrace.filter import match
from ftlab.ftrace.steps import FreeText, Steps, WaitRcuTasks, WaitRefZero
from ftlab.guest.loader import Image

SECTION = re.compile(r"^(fentry|fexit|fmod_ret|fentry\.multi|fexit\.multi)/(.+)$")


@dataclass(frozen=True)
class Program:
    name: str
    addr: int
    kind: str  # fentry, fexit, fmod_ret
    target: str  # a function, or a glob for .multi
    multi: bool = False


def find_programs(image: Image) -> list[Program]:
    """Programs in SEC("kind/target") sections, as a libbpf skeleton finds them."""
    cached = image.__dict__.get("_bpf_programs")
    if cached is not None:
        return cached
    progs = []
    with open(image.path, "rb") as f:
        elf = ELFFile(f)
        index = {i: sec.name for i, sec in enumerate(elf.iter_sections())}
        symtab = elf.get_section_by_name(".symtab")
        for sym in symtab.iter_symbols():
            if sym["st_info"]["type"] != "STT_FUNC" or not isinstance(sym["st_shndx"], int):
                continue
            m = SECTION.match(index.get(sym["st_shndx"], ""))
            if m:
                kind, target = m.groups()
                progs.append(Program(sym.name, sym["st_value"], kind.split(".")[0], target,
                                     kind.endswith(".multi")))
    image.__dict__["_bpf_programs"] = sorted(progs, key=lambda p: p.addr)
    return image.__dict__["_bpf_programs"]


@dataclass
class Trampoline:
    """bpf_trampoline: one per traced function, or one per shared layout for mass attach."""

    key: str
    functions: list[str]
    layout: L.Layout
    links: Links = field(default_factory=Links)
    image: int = 0
    size: int = 0
    flags: int = 0
    ops: FtraceOps | None = None
    ref: int = 0  # the image's enter/exit count
    ip_after_call: int = 0
    ip_epilogue: int = 0

PROTOCOLS = ("kernel", "rcu-tasks-only", "naive")


class BpfManager:
    def __init__(self, ftrace: Ftrace, frames: str = "entry") -> None:
        if frames not in ("entry", "legacy", "plain"):
            raise FtlabError(f"unknown frame shape '{frames}'")
        self.ftrace = ftrace
        self.machine = ftrace.machine
        self.image = ftrace.image
        self.arch = self.image.arch
        self.frames = frames
        self.emitter = arch_emitter(self.arch)
        self.trampolines: dict[str, Trampoline] = {}
        self.helpers = {n: self.image.addr(n) for n in (
            "ftlab_bpf_func_nslots", "ftlab_bpf_store_ret", "__bpf_tramp_enter",
            "__bpf_tramp_exit", "ftlab_bpf_boundary")}
        self.boundaries = self._exception_boundaries()
        self.func_slots: dict[int, int] = {}  # function address -> ctx slots (mass attach)

    def _exception_boundaries(self) -> dict[int, int]:
        """Programs marked __exception_cb(cb): program address -> callback address."""
        out = {}
        for prog in find_programs(self.image):
            model = self.image.models.get(prog.name)
            for tag in model.tags if model else ():
                if tag.startswith("exception_callback:"):
                    out[prog.addr] = self.image.function(tag.split(":", 1)[1]).addr
        return out

    def _uses_func_ip(self, links: Links) -> bool:
        """IP_ARG: some attached program calls bpf_get_func_ip (its DWARF call sites say)."""
        by_addr = {s.addr: s.name for s in self.image.symbols.values() if s.is_func}
        for prog in links.fentry + links.fexit + links.fmod_ret:
            model = self.image.models.get(by_addr.get(prog, ""))
            if model is None or "bpf_get_func_ip" in model.calls:
                return True  # no model: be safe and pass the ip
        return False

    def _layout(self, func: str) -> L.Layout:
        model = self.image.model(func)
        e = self.emitter
        return L.layout_for(model, e.ARG_REGS, e.SPLIT_PAIRS, e.COMPOSITE_ALL_OR_STACK)

    def _record(self, func: str) -> None:
        if func not in self.ftrace.by_func:
            raise FtlabError(f"'{func}' has no patchable entry (notrace or not a function); "
                             "cannot attach a trampoline")

    def attach(self, prog: Program | tuple[str, int], func: str) -> Trampoline:
        """One program on one function (fentry/FUNC, fexit/FUNC, fmod_ret/FUNC)."""
        kind, addr = (prog.kind, prog.addr) if isinstance(prog, Program) else prog
        self.image.function(func)
        self._record(func)
        tr = self.trampolines.get(func)
        if tr is None:
            tr = Trampoline(func, [func], self._layout(func))
            self.trampolines[func] = tr
        getattr(tr.links, kind).append(addr)
        return tr

    def attach_multi(self, prog: Program | tuple[str, int], glob: str) -> list[Trampoline]:
        """One program on every function matching `glob`; functions whose arguments are all
        in registers share one trampoline, the others get one per layout."""
        kind, addr = (prog.kind, prog.addr) if isinstance(prog, Program) else prog
        if kind == "fmod_ret":
            raise FtlabError("fmod_ret has no .multi form (libbpf: fentry.multi, fexit.multi)")
        skip = {p.name for p in find_programs(self.image)}
        funcs = [f for f in self.ftrace.function_names if match(glob, f) and f not in skip]
        if not funcs:
            raise FtlabError(f"no function matches '{glob}' (-EINVAL)")
        touched = []
        for func in funcs:
            layout = self._layout(func)
            if layout.stack_slots == 0:  # register arguments only: one shared trampoline
                key, tramp_layout = f"multi:{kind}:{glob}", L.shared_layout(self.emitter.ARG_REGS)
            else:
                key, tramp_layout = f"multi:{kind}:{glob}:{layout.slots}", layout
            tr = self.trampolines.get(key)
            if tr is None:
                tr = self.trampolines[key] = Trampoline(key, [], tramp_layout)
                getattr(tr.links, kind).append(addr)
            tr.functions.append(func)
            self.func_slots[self.image.function(func).addr] = layout.nr_slots
            if tr not in touched:
                touched.append(tr)
        return touched

    def _write_func_table(self) -> None:
        items = sorted(self.func_slots.items())
        if not items:
            return
        table = self.machine.heap.alloc(16 * len(items))
        data = b"".join(struct.pack("<QQ", a, n) for a, n in items)
        self.machine.mem.write(table, data)
        self.machine.mem.set_u64(self.image.addr("ftlab_bpf_func_count"), len(items))
        self.machine.mem.set_u64(self.image.addr("ftlab_bpf_func_table"), table)

    def commit(self, protocol: str = "kernel") -> None:
        """Build every trampoline and point its functions at it; a trampoline rebuilt for new
        links retires its old image through `protocol`."""
        self._write_func_table()
        for tr in self.trampolines.values():
            shared = tr.layout.shared or len(tr.functions) > 1
            func = None if shared else self.image.function(tr.functions[0]).addr
            ip_arg = self._uses_func_ip(tr.links)
            probe = build(self.arch, tr.layout, tr.links, 0x1000, func, self.frames,
                          self.helpers, ref=0x1000, boundaries=self.boundaries, ip_arg=ip_arg)
            addr = self.machine.text_heap.alloc(len(probe.code) + 16, align=16)
            ref = self.machine.heap.alloc(8)
            img = build(self.arch, tr.layout, tr.links, addr, func, self.frames, self.helpers,
                        ref=ref, boundaries=self.boundaries, ip_arg=ip_arg)
            self.machine.text_poke([(addr, img.code)])
            name = tr.key if not tr.key.startswith("multi:") else f"multi{len(tr.functions)}"
            self.image.add_symbol(f"bpf_trampoline_{name.replace(':', '_')}", addr,
                                  len(img.code))
            old = Trampoline(tr.key, tr.functions, tr.layout, tr.links, tr.image, tr.size,
                             tr.flags, tr.ops, tr.ref, tr.ip_after_call, tr.ip_epilogue)
            tr.image, tr.size, tr.flags, tr.ref = addr, len(img.code), img.flags, ref
            tr.ip_after_call, tr.ip_epilogue = img.ip_after_call, img.ip_epilogue
            if tr.ops is None:
                tr.ops = self.ftrace.new_ops(f"bpf:{tr.key}", "ftrace_stub")
                self.ftrace.set_filter(tr.ops, tr.functions)
                self.ftrace.register_direct(tr.ops, addr)
            else:
                self.ftrace.modify_direct(tr.ops, addr)
                self.ftrace.run_steps(self.image_put(old, protocol))

    def image_put(self, tr: Trampoline, protocol: str = "kernel") -> Steps:
        """bpf_tramp_image_put(): when an image may be freed. With CALL_ORIG a task can sleep
        in the original with its return address in the image, so RCU-tasks is not enough:
        jump over the fexit programs, wait a grace period, let the image's reference drain,
        wait again, free. Fentry alone: RCU-tasks-trace, then RCU-tasks."""
        if protocol not in PROTOCOLS:
            raise FtlabError(f"unknown detach protocol '{protocol}'; valid: "
                             f"{', '.join(PROTOCOLS)}")
        if protocol == "kernel" and tr.flags & CALL_ORIG:
            jump = self.emitter.Emitter.jump(tr.ip_after_call, tr.ip_epilogue)
            yield from self.ftrace.arch_ops.text_poke(self.ftrace.ctx, tr.ip_after_call, jump,
                                                      "ip_after_call: jump to the epilogue")
            yield WaitRcuTasks("call_rcu_tasks")
            yield WaitRefZero(tr.ref, "percpu_ref_kill")
            yield WaitRcuTasks("call_rcu_tasks: release")
        elif protocol == "kernel":
            yield WaitRcuTasks("call_rcu_tasks_trace")
            yield WaitRcuTasks("call_rcu_tasks")
        elif protocol == "rcu-tasks-only":
            yield WaitRcuTasks("call_rcu_tasks")
        yield FreeText(tr.image, tr.size, f"free {tr.key}")

    def detach(self, tr: Trampoline, protocol: str = "kernel") -> None:
        """Unlink the trampoline from its functions, then put its image."""
        if tr.ops is not None and tr.ops.registered:
            self.ftrace.unregister(tr.ops)
        self.ftrace.run_steps(self.image_put(tr, protocol))
        self.trampolines.pop(tr.key, None)

    def detach_all(self, protocol: str = "kernel") -> None:
        for tr in list(self.trampolines.values()):
            self.detach(tr, protocol)

    def describe(self) -> str:
        """--list-trampolines: functions, the layout each was grouped under, the code."""
        cs = disassembler(self.arch)
        out = []
        for tr in self.trampolines.values():
            slots = ", ".join(s.reg or f"stack[{s.stack}]" for s in tr.layout.slots)
            kinds = ", ".join(f"{k}: {len(getattr(tr.links, k))}" for k in KINDS
                              if getattr(tr.links, k))
            out.append(f"trampoline {tr.key} at {tr.image:#x}, {tr.size} bytes, flags "
                       f"{tr.flags:#x} ({kinds})")
            out.append(f"  functions ({len(tr.functions)}): {', '.join(tr.functions[:8])}"
                       + (" ..." if len(tr.functions) > 8 else ""))
            out.append(f"  layout: ctx slots {slots or 'none'}"
                       + (" (shared: counts from the ip table)" if tr.layout.shared else ""))
            code = self.machine.mem.read(tr.image, tr.size)
            for insn in cs.disasm(code, tr.image):
                out.append(f"    {insn.address:#x}: {insn.mnemonic} {insn.op_str}".rstrip())
        return "\n".join(out)
