"""The tracefs mounted through FUSE, exercised by shell tests in the style of the kernel's
ftrace self-tests (tests/tracefs/*.tc: each sets up, asserts with grep/test, cleans up).

`ftlab tracefs` runs in a subprocess on the bundled demo guest (2 harts), mounted once per
architecture; every script runs on every architecture. Skipped without /dev/fuse, libfuse2
or fusepy."""

from __future__ import annotations

import ctypes.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ARCH_NAMES

HERE = Path(__file__).parent / "tracefs"
ROOT = Path(__file__).parent.parent
DEMO = ROOT / "ftlab" / "examples" / "demo.c"
SCRIPTS = sorted(HERE.glob("*.tc"))


def _missing() -> str | None:
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    if ctypes.util.find_library("fuse") is None:
        return "libfuse2 is not installed (apt-get install libfuse2)"
    try:
        import fuse  # noqa: F401  (fusepy)
    except (ImportError, OSError) as err:
        return f"fusepy is not usable ({err}): pip install fusepy"
    if os.geteuid() != 0 and shutil.which("fusermount") is None:
        return "not root and no fusermount"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


def _mounted(path: Path) -> bool:
    return os.path.ismount(path)


def _mount(arch: str, tmp_path_factory):
    mnt = tmp_path_factory.mktemp(f"tracefs-{arch}")
    log = open(mnt.parent / f"tracefs-{arch}.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ftlab", "tracefs", str(mnt), str(DEMO), "--arch", arch,
         "--entry", "sys_sendfile64", "--args", "1,3,4096", "--harts", "2"],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 120
    while not (mnt / "README").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.seek(0)
            output = log.read()
            if "mounting tracefs at" in output:  # libfuse could not mount (no CAP_SYS_ADMIN)
                pytest.skip(f"FUSE mounts are not permitted here: {output}")
            pytest.fail(f"ftlab tracefs did not mount: {output}")
        time.sleep(0.05)
    yield arch, mnt
    # unmounting ends the command cleanly (a reader left open makes umount fail: Ctrl-C)
    if subprocess.run(["umount", str(mnt)], check=False).returncode != 0:
        proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait(timeout=30)
    log.seek(0)
    output = log.read()
    log.close()
    assert not _mounted(mnt), "stale mount left behind"
    assert code == 0, output
    assert "Traceback" not in output, output


@pytest.fixture(scope="module", params=ARCH_NAMES)
def tracefs(request, tmp_path_factory):
    yield from _mount(request.param, tmp_path_factory)


def run_tc(mounted, script: Path, tmp_path: Path) -> None:
    arch, mnt = mounted
    env = dict(os.environ, TMPDIR=str(tmp_path), FUNCS=str(HERE / "functions"),
               TC=str(script), MNT=str(mnt))
    cmd = 'set -e; . "$FUNCS"; cd "$MNT"; initialize_ftrace; set -x; . "$TC"; set +x; ' \
          'initialize_ftrace'
    proc = subprocess.run(["sh", "-c", cmd], env=env, capture_output=True, text=True,
                          errors="backslashreplace",
                          timeout=60)
    assert proc.returncode == 0, (
        f"{script.name} failed on {arch} (exit {proc.returncode}):\n"
        f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_tc(tracefs, script, tmp_path):
    run_tc(tracefs, script, tmp_path)


def test_ctrl_c_leaves_no_mount(tmp_path):
    """SIGINT (Ctrl-C) stops the command and unmounts, even with a trace_pipe reader."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ftlab", "tracefs", str(mnt), str(DEMO), "--arch", "arm64",
         "--entry", "sys_sendfile64", "--args", "1,3,4096"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    deadline = time.monotonic() + 120
    while not (mnt / "README").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            output = proc.communicate()[0]
            if "mounting tracefs at" in output:
                pytest.skip(f"FUSE mounts are not permitted here: {output}")
            pytest.fail(f"ftlab tracefs did not mount: {output}")
        time.sleep(0.05)
    reader = subprocess.Popen(["cat", str(mnt / "trace_pipe")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    reader.wait(timeout=30)
    assert proc.returncode == 0, out
    assert "unmounted" in out
    assert not _mounted(mnt)
