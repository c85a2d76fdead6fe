"""Errors raised by the instruction encoders in `ftlab.arch.<isa>.encode`."""

from __future__ import annotations


class ReachError(ValueError):
    """A pc-relative target is out of an instruction's reach, or misaligned for it.

    Patching code raises this where the kernel would fall back to a trampoline or PLT
    (or refuse), so callers can tell "cannot reach" apart from a malformed operand
    (a plain ValueError).
    """
