"""Where results go: output paths checked before the work starts, written so that nothing is
lost. A regular (or new) file is written to a temporary file beside it and renamed into place;
a device, a pipe or `-` (stdout) is written in place. If writing still fails, the result is
saved under $FTLAB_CACHE/rescued/ and the error names that file."""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
import time
from pathlib import Path

from ftlab.errors import FtlabError, UsageError


def _parent(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def check_output_file(path: str) -> None:
    """Refuse, before any work, an output path that cannot be written."""
    if path == "-":
        return
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        st = None
    except OSError as err:
        raise UsageError(f"-o {path}: {err.strerror}") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise UsageError(f"-o {path}: is a directory; name a file")
        if not os.access(p, os.W_OK):
            raise UsageError(f"-o {path}: not writable")
        if stat.S_ISREG(st.st_mode) and not os.access(_parent(p), os.W_OK | os.X_OK):
            raise UsageError(f"-o {path}: its directory {_parent(p)} is not writable")
        return
    parent = _parent(p)
    if not parent.is_dir():
        raise UsageError(f"-o {path}: no such directory {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"-o {path}: directory {parent} is not writable")


def check_output_dir(path: str) -> None:
    """An output directory: absent (it will be made, in a writable place) or a directory."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise UsageError(f"-o {path}: exists and is not a directory")
        if not os.access(p, os.W_OK | os.X_OK):
            raise UsageError(f"-o {path}: directory not writable")
        return
    anc = p.absolute().parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir() or not os.access(anc, os.W_OK | os.X_OK):
        raise UsageError(f"-o {path}: cannot create it under {anc}")


def rescue(data: str, name: str, err: BaseException, target: str | None = None,
           hint: str = "") -> FtlabError:
    """Save `data` (as NAME) under $FTLAB_CACHE/rescued/ after writing `target` (default:
    NAME) failed; the error to raise names where it went."""
    from ftlab.guest.build import cache_dir

    why = getattr(err, "strerror", None) or str(err)
    try:
        folder = cache_dir() / "rescued"
        folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(name).name)
        fd, saved_name = tempfile.mkstemp(dir=folder, suffix=f"-{safe or 'output'}",
                                          prefix=f"{time.strftime('%Y%m%d-%H%M%S')}-")
        saved = Path(saved_name)
        with os.fdopen(fd, "w") as f:
            f.write(data)
    except (OSError, FtlabError) as again:
        return FtlabError(f"could not write {target or name} ({why}), nor save it elsewhere "
                          f"({again})")
    return FtlabError(f"could not write {target or name} ({why}); the result is saved in "
                      f"{saved}{hint}")


def is_stdout(path: str) -> bool:
    """`-`, or a name for the file stdout already writes (/dev/stdout): one writer for it."""
    if path == "-":
        return True
    try:
        return not _closed and os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):
        return False


def _atomic_ok(p: Path) -> bool:
    """A new or regular file that a rename can replace: not a device or pipe, and not an open
    descriptor seen through /dev or /proc (/dev/stdout redirected to a file)."""
    real = os.path.realpath(p)
    if str(p.absolute()).startswith(("/dev/", "/proc/")) or real.startswith(("/dev/", "/proc/")):
        return False
    try:
        return stat.S_ISREG(os.stat(real).st_mode)
    except FileNotFoundError:
        return True


def _write_atomic(p: Path, data: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=_parent(p))
    try:
        with os.fdopen(fd, "w") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, 0o666 & ~_umask())
        except OSError:
            pass
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str, data: str) -> None:
    """Write a result to `path` ('-': stdout); on failure rescue it and raise FtlabError."""
    if is_stdout(path):
        write_stdout(data)
        return
    p = Path(path)
    try:
        if _atomic_ok(p):
            _write_atomic(Path(os.path.realpath(p)), data)  # through a symlink to its file
        else:  # a device, a pipe, an fd (/dev/stdout): in place
            with open(p, "w") as f:
                f.write(data)
    except OSError as err:
        raise rescue(data, path, err) from None


def write_bytes(path: str, data: bytes) -> None:
    """Write a binary result (trace.dat) to `path` ('-': stdout), atomically when it is a
    regular file. A terminal is refused: binary data there helps nobody."""
    if is_stdout(path):
        if sys.stdout.isatty():
            raise UsageError("a binary trace (--format dat) needs -o FILE or a pipe, "
                             "not a terminal")
        sys.stdout.flush()
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            silence_stdout()
            raise
        except OSError as err:
            raise FtlabError(f"could not write the trace to stdout: {err.strerror}") from None
        return
    p = Path(path)
    try:
        if _atomic_ok(p):
            real = Path(os.path.realpath(p))
            fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=_parent(real))
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o666 & ~_umask())
                os.replace(tmp, real)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        else:
            with open(p, "wb") as f:
                f.write(data)
    except OSError as err:
        raise FtlabError(f"could not write {path}: {err.strerror}") from None


def write_stdout(data: str) -> None:
    """Print a result; if stdout fails (a full disk), rescue it. A closed pipe (`| head`)
    is not an error of ours: the reader had what it wanted."""
    if stdout_closed():
        raise rescue(data, "stdout", OSError(errno.EBADF, "stdout is closed"))
    try:
        sys.stdout.write(data)
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        raise
    except OSError as err:
        silence_stdout()
        raise rescue(data, "stdout", err) from None


_closed = False


def guard_closed_stdout() -> None:
    """Started with fd 1 closed (`>&-`): Python leaves sys.stdout None. Results then go to
    the rescue folder, the rest to /dev/null."""
    global _closed
    if sys.stdout is None:
        _closed = True
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process


def stdout_closed() -> bool:
    return _closed


def silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
