"""An installed ftlab has every file it reads at run time: each non-Python file under ftlab/
matches a package-data pattern in pyproject.toml (a wheel built without one fails far from
the cause, e.g. a guest header not found when the demo compiles)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_data_file_is_package_data() -> None:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = conf["tool"]["setuptools"]["package-data"]["ftlab"]
    pkg = ROOT / "ftlab"
    missing = []
    for path in sorted(pkg.rglob("*")):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(pkg).as_posix()
        # setuptools globs: '*' does not cross '/'
        if not any(fnmatch.fnmatch(rel, p) and rel.count("/") == p.count("/") for p in patterns):
            missing.append(rel)
    assert not missing, f"not in package-data: {missing}"
    assert all(any(pkg.glob(p)) for p in patterns), "a package-data pattern matches nothing"
