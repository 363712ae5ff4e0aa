"""An interpreter older than srcbuild supports gets one line naming the version, no traceback."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import tomllib
from functools import cache
from pathlib import Path

import pytest

from srcbuild.__main__ import MIN_PYTHON, python_too_old

ROOT = Path(__file__).resolve().parent.parent
# what an old interpreter reads before the version check: they must parse as Python 3.6
ENTRY_FILES = ("srcbuild/__init__.py", "srcbuild/__main__.py", "bin/srcbuild")


@cache
def older_pythons() -> tuple[str, ...]:
    """Interpreters older than MIN_PYTHON on this machine (pyenv's, python3.X on PATH), oldest
    first, at most one per minor version."""
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates = sorted(str(p) for p in pyenv.glob("3.*/bin/python3"))
    candidates += [w for m in range(6, MIN_PYTHON[1]) if (w := shutil.which(f"python3.{m}"))]
    found: dict[tuple[int, int], str] = {}
    for exe in candidates:
        cp = subprocess.run([exe, "-c", "import sys; print('%d %d' % sys.version_info[:2])"],
                            check=False, capture_output=True, text=True)
        if cp.returncode == 0:
            major, minor = (int(n) for n in cp.stdout.split())
            if (major, minor) < MIN_PYTHON:
                found.setdefault((major, minor), exe)
    return tuple(found[v] for v in sorted(found))


def test_the_complaint_names_the_version_needed_and_the_one_found():
    msg = python_too_old((3, 10, 13), "/usr/bin/python3")
    assert msg is not None and "\n" not in msg
    assert msg.startswith("srcbuild: error: srcbuild needs Python 3.11 or newer;")
    assert "/usr/bin/python3 is Python 3.10.13" in msg
    assert python_too_old((3, 6, 15), None) is not None
    for ok in ((3, 11, 2), (3, 12, 0), (3, 13, 0), (4, 0, 0)):
        assert python_too_old(ok, "python3") is None


def test_the_bound_is_the_one_pip_enforces():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=" + ".".join(map(str, MIN_PYTHON))


@pytest.mark.parametrize("name", ENTRY_FILES)
def test_what_runs_before_the_check_parses_as_python_3_6(name):
    ast.parse((ROOT / name).read_text(), filename=name, feature_version=(3, 6))


@pytest.mark.parametrize("how", ["-m srcbuild", "bin/srcbuild"])
def test_an_older_interpreter_says_which_version_it_needs_in_one_line(how):
    olds = older_pythons()
    if not olds:
        pytest.skip("no Python older than 3.11 here (pyenv versions or python3.X on PATH)")
    for exe in olds:
        cp = subprocess.run([exe, *how.split(), "list"], check=False, cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert cp.returncode == 2, (exe, cp.stderr)
        assert cp.stdout == "" and cp.stderr.count("\n") == 1, (exe, cp.stderr)
        assert cp.stderr.startswith("srcbuild: error: srcbuild needs Python 3.11 or newer;")
