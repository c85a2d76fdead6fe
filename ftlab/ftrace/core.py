"""The generic dynamic-ftrace core, after kernel/trace/ftrace.c: records, ops with filter and
notrace hashes, the ops list, ftrace_modify_all_code's order. Nothing here is per-arch: the
arch contract (ftlab.ftrace.arch_ops) does the patching."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ftlab.errors import FtlabError
from ftlab.ftrace import abi
from ftlab.ftrace.arch_ops import ArchFtrace, PatchContext
from ftlab.ftrace.filter import apply_filter
from ftlab.ftrace.steps import (
    Barrier,
    DataWrite,
    Executor,
    FuncRetired,
    Step,
    Steps,
    SyncCore,
    u64,
)
from ftlab.guest.loader import PatchSite
from ftlab.machine.machine import Machine


@dataclass
class DynFtrace:
    """struct dyn_ftrace: one patch site."""

    site: PatchSite
    ip: int  # rec->ip
    call: int | None = None  # what the site calls now (None: disabled)
    literal: int | None = None  # CALL_OPS: the ops the literal points at now
    want_ops: int = 0  # CALL_OPS: the literal the update in progress installs

    @property
    def func(self) -> str:
        return self.site.func

    @property
    def func_addr(self) -> int:
        return self.site.func_addr


@dataclass
class FtraceOps:
    """struct ftrace_ops, kept in guest memory (ftrace_caller and the list function read it)."""

    name: str
    addr: int
    func: int
    private: int = 0
    direct_call: int = 0
    filter: set[str] | None = None  # None: every function (an empty filter hash)
    notrace: set[str] = field(default_factory=set)
    registered: bool = False

    def covers(self, func: str) -> bool:
        return (self.filter is None or func in self.filter) and func not in self.notrace


class Ftrace:
    def __init__(self, machine: Machine, arch_ops: ArchFtrace) -> None:
        self.machine = machine
        self.image = machine.image
        self.arch_ops = arch_ops
        self.executor = Executor(machine)
        self.ctx = PatchContext(self.image, self.executor.read)
        # the race explorer replaces this to interleave steps with the harts
        self.run_steps: Callable[[Iterable[Step]], None] = self.executor.run
        self.records = [DynFtrace(s, arch_ops.rec_ip(s)) for s in self.image.sites]
        self.by_func = {r.func: r for r in self.records}
        self.by_ip = {r.ip: r for r in self.records}
        self.ops: list[FtraceOps] = []  # registered, newest first (add_ftrace_ops)
        sym = self.image.addr
        self.ftrace_caller = sym("ftrace_caller")
        self.ftrace_stub = sym("ftrace_stub")
        self.list_func = sym("ftrace_ops_list_func")
        self.list_end = sym("ftrace_list_end")
        self.nop_ops = sym("ftrace_nop_ops")
        self.list_ops = sym("ftrace_list_ops")
        self.ops_list_head = sym("ftrace_ops_list")
        self.function_trace_op = sym("function_trace_op")
        self.call_direct_funcs = sym("call_direct_funcs")
        self.saved_func: int | None = None  # update_ftrace_func's save_func
        self.trace_function = self.ftrace_stub  # ftrace_trace_function
        self.trace_op = self.list_end  # set_function_trace_op
        self.booted = False

    # --- boot --------------------------------------------------------------------------------
    def boot(self) -> None:
        """ftrace_init(): every site in its disabled form."""
        def steps() -> Steps:
            for rec in self.records:
                rec.want_ops = self.nop_ops
                yield from self.arch_ops.init_nop(self.ctx, rec)
                rec.literal = self.nop_ops if self.arch_ops.call_ops else None
            yield SyncCore("ftrace_init")
        self.run_steps(steps())
        self.booted = True

    @property
    def function_names(self) -> list[str]:
        """available_filter_functions"""
        return [r.func for r in self.records]

    # --- ops ---------------------------------------------------------------------------------
    def new_ops(self, name: str, func: str | int, private: int = 0,
                direct_call: int = 0) -> FtraceOps:
        addr = self.machine.heap.alloc(abi.OPS_SIZE)
        fn = func if isinstance(func, int) else self.image.function(func).addr
        ops = FtraceOps(name, addr, fn, private, direct_call)
        m = self.machine.mem
        m.set_u64(addr + abi.OPS_FUNC, fn)
        m.set_u64(addr + abi.OPS_NEXT, self.list_end)
        m.set_u64(addr + abi.OPS_PRIVATE, private)
        m.set_u64(addr + abi.OPS_DIRECT_CALL, direct_call)
        m.set_u64(addr + abi.OPS_FLAGS, abi.FTRACE_OPS_FL_DIRECT if direct_call else 0)
        return ops

    def ops_calls(self, ops: FtraceOps) -> int:
        return self.machine.mem.u64(ops.addr + abi.OPS_CALLS)

    def _hash_steps(self, ops: FtraceOps, field_off: int, funcs: set[str] | None) -> Steps:
        """Publish a new hash: contents first, then the pointer (rcu_assign_pointer)."""
        if funcs is None or (field_off == abi.OPS_NOTRACE and not funcs):
            yield DataWrite(ops.addr + field_off, u64(0), f"{ops.name} hash")
            return
        ips = sorted(self.by_func[f].ip for f in funcs)
        block = self.machine.heap.alloc(8 + 8 * len(ips))
        data = u64(len(ips)) + b"".join(u64(ip) for ip in ips)
        yield DataWrite(block, data, f"{ops.name} hash contents")
        yield Barrier("smp_wmb")
        yield DataWrite(ops.addr + field_off, u64(block), f"{ops.name} hash")

    def set_filter(self, ops: FtraceOps, patterns: Iterable[str], append: bool = False,
                   notrace: bool = False) -> None:
        """Write `patterns` to the ops' filter (or notrace) hash, as set_ftrace_filter does.
        A pattern matching no function fails the write, like the kernel's -EINVAL."""
        patterns = list(patterns)
        current = (ops.notrace if notrace else (ops.filter or set()))
        new, unmatched = apply_filter(current, patterns, self.function_names, append)
        if unmatched:
            raise FtlabError(f"{'set_ftrace_notrace' if notrace else 'set_ftrace_filter'}: "
                             f"no function matches {', '.join(repr(u) for u in unmatched)} "
                             "(-EINVAL)")
        if not patterns:
            new = set()
        if notrace:
            ops.notrace = new
        else:
            ops.filter = new or None
        field_off = abi.OPS_NOTRACE if notrace else abi.OPS_FILTER

        def steps() -> Steps:
            yield from self._hash_steps(ops, field_off, new if notrace else (new or None))
            if ops.registered:  # ftrace_hash_move_and_update_ops
                yield from self._run_update(update_func=False)
        self.run_steps(steps())

    def register(self, ops: FtraceOps) -> None:
        """register_ftrace_function() -> ftrace_startup()"""
        if ops.registered:
            raise FtlabError(f"ops {ops.name} is already registered (-EBUSY)")
        if ops.direct_call and not self.arch_ops.direct_calls:
            raise FtlabError(f"scheme {self.arch_ops.name} has no direct calls "
                             "(the kernel needs CALL_OPS for them on this arch)")

        def steps() -> Steps:
            head = self.ops[0].addr if self.ops else self.list_end
            yield DataWrite(ops.addr + abi.OPS_NEXT, u64(head), f"{ops.name}->next")
            yield Barrier("smp_wmb")
            yield DataWrite(self.ops_list_head, u64(ops.addr), "ftrace_ops_list")
            self.ops.insert(0, ops)
            ops.registered = True
            flags = self.machine.mem.u64(ops.addr + abi.OPS_FLAGS)
            yield DataWrite(ops.addr + abi.OPS_FLAGS, u64(flags | abi.FTRACE_OPS_FL_ENABLED))
            yield from self._run_update(update_func=self._update_trace_function())
        self.run_steps(steps())

    def unregister(self, ops: FtraceOps) -> None:
        """unregister_ftrace_function() -> ftrace_shutdown()"""
        if not ops.registered:
            raise FtlabError(f"ops {ops.name} is not registered")

        def steps() -> Steps:
            i = self.ops.index(ops)
            nxt = self.ops[i + 1].addr if i + 1 < len(self.ops) else self.list_end
            prev = self.ops_list_head if i == 0 else self.ops[i - 1].addr + abi.OPS_NEXT
            yield DataWrite(prev, u64(nxt), f"unlink {ops.name}")
            self.ops.remove(ops)
            ops.registered = False
            flags = self.machine.mem.u64(ops.addr + abi.OPS_FLAGS)
            yield DataWrite(ops.addr + abi.OPS_FLAGS, u64(flags & ~abi.FTRACE_OPS_FL_ENABLED))
            yield from self._run_update(update_func=self._update_trace_function())
        self.run_steps(steps())

    def register_direct(self, ops: FtraceOps, addr: int) -> None:
        """register_ftrace_direct(ops, addr): the ops' filter names the functions."""
        if ops.filter is None:
            raise FtlabError("a direct ops needs a filter naming its functions")
        for other in self.ops:  # one direct trampoline per function (ftrace_find_rec_direct)
            taken = sorted(ops.filter & (other.filter or set())) if other.direct_call else []
            if taken:
                raise FtlabError(f"register_ftrace_direct: {taken[0]} already has a direct "
                                 f"trampoline (ops {other.name}) (-EBUSY)")
        ops.direct_call = addr
        ops.func = self.call_direct_funcs
        self.machine.mem.set_u64(ops.addr + abi.OPS_FUNC, ops.func)
        self.machine.mem.set_u64(ops.addr + abi.OPS_DIRECT_CALL, addr)
        flags = self.machine.mem.u64(ops.addr + abi.OPS_FLAGS)
        self.machine.mem.set_u64(ops.addr + abi.OPS_FLAGS, flags | abi.FTRACE_OPS_FL_DIRECT)
        self.register(ops)

    def modify_direct(self, ops: FtraceOps, addr: int) -> None:
        """modify_ftrace_direct(): publish the new address, then retarget the sites."""
        def steps() -> Steps:
            ops.direct_call = addr
            yield DataWrite(ops.addr + abi.OPS_DIRECT_CALL, u64(addr), f"{ops.name} direct")
            yield Barrier("smp_wmb")
            yield from self._run_update(update_func=False)
        self.run_steps(steps())

    # --- the update path ---------------------------------------------------------------------
    def _update_trace_function(self) -> bool:
        """update_ftrace_function(): True when ftrace_trace_function changed."""
        if not self.ops:
            func, op = self.ftrace_stub, self.list_end
        elif len(self.ops) == 1:
            func, op = self.ops[0].func, self.ops[0].addr
        else:
            func, op = self.list_func, self.list_end
        changed = func != self.trace_function or op != self.trace_op
        self.trace_function, self.trace_op = func, op
        return changed

    def _update_func(self, func: int) -> Steps:
        """update_ftrace_func(): skipped when the function did not change."""
        if func == self.saved_func:
            return
        old = self.saved_func if self.saved_func is not None else self.ftrace_stub
        self.saved_func = func
        wrote = False
        for step in self.arch_ops.update_ftrace_func(self.ctx, func):
            wrote = True
            yield step
        if wrote:  # CALL_OPS arches have no global function: nothing retires
            yield FuncRetired(old, func)

    def _run_update(self, update_func: bool) -> Steps:
        """ftrace_run_update_code(): arch_ftrace_update_code(ftrace_modify_all_code)."""
        yield from self.arch_ops.update_code(self.ctx, lambda: self._modify_all_code(update_func))

    def _modify_all_code(self, update_func: bool) -> Steps:
        """ftrace_modify_all_code(): the list function first, then the sites, then publish
        the trace op (barrier, sync IPI), then the final function."""
        if update_func:
            yield from self._update_func(self.list_func)
        yield from self.arch_ops.replace_code(self.ctx, self._record_updates())
        if update_func:
            yield DataWrite(self.function_trace_op, u64(self.trace_op), "function_trace_op")
            yield Barrier("smp_wmb")
            yield SyncCore("ftrace_sync_ipi")
            yield from self._update_func(self.trace_function)

    def _desired(self, rec: DynFtrace) -> tuple[int | None, int]:
        covering = [o for o in self.ops if o.covers(rec.func)]
        if not covering:
            return None, self.nop_ops
        if len(covering) == 1:
            only = covering[0]
            return (only.direct_call or self.ftrace_caller), only.addr
        return self.ftrace_caller, self.list_ops

    def _record_updates(self) -> list[tuple[DynFtrace, Callable[[], Steps]]]:
        updates = []
        arch, ctx = self.arch_ops, self.ctx
        for rec in self.records:
            want, literal = self._desired(rec)
            if want is not None:
                want = arch.call_target(ctx, rec, want)
            lit_changed = arch.call_ops and literal != rec.literal
            if want == rec.call and not lit_changed:
                continue
            old = rec.call

            def make(rec: DynFtrace = rec, old: int | None = old, want: int | None = want,
                     literal: int = literal) -> Steps:
                rec.want_ops = literal
                if old is None and want is not None:
                    yield from arch.make_call(ctx, rec, want)
                elif want is None and old is not None:
                    yield from arch.make_nop(ctx, rec, old)
                elif old is not None and want is not None:
                    yield from arch.modify_call(ctx, rec, old, want)
                else:  # disabled before and after: only the literal changes
                    yield from arch.set_ops_literal(ctx, rec, literal)
                rec.call = want
                if arch.call_ops:
                    rec.literal = literal
            updates.append((rec, make))
        return updates

    def enabled_functions(self) -> list[tuple[DynFtrace, int]]:
        """enabled_functions: each enabled record with its ops count."""
        return [(r, sum(o.covers(r.func) for o in self.ops)) for r in self.records
                if r.call is not None]
