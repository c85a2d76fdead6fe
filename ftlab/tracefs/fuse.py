"""The tracefs model mounted through FUSE: fusepy over Debian's libfuse2, imported lazily
(an optional dependency: `pip install 'ftlab[tracefs]'`, `apt-get install libfuse2`).

Mount options: direct_io (reads reach the model at any offset: tracefs files have no size),
atomic_o_trunc (O_TRUNC arrives with open, so `echo x > set_ftrace_filter` replaces and
`>>` appends), intr (a reader blocked in trace_pipe can be interrupted), big_writes, and no
attribute caching (instances come and go). Reads, writes and releases go by file handle with
no path (flag_nopath), so a reader blocked in trace_pipe holds none of libfuse's path locks.
Requests run on libfuse's threads; the model runs them between the machine's scheduler rounds.
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import os
import re
import shlex
import sys
from pathlib import Path
from types import ModuleType

from ftlab.errors import FtlabError
from ftlab.tracefs.model import Tracefs

INSTALL_HINT = ("pip install 'ftlab[tracefs]' (fusepy) and apt-get install libfuse2")
MNT_DETACH = 2
FSTYPE = "fuse.ftlab"  # fuse.<subtype>
# file names reach the model as latin-1 text: every byte string (UTF-8 or not) round-trips,
# so a non-UTF-8 name is an ordinary name (ENOENT, or a valid instance name), never a crash
PATH_ENCODING = "latin-1"


def import_fuse() -> ModuleType:
    """fusepy, or a clear FtlabError naming what to install."""
    try:
        import fuse  # fusepy
    except ImportError:
        raise FtlabError(f"ftlab tracefs needs fusepy: {INSTALL_HINT}") from None
    except OSError as err:  # fusepy raises EnvironmentError('Unable to find libfuse')
        raise FtlabError(f"ftlab tracefs needs libfuse2 ({err}): {INSTALL_HINT}") from None
    if not hasattr(fuse, "FUSE") or not hasattr(fuse, "Operations"):
        raise FtlabError(f"the installed 'fuse' module is not fusepy: {INSTALL_HINT}")
    return fuse


def operations(fs: Tracefs, fuse: ModuleType):
    """A fusepy Operations object serving `fs`."""
    lib = fuse._libfuse
    lib.fuse_get_session.restype = ctypes.c_void_p
    lib.fuse_get_session.argtypes = [ctypes.c_void_p]
    lib.fuse_session_exited.argtypes = [ctypes.c_void_p]
    lib.fuse_interrupted.restype = ctypes.c_int

    class TracefsOperations(fuse.Operations):
        use_ns = True
        # read, write and release get no path and take none of libfuse's path locks: a
        # reader blocked in trace_pipe must not hold up rmdir of its instance
        flag_nopath = 1
        flag_nullpath_ok = 1
        ioctl = None  # fusepy's ioctl wrapper cannot take the missing path (isatty asks)

        def __call__(self, op, *args):
            """Every operation answers an errno: a failure that is not one is reported in
            one line on the mount's terminal (never a traceback) and answered EIO."""
            try:
                return super().__call__(op, *args)
            except OSError:
                raise
            except FtlabError as err:
                raise OSError(errno.EINVAL, str(err)) from None
            except Exception as err:  # a bug: keep serving, say what happened
                print(f"ftlab tracefs: {op} failed: {type(err).__name__}: {err}",
                      file=sys.stderr, flush=True)
                raise OSError(errno.EIO, os.strerror(errno.EIO)) from None

        def __init__(self) -> None:
            self.session: int | None = None
            self.dirs: dict[int, str] = {}
            self._next_dir = itertools.count(1 << 40)

        def _path(self, path, fh) -> str:
            if path is not None:
                return path
            if fh in self.dirs:
                return self.dirs[fh]
            h = fs.handles.get(fh)
            if h is None:
                raise OSError(errno.EBADF, os.strerror(errno.EBADF))
            return h.path

        def init(self, path):
            ctx = lib.fuse_get_context()
            self.session = lib.fuse_get_session(ctx.contents.fuse)

        def _interrupted(self) -> bool:
            """The reader got a signal, or the filesystem is being unmounted."""
            if lib.fuse_interrupted():
                return True
            return bool(self.session and lib.fuse_session_exited(self.session))

        def getattr(self, path, fh=None):
            return fs.stat(self._path(path, fh))

        def opendir(self, path):
            fs.listdir(path)
            fh = next(self._next_dir)
            self.dirs[fh] = path
            return fh

        def readdir(self, path, fh):
            return [".", "..", *fs.listdir(self._path(path, fh))]

        def releasedir(self, path, fh):
            self.dirs.pop(fh, None)
            return 0

        def access(self, path, amode):
            fs.lookup(path)
            return 0

        def open(self, path, flags):
            pid = fuse.fuse_get_context()[2]
            return fs.open(path, flags, pid=pid)

        def create(self, path, mode, fi=None):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))  # tracefs has no create

        def read(self, path, size, offset, fh):
            return fs.pread(fh, size, offset, interrupted=self._interrupted)

        def write(self, path, data, offset, fh):
            return fs.pwrite(fh, data, offset)

        def truncate(self, path, length, fh=None):
            fs.truncate(self._path(path, fh), length)

        def flush(self, path, fh):
            return 0

        def release(self, path, fh):
            fs.release(fh)

        def mkdir(self, path, mode):
            fs.mkdir(path)

        def rmdir(self, path):
            fs.rmdir(path)

        def chmod(self, path, mode):
            fs.lookup(path)
            return 0

        def chown(self, path, uid, gid):
            fs.lookup(path)
            return 0

        def utimens(self, path, times=None):
            fs.lookup(path)
            return 0

        def statfs(self, path):
            return {"f_bsize": 4096, "f_frsize": 4096, "f_namemax": 255}

        def _eperm(self, *args):
            raise OSError(errno.EPERM, os.strerror(errno.EPERM))

        unlink = rename = link = symlink = mknod = _eperm

    return TracefsOperations()


def mount(fs: Tracefs, mountpoint: str, fuse: ModuleType | None = None) -> None:
    """Serve `fs` at `mountpoint` in the foreground until unmounted or interrupted (SIGINT,
    SIGTERM and SIGHUP unmount cleanly: libfuse handles them)."""
    fuse = fuse or import_fuse()
    ops = operations(fs, fuse)
    try:
        # the path as bytes, spelled in PATH_ENCODING (fusepy encodes it with that)
        where = os.fsencode(mountpoint).decode(PATH_ENCODING)
        fuse.FUSE(ops, where, foreground=True, nothreads=False, direct_io=True,
                  atomic_o_trunc=True, big_writes=True, intr=True, nonempty=True,
                  entry_timeout=0, attr_timeout=0, negative_timeout=0,
                  fsname="ftlab-tracefs", subtype="ftlab", encoding=PATH_ENCODING)
    except RuntimeError as err:
        raise FtlabError(f"mounting tracefs at {shell_quote(mountpoint)} failed "
                         f"(libfuse error {err}; "
                         "without root it needs fusermount: apt-get install fuse)") from None
    finally:
        if _ours(mountpoint):  # libfuse unmounts when it exits; make sure
            detach(mountpoint)


def shell_quote(path: str) -> str:
    """`path` as a shell word that names the same bytes: shlex quoting for printable UTF-8,
    bash's $'...' with \\xNN escapes otherwise."""
    raw = os.fsencode(path)
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        text = None
    if text is not None and text.isprintable():
        return shlex.quote(text)
    out = []
    for ch in raw.decode("utf-8", "surrogateescape"):
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch in "\\'" or not ch.isprintable():
            out.append("".join(f"\\x{b:02x}" for b in ch.encode()))
        else:
            out.append(ch)
    return "$'" + "".join(out) + "'"


def _stale(path: str) -> bool:
    try:
        os.stat(path)
    except OSError as err:
        return err.errno == errno.ENOTCONN
    return False


def _unescape(field: bytes) -> bytes:
    """A /proc/self/mounts path: space, tab, newline and backslash are written as \\ooo."""
    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), field)


def _ours(path: str) -> bool:
    """A tracefs of ours (live or stale) is mounted at `path` (any bytes in its name)."""
    target = os.fsencode(os.path.realpath(path))
    try:
        mounts = Path("/proc/self/mounts").read_bytes().splitlines()
    except OSError:
        return False
    for line in mounts:
        fields = line.split(b" ")
        if len(fields) > 2 and fields[2] == FSTYPE.encode():
            if os.fsencode(os.path.realpath(os.fsdecode(_unescape(fields[1])))) == target:
                return True
    return False


def detach(path: str) -> bool:
    """umount -l: True when the mount is gone."""
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.umount2(os.fsencode(path), MNT_DETACH) == 0


def prepare_mountpoint(path: str) -> str:
    """Check the mount point; detach a stale FUSE mount (a previous run killed with -9)."""
    p = Path(path)
    if _stale(path):
        if not (_ours(path) and detach(path)):
            raise FtlabError(f"{shell_quote(path)} is a stale FUSE mount: run "
                             f"`umount -l {shell_quote(path)}`")
    if not p.is_dir():
        raise FtlabError(f"mount point {shell_quote(path)} is not a directory")
    if os.path.ismount(path):
        raise FtlabError(f"{shell_quote(path)} is already a mount point")
    return str(p.resolve())
