"""Issue 12, cases 13 and 15, through the command line with real packages: a build that
writes into the live prefix, uninstall of a damaged record, an interrupted uninstall, and
every command that opens a prefix finishing what a killed merge left."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from pkgfactory import autotools_lib, recipe
from test_merge import KILLER, entries, make_stage, start

from srcbuild.state import PrefixState

UNINSTALL_KILLER = """
import os, signal, sys
from pathlib import Path
from srcbuild.install import uninstall
from srcbuild.state import PrefixState
prefix, name, step, index = sys.argv[1:]
def kill_at(s, i):
    if s == step and i == int(index):
        os.kill(os.getpid(), signal.SIGKILL)
print("ready", flush=True)
uninstall(Path(prefix), name, PrefixState(Path(prefix)), on_step=kill_at)
"""


def files_recipe(recipes: Path, name: str, files: dict[str, str], extra: str = "") -> None:
    """A custom recipe whose install step writes ``files`` (path -> one line) into the stage,
    then runs ``extra`` (a shell command)."""
    lines = [f"mkdir -p {{{{ stage }}}}/{os.path.dirname(rel)} && echo {text} > "
             f"{{{{ stage }}}}/{rel}" for rel, text in files.items()]
    script = " && ".join(lines + ([extra] if extra else []))
    recipe(recipes, name, f"""
        version = "1"
        [[source]]
        path = "."
        [build]
        system = "custom"
        install = [["sh", "-c", {json.dumps(script)}]]
        """)


def test_an_install_step_writing_into_the_prefix_is_a_recipe_bug(sb, tmp_path):
    r = tmp_path / "r"
    files_recipe(r, "owner", {"share/owner.txt": "mine", "share/gone.txt": "mine"})
    files_recipe(r, "vandal", {"share/vandal.txt": "v"},
                 "echo clobbered > {{ prefix }}/share/owner.txt && echo stray > "
                 "{{ prefix }}/share/stray.txt && rm {{ prefix }}/share/gone.txt")
    sb("owner", "--recipes", str(r))
    cp = sb("vandal", "--recipes", str(r), check=1)
    print(cp.stderr)
    assert "vandal 1: its steps wrote into the prefix" in cp.stderr
    assert "(a recipe bug): created share/stray.txt; modified share/owner.txt (installed by " \
           "owner); deleted share/gone.txt (installed by owner). vandal was not merged; " \
           "those changes are still in the prefix." in cp.stderr
    assert "left as it was" not in cp.stderr
    assert PrefixState(sb.prefix).get("vandal") is None
    assert "share/vandal.txt" not in entries(sb.prefix)
    # the package whose file was deleted is reinstalled by the next install
    plan = sb.plan("owner", "--recipes", str(r))
    assert plan["steps"][0]["reason"] == ("reinstall: 1 recorded file(s) are missing from "
                                          "the prefix (share/gone.txt)")


def test_a_failed_step_that_wrote_into_the_prefix_says_so(sb, tmp_path):
    r = tmp_path / "r"
    files_recipe(r, "clumsy", {}, "echo x > {{ prefix }}/clumsy.txt && false")
    sb.prefix.mkdir()
    cp = sb("clumsy", "--recipes", str(r), check=1)
    print(cp.stderr)
    assert "failed with exit status 1. Nothing of clumsy was merged, but its steps changed " \
           f"the prefix {sb.prefix} themselves (a recipe bug: they must write only into the " \
           "stage): created clumsy.txt. Those changes are still there." in cp.stderr
    assert "left as it was" not in cp.stderr


def test_uninstall_refuses_a_record_with_paths_out_of_the_prefix(sb, tmp_path):
    r = tmp_path / "r"
    files_recipe(r, "owner", {"share/owner.txt": "mine"})
    sb("owner", "--recipes", str(r))
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("up.txt", "abs.txt", "via.txt"):
        (outside / name).write_text("not srcbuild's\n")
    os.symlink(outside, sb.prefix / "link")
    record = sb.prefix / ".srcbuild" / "packages" / "owner.json"
    data = json.loads(record.read_text())
    data["files"] += ["../outside/up.txt", str(outside / "abs.txt"), "link/via.txt"]
    record.write_text(json.dumps(data))
    cp = sb("uninstall", "owner", check=1)
    print(cp.stderr)
    assert f"lists 3 path(s) srcbuild will not touch: '../outside/up.txt' (climbs out with " \
           f"..), '{outside}/abs.txt' (an absolute path), 'link/via.txt' (through the symlink " \
           f"link -> {outside}, out of the prefix). Nothing was changed." in cp.stderr
    assert sorted(os.listdir(outside)) == ["abs.txt", "up.txt", "via.txt"]
    assert (sb.prefix / "share" / "owner.txt").exists()


@pytest.fixture
def alpha(sb, tmp_path: Path) -> Path:
    """A real autotools library, installed into the prefix; its recipe folder."""
    r = tmp_path / "r"
    src = autotools_lib(tmp_path / "pk")
    recipe(r, "alpha", f"""
        version = "1.2.0"
        provides = ["pkgconfig:alpha"]
        [[source]]
        path = "{src}"
        [build]
        system = "autotools"
        """)
    sb("alpha", "--recipes", str(r))
    return r


def test_an_interrupted_uninstall_is_finished_then_install_builds_again(sb, alpha):
    files = PrefixState(sb.prefix).get("alpha").files  # type: ignore[union-attr]
    proc = start(UNINSTALL_KILLER, str(sb.prefix), "alpha", "gone", "1")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err
    cp = sb("alpha", "--recipes", str(alpha))
    print(cp.stderr)
    assert "Finished the uninstall of alpha that was interrupted: its files are " \
           "removed." in cp.stderr
    assert "Nothing to do" not in cp.stderr
    assert all((sb.prefix / f).exists() for f in files)


def test_install_reinstalls_a_package_whose_files_are_missing(sb, alpha):
    """What an uninstall killed on an older srcbuild left: the record, some files gone."""
    (sb.prefix / "lib" / "libalpha.so").unlink()
    cp = sb("alpha", "--recipes", str(alpha))
    print(cp.stderr)
    assert "Nothing to do" not in cp.stderr
    assert (sb.prefix / "lib" / "libalpha.so").exists()


@pytest.mark.parametrize("command", ["plan", "doctor", "uninstall", "install"])
def test_every_command_on_the_prefix_finishes_a_killed_merge(sb, tmp_path, command):
    r = tmp_path / "r"
    files_recipe(r, "owner", {"share/owner.txt": "mine", "share/b.txt": "mine"})
    sb("owner", "--recipes", str(r))
    before = entries(sb.prefix)
    stage = make_stage(tmp_path / "stage", sb.prefix, {"share/owner.txt": "2\n",
                                                       "share/b.txt": "2\n", "share/c.txt": "2\n"})
    proc = start(KILLER, str(sb.prefix), str(stage), "2", "placed", "1", "owner")
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    args = ["uninstall", "owner"] if command == "uninstall" else [command, "owner", "--recipes",
                                                                    str(r)]
    cp = sb(*args, check=None)
    print(cp.stderr)
    assert "Rolled back the merge of owner 2 that was interrupted: owner 1 is " \
           "installed as before." in cp.stderr
    assert not (sb.prefix / ".srcbuild" / "txn").exists()
    if command == "uninstall":
        assert entries(sb.prefix) == {"activate": before["activate"],
                                      "activate.fish": before["activate.fish"]} or \
            entries(sb.prefix) == {}
    else:
        assert entries(sb.prefix) == before
