"""Errors a user can cause. The CLI prints them without a traceback (exit 1, or 2 for usage)."""


class FtlabError(Exception):
    """A user error or a found problem: exit code 1."""

    exit_code = 1


class UsageError(FtlabError):
    """The command line itself is wrong: exit code 2."""

    exit_code = 2


class CompileError(FtlabError):
    """The guest did not compile or link; the message is the compiler's own."""


class SymbolError(FtlabError):
    """An unknown function or symbol name."""
