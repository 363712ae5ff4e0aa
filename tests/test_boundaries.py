"""Issue 12, cases 4 and 12: what crosses srcbuild's boundaries (paths from the command line,
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


@pytest.mark.parametrize("nested", [
    "requires = " + "[" * 600 + "]" * 600,
    "[options.x]\ndefault = \"1\"\nhelp = " + "{a=" * 450 + "1" + "}" * 450,
])
def test_deep_toml_is_an_error_for_that_file_only(sb, tmp_path, nested):
    """Case 12: TOML nested 500 deep raised RecursionError, and every other recipe of the
    folder failed to plan with it."""
    recipes = tmp_path / "r"
    recipe(recipes, "deep", f'version = "1"\n{nested}\n')
    recipe(recipes, "fine", 'version = "1"\n[[source]]\npath = "."\n[build]\nsystem = "custom"\n')
    cp = sb("plan", "deep", "--recipes", str(recipes), check=2)
    assert f"Recipe {recipes / 'deep.toml'}: " in cp.stderr and "nested" in cp.stderr, cp.stderr
    assert "Traceback" not in cp.stderr
    assert sb("plan", "fine", "--recipes", str(recipes)).returncode == 0


@pytest.mark.parametrize("edit,problem", [
    (lambda r: r | {"files": 5}, "the field 'files' is not a list of strings"),
    (lambda r: r | {"version": ["1"]}, "the field 'version' is a list, not a string"),
    (lambda r: [r], "it holds a JSON list, not an object"),
    (lambda r: r | {"name": "../../x"}, "its name '../../x' is not the file's name 'hollow'"),
    (lambda r: {k: v for k, v in r.items() if k != "build_hash"},
     "the field 'build_hash' is missing"),
])
def test_a_damaged_state_record_names_the_file_and_the_way_out(sb, tmp_path, edit, problem):
    """Case 12: a state record with wrong types raised TypeError (a traceback) in every
    command that read the prefix."""
    recipe(tmp_path / "r", "hollow", """
        version = "1"
        [[source]]
        path = "."
        [build]
        system = "custom"
        install = [["sh", "-c", "mkdir -p {{ stage }}/share && touch {{ stage }}/share/f"]]
        """)
    sb("hollow", "--recipes", str(tmp_path / "r"), "--quiet")
    path = sb.prefix / ".srcbuild/packages/hollow.json"
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    for args in (("plan", "hollow"), ("hollow",), ("uninstall", "hollow")):
        cp = sb(*args, "--recipes", str(tmp_path / "r"), check=1) if args[0] != "uninstall" \
            else sb(*args, check=1)
        assert f"The state record {path} of prefix {sb.prefix} is damaged: {problem}." \
            in cp.stderr, cp.stderr
        assert f"mv {path} {path}.damaged" in cp.stderr
        assert "Traceback" not in cp.stderr
