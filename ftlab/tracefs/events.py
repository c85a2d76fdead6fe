"""Trace events: the kernel's events/ tree (kernel/trace/trace_events.c), the layout each
`format` file describes, event filters (trace_events_filter.c) and event triggers
(trace_events_trigger.c).

Events ftlab records: the ftrace system's (the guest's own ring-buffer entries: function,
funcgraph_entry/exit, print, bprint, kernel_stack; format and id only, as in the kernel), and
tracepoints written from Python where ftlab's scheduler acts (sched_switch, sched_wakeup,
sched_wakeup_new, sched_process_fork, sched_process_exit) plus bpf_trace_printk. A
tracepoint's payload in the ring buffer is its fields at their `format` offsets less the
8-byte common header (ftlab's entry header is its own; see ftlab/trace.h).
"""

from __future__ import annotations

import errno
import fnmatch
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

COMMON_HEADER = 8  # common_type, common_flags, common_preempt_count, common_pid
TASK_COMM_LEN = 16


@dataclass(frozen=True)
class Field:
    ctype: str  # as the format file writes it: "char prev_comm[16]"
    offset: int
    size: int
    signed: bool

    @property
    def name(self) -> str:
        return re.sub(r"\[.*\]$", "", self.ctype.split()[-1])

    @property
    def is_string(self) -> bool:
        return "char" in self.ctype and "[" in self.ctype


COMMON_FIELDS = (
    Field("unsigned short common_type", 0, 2, False),
    Field("unsigned char common_flags", 2, 1, False),
    Field("unsigned char common_preempt_count", 3, 1, False),
    Field("int common_pid", 4, 4, True),
)


@dataclass(frozen=True)
class EventType:
    system: str
    name: str
    id: int
    fields: tuple[Field, ...]
    print_fmt: str
    # text after "name: " in the trace, from the field values
    show: Callable[[dict], str] = lambda v: ""
    tracepoint: bool = True  # has enable/filter/trigger (the ftrace system's do not)

    @property
    def full(self) -> str:
        return f"{self.system}:{self.name}"

    def field(self, name: str) -> Field | None:
        for f in (*COMMON_FIELDS, *self.fields):
            if f.name == name:
                return f
        return None

    def format_text(self) -> str:
        """The `format` file (trace_events.c f_show)."""
        def line(f: Field) -> str:
            return (f"\tfield:{f.ctype};\toffset:{f.offset};\tsize:{f.size};"
                    f"\tsigned:{int(f.signed)};\n")
        return (f"name: {self.name}\nID: {self.id}\nformat:\n"
                + "".join(line(f) for f in COMMON_FIELDS) + "\n"
                + "".join(line(f) for f in self.fields)
                + f"\nprint fmt: {self.print_fmt}\n")

    def pack(self, values: dict) -> bytes:
        """The payload (fields after the common header) ftlab writes into the ring buffer."""
        end = max((f.offset + f.size for f in self.fields), default=COMMON_HEADER)
        buf = bytearray(end - COMMON_HEADER)
        for f in self.fields:
            v = values.get(f.name, 0)
            off = f.offset - COMMON_HEADER
            if f.is_string:
                raw = str(v).encode()[:f.size - 1]
                buf[off:off + len(raw)] = raw
            else:
                fmt = {1: "b", 2: "h", 4: "i", 8: "q"}[f.size]
                struct.pack_into("<" + (fmt if f.signed else fmt.upper()), buf, off,
                                 int(v) & ((1 << (8 * f.size)) - 1) if not f.signed else int(v))
        return bytes(buf)

    def unpack(self, payload: bytes) -> dict:
        values: dict = {}
        for f in self.fields:
            off = f.offset - COMMON_HEADER
            raw = payload[off:off + f.size]
            if len(raw) < f.size:
                values[f.name] = "" if f.is_string else 0
            elif f.is_string:
                values[f.name] = raw.split(b"\0", 1)[0].decode(errors="replace")
            else:
                values[f.name] = int.from_bytes(raw, "little", signed=f.signed)
        return values


def _f(ctype: str, offset: int, size: int, signed: bool = False) -> Field:
    return Field(ctype, offset, size, signed)


# prev_state as sched_switch prints it (include/trace/events/sched.h __trace_sched_switch_state)
_STATES = "SDTtXZPI"


PREEMPTED = 0x100  # TASK_REPORT_MAX: "R+"


def _state(v: int) -> str:
    flags = "|".join(c for i, c in enumerate(_STATES) if v & (1 << i))
    return flags or ("R+" if v & PREEMPTED else "R")


SCHED_SWITCH = EventType(
    "sched", "sched_switch", 316,
    (_f("char prev_comm[16]", 8, 16), _f("pid_t prev_pid", 24, 4, True),
     _f("int prev_prio", 28, 4, True), _f("long prev_state", 32, 8, True),
     _f("char next_comm[16]", 40, 16), _f("pid_t next_pid", 56, 4, True),
     _f("int next_prio", 60, 4, True)),
    '"prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d '
    'next_prio=%d", REC->prev_comm, REC->prev_pid, REC->prev_prio, (REC->prev_state & '
    '((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | '
    '0x00000020 | 0x00000040) + 1) << 1) - 1)) ? __print_flags(REC->prev_state & ((((0x00000000 '
    '| 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | '
    '0x00000040) + 1) << 1) - 1), "|", { 0x00000001, "S" }, { 0x00000002, "D" }, { 0x00000004, '
    '"T" }, { 0x00000008, "t" }, { 0x00000010, "X" }, { 0x00000020, "Z" }, { 0x00000040, "P" }, '
    '{ 0x00000080, "I" }) : "R", REC->prev_state & (((0x00000000 | 0x00000001 | 0x00000002 | '
    '0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) ? "+" : "", '
    'REC->next_comm, REC->next_pid, REC->next_prio',
    lambda v: (f"prev_comm={v['prev_comm']} prev_pid={v['prev_pid']} prev_prio={v['prev_prio']} "
               f"prev_state={_state(v['prev_state'])} ==> next_comm={v['next_comm']} "
               f"next_pid={v['next_pid']} next_prio={v['next_prio']}"))


def _wakeup(name: str, eid: int) -> EventType:
    return EventType(
        "sched", name, eid,
        (_f("char comm[16]", 8, 16), _f("pid_t pid", 24, 4, True), _f("int prio", 28, 4, True),
         _f("int target_cpu", 32, 4, True)),
        '"comm=%s pid=%d prio=%d target_cpu=%03d", REC->comm, REC->pid, REC->prio, '
        'REC->target_cpu',
        lambda v: (f"comm={v['comm']} pid={v['pid']} prio={v['prio']} "
                   f"target_cpu={v['target_cpu']:03d}"))


SCHED_WAKEUP = _wakeup("sched_wakeup", 318)
SCHED_WAKEUP_NEW = _wakeup("sched_wakeup_new", 317)
SCHED_PROCESS_FORK = EventType(
    "sched", "sched_process_fork", 312,
    (_f("char parent_comm[16]", 8, 16), _f("pid_t parent_pid", 24, 4, True),
     _f("char child_comm[16]", 28, 16), _f("pid_t child_pid", 44, 4, True)),
    '"comm=%s pid=%d child_comm=%s child_pid=%d", REC->parent_comm, REC->parent_pid, '
    'REC->child_comm, REC->child_pid',
    lambda v: (f"comm={v['parent_comm']} pid={v['parent_pid']} child_comm={v['child_comm']} "
               f"child_pid={v['child_pid']}"))
SCHED_PROCESS_EXIT = EventType(
    "sched", "sched_process_exit", 313,
    (_f("char comm[16]", 8, 16), _f("pid_t pid", 24, 4, True), _f("int prio", 28, 4, True)),
    '"comm=%s pid=%d prio=%d", REC->comm, REC->pid, REC->prio',
    lambda v: f"comm={v['comm']} pid={v['pid']} prio={v['prio']}")
BPF_TRACE_PRINTK = EventType(
    "bpf_trace", "bpf_trace_printk", 600,
    (_f("__data_loc char[] bpf_string", 8, 4, True),),
    '"%s", __get_str(bpf_string)')

# the ftrace system: the tracers' own entries (kernel/trace/trace_entries.h); kernel ids
PRINT_FULL = "ftrace:print"
FTRACE_EVENTS = (
    EventType("ftrace", "function", 1,
              (_f("unsigned long ip", 8, 8), _f("unsigned long parent_ip", 16, 8)),
              '" %ps <-- %ps", (void *)REC->ip, (void *)REC->parent_ip', tracepoint=False),
    EventType("ftrace", "kernel_stack", 4,
              (_f("int size", 8, 4, True), _f("unsigned long caller[8]", 16, 64)),
              '"\\t=> %ps\\n\\t=> %ps\\n\\t=> %ps\\n\\t=> %ps\\n\\t=> %ps\\n\\t=> %ps\\n'
              '\\t=> %ps\\n\\t=> %ps\\n", (void *)REC->caller[0], (void *)REC->caller[1], '
              '(void *)REC->caller[2], (void *)REC->caller[3], (void *)REC->caller[4], '
              '(void *)REC->caller[5], (void *)REC->caller[6], (void *)REC->caller[7]',
              tracepoint=False),
    EventType("ftrace", "print", 5,
              (_f("unsigned long ip", 8, 8), _f("char buf[]", 16, 0, True)),
              '"%ps: %s", (void *)REC->ip, REC->buf', tracepoint=False),
    EventType("ftrace", "bprint", 6,
              (_f("unsigned long ip", 8, 8), _f("const char * fmt", 16, 8),
               _f("u32 buf[]", 24, 0)),
              '"%ps: %s", (void *)REC->ip, REC->fmt', tracepoint=False),
    EventType("ftrace", "funcgraph_exit", 10,
              (_f("unsigned long func", 8, 8), _f("int depth", 16, 4, True),
               _f("unsigned int overrun", 20, 4), _f("unsigned long long calltime", 24, 8),
               _f("unsigned long long rettime", 32, 8)),
              '"<-- %ps (%d) (start: %llx  end: %llx) over: %d", (void *)REC->func, '
              'REC->depth, REC->calltime, REC->rettime, REC->depth', tracepoint=False),
    EventType("ftrace", "funcgraph_entry", 11,
              (_f("unsigned long func", 8, 8), _f("int depth", 16, 4, True)),
              '"--> %ps (%d)", (void *)REC->func, REC->depth', tracepoint=False),
)

SCHED_WAKING = _wakeup("sched_waking", 319)
TRACEPOINTS = (SCHED_PROCESS_FORK, SCHED_PROCESS_EXIT, SCHED_WAKEUP_NEW, SCHED_WAKEUP,
               SCHED_WAKING, SCHED_SWITCH, BPF_TRACE_PRINTK)
ALL_EVENTS = (*FTRACE_EVENTS, *TRACEPOINTS)
BY_SYSTEM: dict[str, dict[str, EventType]] = {}
for _ev in ALL_EVENTS:
    BY_SYSTEM.setdefault(_ev.system, {})[_ev.name] = _ev
BY_ID = {ev.id: ev for ev in TRACEPOINTS}

HEADER_PAGE = (
    "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
    "\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n"
    "\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
    "\tfield: char data;\toffset:16;\tsize:{data};\tsigned:1;\n")
HEADER_EVENT = (
    "# compressed entry header\n"
    "\ttype_len    :    5 bits\n"
    "\ttime_delta  :   27 bits\n"
    "\tarray       :   32 bits\n\n"
    "\tpadding     : type == 29\n"
    "\ttime_extend : type == 30\n"
    "\ttime_stamp : type == 31\n"
    "\tdata max type_len  == 28\n")


class EventError(Exception):
    """A bad filter or trigger: the errno and, for error_log, the message and position."""

    def __init__(self, message: str, pos: int = 0, code: int = errno.EINVAL) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.code = code


# --- filters ---------------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(\|\||&&|==|!=|<=|>=|[()!<>&~]|\"[^\"]*\"|'[^']*'|[^\s()!<>=&|~\"']+)")
_OPS = ("==", "!=", "<=", ">=", "<", ">", "&", "~")

Predicate = Callable[[dict], bool]


def parse_filter(text: str, ev: EventType) -> Predicate:
    """The kernel's filter expressions: `field op value` joined by && and || with ! and
    parentheses; strings compare with ==, != and ~ (a glob)."""
    tokens: list[tuple[str, int]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or not m.group(1):
            raise EventError("Illegal token", pos)
        tokens.append((m.group(1), m.start(1)))
        pos = m.end()
    if not tokens:
        raise EventError("Missing field name and/or value", 0)
    i = 0

    def peek() -> str | None:
        return tokens[i][0] if i < len(tokens) else None

    def where() -> int:
        return tokens[i][1] if i < len(tokens) else len(text)

    def take() -> str:
        nonlocal i
        if i >= len(tokens):
            raise EventError("Missing field name and/or value", len(text))
        i += 1
        return tokens[i - 1][0]

    def expr() -> Predicate:
        left = term()
        while peek() == "||":
            take()
            a, b = left, term()
            left = lambda v, a=a, b=b: a(v) or b(v)  # noqa: E731
        return left

    def term() -> Predicate:
        left = factor()
        while peek() == "&&":
            take()
            a, b = left, factor()
            left = lambda v, a=a, b=b: a(v) and b(v)  # noqa: E731
        return left

    def factor() -> Predicate:
        if peek() == "!":
            take()
            inner = factor()
            return lambda v: not inner(v)
        if peek() == "(":
            start = where()
            take()
            inner = expr()
            if peek() != ")":
                raise EventError("Unbalanced parens", start)
            take()
            return inner
        return predicate()

    def predicate() -> Predicate:
        at = where()
        name = take()
        f = ev.field(name)
        if f is None or name in ("(", ")", "!") or name in _OPS:
            # the kernel points at what follows the unknown name (parse_pred)
            raise EventError("Field not found", where() if f is None else at)
        op_at = at = where()
        op = take()
        if op not in _OPS:
            raise EventError("Invalid operator", at)
        at = where()
        raw = take()
        if raw in _OPS or raw in ("&&", "||", "(", ")"):
            raise EventError("Missing field name and/or value", at)
        value = raw[1:-1] if raw[:1] in "\"'" and len(raw) >= 2 else raw
        key = f.name
        if f.is_string:
            if op not in ("==", "!=", "~"):
                raise EventError("Invalid operator", op_at)
            if op == "~":
                return lambda v: fnmatch.fnmatchcase(str(v.get(key, "")), value)
            return (lambda v: str(v.get(key, "")) == value) if op == "==" else (
                lambda v: str(v.get(key, "")) != value)
        if op == "~":
            raise EventError("Invalid operator", op_at)
        try:
            num = int(value, 0)
        except ValueError:
            raise EventError("Illegal integer value", at) from None
        cmp = {"==": lambda a: a == num, "!=": lambda a: a != num, "<": lambda a: a < num,
               "<=": lambda a: a <= num, ">": lambda a: a > num, ">=": lambda a: a >= num,
               "&": lambda a: bool(a & num)}[op]
        return lambda v: cmp(int(v.get(key, 0)))

    pred = expr()
    if i != len(tokens):
        raise EventError("Meaningless filter expression" if peek() != ")"
                         else "Unbalanced parens", where())
    return pred


# --- triggers --------------------------------------------------------------------------------
TRIGGER_CMDS = ("traceon", "traceoff", "snapshot", "stacktrace", "enable_event",
                "disable_event")


@dataclass
class Trigger:
    cmd: str
    count: int  # -1: unlimited
    target: str = ""  # enable_event/disable_event: "sys:event"
    filter_text: str = ""
    filter: Predicate | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.cmd, self.target)

    def text(self) -> str:
        name = self.cmd + (f":{self.target}" if self.target else "")
        count = ":unlimited" if self.count < 0 else f":count={self.count}"
        cond = f" if {self.filter_text}" if self.filter_text else ""
        return f"{name}{count}{cond}\n"


TRIGGER_HEADER = ("# Available triggers:\n"
                  "# traceon traceoff snapshot stacktrace enable_event disable_event\n")


def parse_trigger(text: str, ev: EventType) -> tuple[bool, Trigger]:
    """`[!]cmd[:sys:event][:count] [if filter]` -> (remove, trigger)."""
    text = text.strip()
    remove = text.startswith("!")
    if remove:
        text = text[1:]
    head, sep, cond = text.partition(" if ")
    if not sep and " if" in text and text.rstrip().endswith(" if"):
        raise EventError("Missing filter", len(text))
    parts = head.strip().split(":")
    cmd = parts[0]
    if cmd not in TRIGGER_CMDS:
        raise EventError(f"Unknown trigger command '{cmd}'", 0)
    target = ""
    rest = parts[1:]
    if cmd in ("enable_event", "disable_event"):
        if len(rest) < 2:
            raise EventError("Missing event", len(head))
        sysname, evname = rest[0], rest[1]
        if evname not in BY_SYSTEM.get(sysname, {}) or not BY_SYSTEM[sysname][evname].tracepoint:
            raise EventError(f"No event {sysname}:{evname}", len(cmd) + 1, errno.ENOENT)
        target = f"{sysname}:{evname}"
        rest = rest[2:]
    count = -1
    if rest and rest[0] != "unlimited":
        word = rest[0]
        if word.startswith("count="):
            word = word[6:]
        if len(rest) > 1 or not word.isdigit():
            raise EventError("Bad trigger count", len(head) - len(rest[0]))
        count = int(word)
    trig = Trigger(cmd, count, target)
    if cond.strip() and not remove:
        trig.filter_text = cond.strip()
        trig.filter = parse_filter(trig.filter_text, ev)
    return remove, trig


@dataclass
class EventSettings:
    """One event's files in one instance."""

    enabled: bool = False
    soft_disabled: bool = False  # an enable_event trigger's target waits for its trigger
    soft_mode: int = 0  # enable_event/disable_event triggers and probes naming this event
    filter_text: str = ""
    filter: Predicate | None = None
    triggers: list[Trigger] = field(default_factory=list)


class InstanceEvents:
    """The events/ state of one trace instance."""

    def __init__(self) -> None:
        # every event has a trigger file (trace_marker's ftrace:print triggers fire); only
        # tracepoints are enabled
        self.events: dict[str, EventSettings] = {ev.full: EventSettings() for ev in ALL_EVENTS}
        self.pids: set[int] = set()

    def get(self, ev: EventType) -> EventSettings:
        return self.events[ev.full]

    def enabled(self) -> list[EventType]:
        return [ev for ev in TRACEPOINTS if self.events[ev.full].enabled]

    def active(self) -> bool:
        return any(s.enabled or s.triggers for s in self.events.values())

    def set_enable(self, ev: EventType, on: bool) -> None:
        st = self.events[ev.full]
        if st.soft_mode:  # an enable/disable_event command owns it: only soft-(dis)able
            st.soft_disabled = not on
        else:
            st.enabled = on

    def system_state(self, system: str | None) -> str:
        """The system or top-level `enable` file: 0, 1, or X when mixed."""
        states = {self.events[ev.full].enabled for ev in TRACEPOINTS
                  if system is None or ev.system == system}
        if len(states) > 1:
            return "X"
        return "1" if states == {True} else "0"

    def set_event_lines(self) -> str:
        return "".join(f"{ev.full}\n" for ev in TRACEPOINTS if self.events[ev.full].enabled)

    def select(self, pattern: str) -> list[EventType]:
        """set_event's `sys:event`, `sys:`, `event`, `*:*` and globs."""
        if ":" in pattern:
            sysp, _, evp = pattern.partition(":")
        else:
            sysp, evp = "*", pattern
        sysp, evp = sysp or "*", evp or "*"
        return [ev for ev in TRACEPOINTS
                if fnmatch.fnmatchcase(ev.system, sysp) and fnmatch.fnmatchcase(ev.name, evp)
                or (":" not in pattern and fnmatch.fnmatchcase(ev.system, pattern))]

    def reset(self) -> None:
        for ev in TRACEPOINTS:
            self.set_enable(ev, False)


# --- function commands (set_ftrace_filter `func:cmd[:arg]`, kernel/trace/ftrace.c) ----------
FUNC_CMDS = ("traceon", "traceoff", "stacktrace", "dump", "cpudump", "snapshot",
             "enable_event", "disable_event")


@dataclass
class FuncProbe:
    func: str
    cmd: str
    count: int = -1  # -1: unlimited
    target: str = ""  # enable_event/disable_event: "sys:event"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.func, self.cmd, self.target)

    def text(self) -> str:
        name = f"{self.func}:{self.cmd}" + (f":{self.target}" if self.target else "")
        if self.cmd in ("dump", "cpudump"):
            return name + "\n"
        return name + (":unlimited\n" if self.count < 0 else f":count={self.count}\n")


def parse_func_command(cmd: str, param: str) -> tuple[str, int]:
    """A command's parameter -> (target event, count); raises EventError."""
    if cmd not in FUNC_CMDS:
        raise EventError(f"unknown function command '{cmd}'")
    parts = param.split(":") if param else []
    target = ""
    if cmd in ("enable_event", "disable_event"):
        if len(parts) < 2:
            raise EventError(f"{cmd} needs system:event")
        sysname, name = parts[0], parts[1]
        ev = BY_SYSTEM.get(sysname, {}).get(name)
        if ev is None or not ev.tracepoint:
            raise EventError(f"no event {sysname}:{name}", code=errno.EINVAL)
        target, parts = f"{sysname}:{name}", parts[2:]
    count = -1
    if parts and parts[0] != "unlimited":
        word = parts[0]
        if word.startswith("count="):
            word = word[6:]
        if len(parts) > 1 or not word.isdigit() or cmd in ("dump", "cpudump"):
            raise EventError(f"bad count '{parts[0]}'")
        count = int(word)
    return target, count
