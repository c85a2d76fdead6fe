"""Format TRACE_BPRINT events the way the kernel's bstr_printf (lib/vsprintf.c) would.

Supported, as bpf_printk accepts them (kernel/bpf/helpers.c bpf_bprintf_prepare):
`%[0 +-][width]` then `d i u x X` (with `l` or `ll`), `c`, `s`, `p`, and `%%`. No precision,
no `%o`. Arguments are u64 words, one per conversion; `%s` takes a byte-length word followed by
ceil(n/8) words of string bytes. `%d`/`%i` without a length modifier are 32-bit signed, `%u`,
`%x`, `%X` without one use the low 32 bits; with `l`/`ll` all take 64 bits.

Where this differs from the kernel, on purpose:
- `%p` prints `0x` + lowercase hex (as if pointer hashing were off and with a glibc-style
  prefix); the kernel prints 16 zero-padded digits without `0x` (pointer_string) or a hash.
  A width pads it with spaces. The kernel's `%p` extensions (alphanumerics after `p`) are
  consumed with it: `%ps`/`%pS`/`%pB` print a symbol when a lookup is given, others print hex.
- An unknown conversion is copied to the output literally and takes no argument; the kernel
  (format_decode: FORMAT_TYPE_INVALID) stops formatting there.
- A conversion with no argument word left is copied literally.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ftlab.trace.events import BprintEvent

_MASK64 = (1 << 64) - 1
_MASK32 = (1 << 32) - 1


def read_cstring(read_mem: Callable[[int, int], bytes], addr: int, limit: int = 4096) -> str:
    """Read a NUL-terminated string from guest memory (at most `limit` bytes)."""
    out = bytearray()
    chunk = 64
    while len(out) < limit:
        try:
            data = read_mem(addr + len(out), chunk)
        except Exception:
            if chunk == 1:
                if not out:
                    raise
                break  # the string ends where readable memory ends
            chunk = 1  # near the end of a mapping: go byte by byte
            continue
        nul = data.find(b"\0")
        if nul >= 0:
            out += data[:nul]
            break
        out += data
    return bytes(out[:limit]).decode(errors="replace")


def _pad(text: str, width: int, left: bool) -> str:
    if len(text) >= width:
        return text
    return text.ljust(width) if left else text.rjust(width)


def _number(value: int, conv: str, flags: str, width: int) -> str:
    """lib/vsprintf.c number(): sign, then zero padding, then digits."""
    sign = ""
    if conv in "di":
        if value < 0:
            sign, value = "-", -value
        elif "+" in flags:
            sign = "+"
        elif " " in flags:
            sign = " "
    if conv in "diu":
        digits = str(value)
    elif conv == "x":
        digits = f"{value:x}"
    else:
        digits = f"{value:X}"
    left = "-" in flags
    if "0" in flags and not left:
        digits = digits.rjust(width - len(sign), "0")
    return _pad(sign + digits, width, left)


class _Words:
    def __init__(self, words: Sequence[int]) -> None:
        self.words = words
        self.i = 0

    def left(self) -> int:
        return len(self.words) - self.i

    def take(self) -> int:
        w = self.words[self.i] & _MASK64
        self.i += 1
        return w


def format_bprintk(
    fmt: str,
    words: Sequence[int],
    sym: Callable[[int], str] | None = None,
    symoff: Callable[[int], str] | None = None,
) -> str:
    """Format `fmt` with the bprint argument words (see the module docstring for the rules)."""
    args = _Words(words)
    out: list[str] = []
    i, n = 0, len(fmt)
    while i < n:
        ch = fmt[i]
        if ch != "%":
            j = fmt.find("%", i)
            j = n if j < 0 else j
            out.append(fmt[i:j])
            i = j
            continue
        start = i
        i += 1
        flags = ""
        while i < n and fmt[i] in "0 +-":
            flags += fmt[i]
            i += 1
        wstart = i
        while i < n and fmt[i].isdigit():
            i += 1
        width = int(fmt[wstart:i]) if i > wstart else 0
        lng = 0
        while i < n and fmt[i] == "l" and lng < 2:
            lng += 1
            i += 1
        if i >= n:
            out.append(fmt[start:])  # a dangling '%...' at the end
            break
        conv = fmt[i]
        i += 1
        spec = fmt[start:i]
        left = "-" in flags
        if conv == "%":
            out.append("%")
        elif conv in "diuxX":
            if not args.left():
                out.append(spec)
                continue
            w = args.take()
            if lng == 0:
                w &= _MASK32
                if conv in "di" and w & 0x80000000:
                    w -= 1 << 32
            elif conv in "di" and w & (1 << 63):
                w -= 1 << 64
            out.append(_number(w, conv, flags, width))
        elif conv == "c" and not lng:
            if not args.left():
                out.append(spec)
                continue
            out.append(_pad(chr(args.take() & 0xFF), width, left))
        elif conv == "s" and not lng:
            if not args.left():
                out.append(spec)
                continue
            length = args.take()
            nw = (length + 7) // 8
            if nw > args.left():
                out.append(spec)
                args.i = len(args.words)
                continue
            raw = b"".join(args.take().to_bytes(8, "little") for _ in range(nw))[:length]
            out.append(_pad(raw.decode(errors="replace"), width, left))
        elif conv == "p" and not lng:
            ext_start = i
            while i < n and fmt[i].isalnum():  # bstr_printf skips %p's extension letters
                i += 1
            ext = fmt[ext_start:i]
            if not args.left():
                out.append(fmt[start:i])
                continue
            w = args.take()
            if ext[:1] == "s" and sym is not None:
                text = sym(w)
            elif ext[:1] in ("S", "B") and (symoff or sym) is not None:
                text = (symoff or sym)(w)
            else:
                text = f"0x{w:x}"
            out.append(_pad(text, width, left))
        else:
            out.append(spec)  # unknown conversion: literal, no argument taken
    return "".join(out)


def bprint_message(
    event: BprintEvent,
    sym: Callable[[int], str] | None = None,
    symoff: Callable[[int], str] | None = None,
) -> str:
    """The formatted text of a BprintEvent (what trace_seq_bprintf would print)."""
    if event.fmt is None:
        return f"<unreadable format at {event.fmt_addr:#x}>"
    return format_bprintk(event.fmt, event.words, sym, symoff)
