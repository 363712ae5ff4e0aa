"""Issue 12, case 4 (and 12, below): what crosses srcbuild's boundaries (paths from the command line,
recipe files, state records) is checked there, and a bad one is one paragraph, never a
traceback."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import ROOT
from pkgfactory import autotools_lib, recipe


def alpha(tmp_path):
    src = autotools_lib(tmp_path / "pk")
    recipe(tmp_path / "r", "alpha", f"""
        version = "1.2.0"
        [[source]]
        path = "{src}"
        [build]
        system = "autotools"
        """)
    return tmp_path / "r"


def test_relative_cache_dir_is_made_absolute(sb, tmp_path):
    """Case 4: a relative --cache-dir made DESTDIR relative to the build folder; the install
    went beside the build and an empty package was recorded as a success."""
    recipes = alpha(tmp_path)
    here = tmp_path / "here"
    here.mkdir()
    sb.cache = None
    argv = sb.argv("alpha", "--recipes", str(recipes), "--cache-dir", "relcache", "--quiet")
    cp = subprocess.run(argv, cwd=here, capture_output=True, text=True, check=False,
                        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert cp.returncode == 0, cp.stderr
    assert (sb.prefix / "lib" / "libalpha.so").is_file()
    record = json.loads((sb.prefix / ".srcbuild/packages/alpha.json").read_text())
    assert "lib/libalpha.so" in record["files"]
    assert (here / "relcache" / "logs").is_dir()


def test_a_package_that_installs_nothing_is_refused(sb, tmp_path):
    """The stage of a package that installs no file is a recipe bug (its install step wrote
    elsewhere), never an empty package recorded as installed."""
    recipe(tmp_path / "r", "hollow", """
        version = "1"
        [[source]]
        path = "."
        [build]
        system = "custom"
        install = [["true"]]
        """)
    cp = sb("hollow", "--recipes", str(tmp_path / "r"), check=1)
    assert "the install step put no file into the stage" in cp.stderr, cp.stderr
    assert "a package that installs nothing is refused" in cp.stderr
    assert not (sb.prefix / ".srcbuild/packages/hollow.json").exists()


@pytest.mark.parametrize("option", ["--cache-dir", "--prefix"])
def test_a_folder_make_would_expand_is_refused(sb, tmp_path, option):
    """make runs $(shell ...) in DESTDIR=CACHE/work/... and --prefix=PREFIX values."""
    recipes = alpha(tmp_path)
    canary = tmp_path / "canary"
    folder = str(tmp_path / f"x$(shell touch {canary})")
    if option == "--cache-dir":
        sb.cache = None
    else:
        sb.prefix = tmp_path / "unused"
    args = ["alpha", "--recipes", str(recipes), option, folder, "--quiet"]
    cp = sb(*args, check=2) if option == "--cache-dir" else subprocess.run(
        sb.argv(*args)[:-2], capture_output=True, text=True, check=False, cwd=ROOT)
    assert cp.returncode == 2, cp.stderr
    assert f"{option} {folder} contains " in cp.stderr and "'$'" in cp.stderr, cp.stderr
    assert not canary.exists()
