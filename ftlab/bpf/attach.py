"""Programs, links and trampolines: attach through ftrace direct calls (the kernel's
register_ftrace_direct when the site is ftrace-managed, always on arm64). As in the kernel a
function has one trampoline holding all its links; functions share a mass-attach trampoline
(seed 002) only while they have the same links and save their arguments identically."""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass, field

from elftools.elf.elffile import ELFFile

from ftlab.arch.unwind import disassembler
from ftlab.bpf import layout as L
from ftlab.bpf import verifier as V
from ftlab.bpf.trampoline import CALL_ORIG, KINDS, Links, arch_emitter, build
from ftlab.errors import FtlabError
from ftlab.ftrace.core import Ftrace, FtraceOps
from ftlab.ftrace.filter import match
from ftlab.ftrace.steps import FreeText, Steps, WaitRcuTasks, WaitRefZero
from ftlab.guest import abi as gabi
from ftlab.guest.loader import Image

SECTION = V.SECTION


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
    """bpf_trampoline: one per traced function, or one shared by functions with the same
    links and argument layout (mass attach)."""

    key: str
    functions: list[str]
    layout: L.Layout
    links: Links = field(default_factory=Links)
    image: int = 0
    size: int = 0  # the image's code
    reserved: int = 0  # the space reserved for it (arch_bpf_trampoline_size)
    flags: int = 0
    ops: FtraceOps | None = None
    ref: int = 0  # the image's enter/exit count
    ip_after_call: int = 0
    ip_epilogue: int = 0
    name: str = ""  # its symbol, bpf_trampoline_<function> or bpf_trampoline_multi<N>


PROTOCOLS = ("kernel", "rcu-tasks-only", "naive")
PROG_STATE_SIZE = 8 * (1 + gabi.MAX_CPUS)  # struct ftlab_bpf_prog_state (runtime/ftrace.c)


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
            "__bpf_tramp_exit", "ftlab_bpf_boundary", "__bpf_prog_enter_recur",
            "__bpf_prog_exit_recur")}
        self.boundaries = self._exception_boundaries()
        self.func_slots: dict[int, int] = {}  # function address -> ctx slots (mass attach)
        # what is attached, per function: its links in attach order, and whether any came
        # from a single-function attach (then the function gets its own trampoline)
        self.links: dict[str, Links] = {}
        self.single: set[str] = set()
        self.prog_state: dict[int, int] = {}  # program -> its recursion state in the guest
        self._shared_names: dict[tuple, str] = {}
        self._programs = {s.addr: s.name for s in self.image.symbols.values() if s.is_func}

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
        """IP_ARG: some attached program, or a function it calls (transitively, by DWARF call
        sites), calls bpf_get_func_ip, as the verifier sees a helper call anywhere in the
        program and its subprograms."""
        models = self.image.models
        for prog in links.fentry + links.fexit + links.fmod_ret:
            name = self._programs.get(prog, "")
            if name not in models:
                return True  # no model: be safe and pass the ip
            seen, todo = {name}, [name]
            while todo:
                model = models.get(todo.pop())
                if model is None:
                    continue
                if "bpf_get_func_ip" in model.calls:
                    return True
                for callee in model.calls:
                    if callee not in seen:
                        seen.add(callee)
                        todo.append(callee)
        return False

    def _layout(self, func: str) -> L.Layout:
        return L.layout_for(self.image.model(func), self.emitter.ARG_ABI)

    def _attachable_names(self) -> list[str]:
        progs = {p.name for p in find_programs(self.image)}
        models = self.image.models
        return [f for f in self.ftrace.function_names
                if f not in progs and V.attachable(models.get(f))]

    def _target(self, func: str) -> L.Layout:
        """The function's layout, or the refusal a kernel developer would meet."""
        sym = self.image.symbols.get(func)
        if sym is None or not sym.is_func:
            raise V.missing_target(func, self._attachable_names())
        model = self.image.models.get(func)
        if model is not None and model.nocall:
            raise V.nocall_target(model)
        if func not in self.ftrace.by_func or func in {p.name for p in find_programs(self.image)}:
            raise L.BpfError(errno.EINVAL, f"'{func}' has no patchable entry (notrace, "
                             "runtime code or a BPF program); cannot attach a trampoline")
        return self._layout(func)

    def _resolve(self, prog: Program | tuple[str, int]) -> tuple[str, int, str]:
        kind, addr = (prog.kind, prog.addr) if isinstance(prog, Program) else prog
        if kind not in KINDS:
            raise L.BpfError(errno.EOPNOTSUPP, f"unknown program kind '{kind}'")
        name = self._programs.get(addr, f"{addr:#x}")
        V.check_program(self.image, name, kind)
        if addr not in self.prog_state:
            state = self.machine.heap.alloc(PROG_STATE_SIZE)
            self.machine.mem.write(state, bytes(PROG_STATE_SIZE))
            self.prog_state[addr] = state
        return kind, addr, name

    def _link(self, func: str, kind: str, addr: int, name: str) -> None:
        links = self.links.setdefault(func, Links())
        if addr in links.fentry + links.fexit + links.fmod_ret:
            raise L.BpfError(errno.EBUSY, f"program '{name}' is already attached to {func}")
        if links.count() >= L.BPF_MAX_TRAMP_LINKS:
            raise L.BpfError(errno.E2BIG, f"{func} already has {links.count()} programs, the "
                             f"most one trampoline holds ({L.BPF_MAX_TRAMP_LINKS})")
        getattr(links, kind).append(addr)

    def attach(self, prog: Program | tuple[str, int], func: str) -> None:
        """One program on one function (fentry/FUNC, fexit/FUNC, fmod_ret/FUNC): the function
        gets its own trampoline, holding its other links too, at the next commit()."""
        kind, addr, name = self._resolve(prog)
        layout = self._target(func)
        model = self.image.model(func)
        if kind == "fmod_ret":
            V.check_modifiable(model, name)
        V.check_ctx_access(self.image, name, kind, model, layout)
        self._link(func, kind, addr, name)
        self.single.add(func)

    def attach_multi(self, prog: Program | tuple[str, int], glob: str) -> list[str]:
        """One program on every attachable function matching `glob` (functions left out of
        BTF are not offered); returns the functions."""
        kind, addr, name = self._resolve(prog)
        if kind == "fmod_ret":
            raise L.BpfError(errno.EINVAL, "fmod_ret has no .multi form (libbpf: fentry.multi, "
                             "fexit.multi)")
        funcs = [f for f in self._attachable_names() if match(glob, f)]
        if not funcs:
            raise V.missing_target(glob, self._attachable_names())
        for func in funcs:
            self._layout(func)  # the function's refusals first, before anything is linked
        for func in funcs:
            self._link(func, kind, addr, name)
        return funcs

    def _groups(self) -> dict[str, tuple[list[str], L.Layout, bool]]:
        """Trampoline key -> (functions, layout, shared). A function with a single-function
        link has its own trampoline; the others group by (links, argument layout)."""
        grouped: dict[tuple, list[str]] = {}
        for func, links in self.links.items():
            if not links.count():
                continue
            if func in self.single or self.frames == "plain":  # kfunc style: never shared
                grouped[("func", func)] = [func]
                continue
            layout = self._layout(func)
            # the shared register layout serves functions whose slot i is register i (not
            # one that skips a register for an aligned pair)
            regs = tuple(L.Source(reg=r) for r in self.emitter.ARG_REGS)
            shape = "regs" if layout.slots == regs[:layout.nr_slots] else layout.slots
            # the return value's width joins the shape where registers are narrower than a
            # slot (a 32-bit ISA zero-extends an int result; a u64 one fills the slot)
            grouped.setdefault(("multi", links.key(), shape, layout.ret_size), []).append(func)
        out = {}
        for gkey, funcs in grouped.items():
            if len(funcs) == 1:
                out[funcs[0]] = (funcs, self._layout(funcs[0]), False)
                continue
            key = self._shared_names.get(gkey)
            if key is None:  # each shared trampoline its own name (and symbol)
                key = self._shared_names[gkey] = f"multi{len(self._shared_names) + 1}"
            layout = (L.shared_layout(self.emitter.ARG_REGS, gkey[3]) if gkey[2] == "regs"
                      else self._layout(funcs[0]))
            out[key] = (funcs, layout, True)
        return out

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
        """Build the trampolines for what is attached and point each function at its own.
        A trampoline whose links changed gets a new image (modify_ftrace_direct) and retires
        the old one through `protocol`; a function moving to another trampoline leaves its
        old one first, so no function ever has two direct trampolines."""
        groups = self._groups()
        for key, tr in list(self.trampolines.items()):
            if key not in groups or groups[key][0] != tr.functions:
                self._retire(tr, protocol)
        self.func_slots = {}
        for funcs, _, shared in groups.values():
            if shared:
                for f in funcs:
                    self.func_slots[self.image.function(f).addr] = self._layout(f).nr_slots
        self._write_func_table()
        for key, (funcs, layout, shared) in groups.items():
            links = self._links_of(funcs)
            tr = self.trampolines.get(key)
            if tr is not None and tr.links == links and tr.layout == layout:
                continue  # nothing changed for these functions
            if tr is None:
                tr = Trampoline(key, funcs, layout)
                self.trampolines[key] = tr
            tr.layout, tr.links = layout, links
            self._install(tr, None if shared else self.image.function(funcs[0]).addr,
                          protocol)

    def _links_of(self, funcs: list[str]) -> Links:
        links = self.links[funcs[0]]
        return Links(list(links.fentry), list(links.fexit), list(links.fmod_ret))

    def _install(self, tr: Trampoline, func: int | None, protocol: str) -> None:
        """Size the image by a dry run with the longest constant loads (the kernel's
        arch_bpf_trampoline_size), reserve that, build it where it goes, then attach it."""
        ip_arg = self._uses_func_ip(tr.links)

        def image(base: int, ref: int, sizing: bool):
            return build(self.arch, tr.layout, tr.links, base, func, self.frames, self.helpers,
                         ref=ref, boundaries=self.boundaries, ip_arg=ip_arg,
                         prog_state=self.prog_state, sizing=sizing)

        reserved = len(image(0, 0, sizing=True).code)
        addr = self.machine.text_heap.alloc(reserved, align=16)
        ref = self.machine.heap.alloc(8)
        self.machine.mem.set_u64(ref, 0)
        img = image(addr, ref, sizing=False)
        if len(img.code) > reserved:  # the sizing run must bound every real build
            raise FtlabError(f"internal error: trampoline {tr.key} is {len(img.code)} bytes, "
                             f"{reserved} were reserved")
        self.machine.text_poke([(addr, img.code)])
        tr.name = f"bpf_trampoline_{tr.key}"
        self.image.add_symbol(tr.name, addr, len(img.code))
        old = Trampoline(tr.key, tr.functions, tr.layout, tr.links, tr.image, tr.size,
                         tr.reserved, tr.flags, tr.ops, tr.ref, tr.ip_after_call,
                         tr.ip_epilogue, tr.name)
        tr.image, tr.size, tr.reserved, tr.flags, tr.ref = (addr, len(img.code), reserved,
                                                            img.flags, ref)
        tr.ip_after_call, tr.ip_epilogue = img.ip_after_call, img.ip_epilogue
        if tr.ops is None:
            tr.ops = self.ftrace.new_ops(f"bpf:{tr.key}", "ftrace_stub")
            self.ftrace.set_filter(tr.ops, tr.functions)
            self.ftrace.register_direct(tr.ops, addr)
        else:
            self.ftrace.modify_direct(tr.ops, addr)
            self.ftrace.run_steps(self.image_put(old, protocol))

    def _retire(self, tr: Trampoline, protocol: str) -> None:
        if tr.ops is not None and tr.ops.registered:
            self.ftrace.unregister(tr.ops)
        if tr.image:
            self.ftrace.run_steps(self.image_put(tr, protocol))
        self.trampolines.pop(tr.key, None)

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
        for func in tr.functions:
            self.links.pop(func, None)
            self.single.discard(func)

    def detach_all(self, protocol: str = "kernel") -> None:
        for tr in list(self.trampolines.values()):
            self.detach(tr, protocol)

    def recursion_misses(self, prog: int) -> int:
        """bpftool's recursion_misses: nested runs of the program that were skipped."""
        state = self.prog_state.get(prog)
        return self.machine.mem.u64(state) if state is not None else 0

    def summary(self) -> str:
        """Each attached program: its kind, where it is attached, its recursion misses."""
        rows: dict[int, tuple[str, list[str]]] = {}
        for func, links in self.links.items():
            for kind in KINDS:
                for prog in getattr(links, kind):
                    rows.setdefault(prog, (kind, []))[1].append(func)
        out = []
        for prog, (kind, funcs) in rows.items():
            where = ", ".join(funcs[:4]) + (f" (+{len(funcs) - 4})" if len(funcs) > 4 else "")
            out.append(f"prog {self._programs.get(prog, hex(prog))}: {kind} on {where}; "
                       f"recursion_misses {self.recursion_misses(prog)}")
        return "\n".join(out)

    def describe(self) -> str:
        """--list-trampolines: functions, the layout each was grouped under, the programs in
        the order they run, the code."""
        cs = disassembler(self.arch)
        out = []
        for tr in self.trampolines.values():
            slots = ", ".join(L.describe_source(s) for s in tr.layout.slots)
            kinds = ", ".join(f"{k}: {len(getattr(tr.links, k))}" for k in KINDS
                              if getattr(tr.links, k))
            out.append(f"trampoline {tr.name or tr.key} at {tr.image:#x}, {tr.size} bytes "
                       f"(of {tr.reserved} reserved), flags {tr.flags:#x} ({kinds})")
            out.append(f"  functions ({len(tr.functions)}): {', '.join(tr.functions[:8])}"
                       + (" ..." if len(tr.functions) > 8 else ""))
            out.append(f"  layout: ctx slots {slots or 'none'}"
                       + (" (shared: counts from the ip table)" if tr.layout.shared else ""))
            for kind in ("fentry", "fmod_ret", "fexit"):  # the order they run in
                for prog in getattr(tr.links, kind):
                    out.append(f"  {kind} {self._programs.get(prog, hex(prog))}: "
                               f"recursion_misses {self.recursion_misses(prog)}")
            code = self.machine.mem.read(tr.image, tr.size)
            for insn in cs.disasm(code, tr.image):
                out.append(f"    {insn.address:#x}: {insn.mnemonic} {insn.op_str}".rstrip())
        return "\n".join(out)
