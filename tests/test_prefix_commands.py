"""What Spack, Homebrew and apt users reach for, on a real prefix: activate/env in each shell,
list --installed, info --prefix, test, search, uninstall of several names, clean."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Srcbuild
from pkgfactory import chain, recipe

SHELLS = ("dash", "bash", "zsh")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Srcbuild, Path]:
    """alpha and delta (delta was built against alpha), a package whose check passes one
    thing and skips another, and a group whose check only skips: installed once."""
    root = tmp_path_factory.mktemp("prefixcmds")
    recipes = chain(root)
    recipe(recipes, "checked", """
        version = "2"
        summary = "prints its verdicts"
        provides = ["program:checked-tool"]
        check = [["sh", "-c", "echo 'PASS: the stage has share/q'; test -f {{ stage }}/share/q"],
                 ["sh", "-c", "echo 'SKIP: no frobnicator on this machine'"]]
        [[source]]
        path = "."
        [build]
        system = "custom"
        install = [["sh", "-c", "mkdir -p {{ stage }}/share && echo q > {{ stage }}/share/q"]]
        """)
    recipe(recipes, "skipper", """
        kind = "group"
        requires = ["recipe:alpha"]
        check = [["sh", "-c", "echo 'SKIP: needs /dev/frob'"]]
        """)
    sb = Srcbuild(root / "prefix", root / "cache")
    sb("delta", "checked", "skipper", "--recipes", str(recipes))
    return sb, recipes


# -- env and activate ------------------------------------------------------------------------
def shells() -> list[str]:
    return [s for s in SHELLS if shutil.which(s)]


def run_in(shell: str, script: str, env: dict[str, str]) -> str:
    cp = subprocess.run([shell, "-c", script], capture_output=True, text=True, env=env,
                        check=False)
    assert cp.returncode == 0, (shell, cp.stderr)
    return cp.stdout


@pytest.mark.parametrize("shell", SHELLS)
def test_activate_twice_then_deactivate_restores_everything(sb, tmp_path, shell):
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    sb.prefix.mkdir()
    script = tmp_path / "activate"
    script.write_text(sb("env").stdout)
    p = sb.prefix.resolve()
    base = {"PATH": "/usr/bin:/bin", "PKG_CONFIG_PATH": "/opt/pc", "HOME": str(tmp_path)}
    out = run_in(shell, f"""
        . {script}; . {script}
        echo "$PATH"; echo "$MANPATH"; echo "$PKG_CONFIG_PATH"; echo "$SRCBUILD_ACTIVE_PREFIX"
        deactivate
        echo "$PATH"; echo "${{MANPATH-unset}}"; echo "$PKG_CONFIG_PATH"
        echo "${{SRCBUILD_ACTIVE_PREFIX-unset}}"
        command -v deactivate || echo "no deactivate"
        """, base).splitlines()
    assert out[0] == f"{p}/bin:/usr/bin:/bin"  # once, though sourced twice
    assert out[1] == f"{p}/share/man:"  # the trailing colon keeps the system's manuals
    assert out[2] == f"{p}/lib/pkgconfig:{p}/lib64/pkgconfig:{p}/share/pkgconfig:/opt/pc"
    assert out[3] == str(p)
    assert out[4:] == ["/usr/bin:/bin", "unset", "/opt/pc", "unset", "no deactivate"]


@pytest.mark.parametrize("shell", SHELLS)
def test_another_prefix_replaces_the_first_and_manuals_stay_found(sb, tmp_path, shell):
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    a, b = tmp_path / "a", tmp_path / "b"
    for prefix in (a, b):
        prefix.mkdir()
        (prefix / "activate").write_text(sb("env", prefix=prefix).stdout)
    env = {"PATH": "/usr/bin:/bin", "MANPATH": "/opt/man", "HOME": str(tmp_path)}
    out = run_in(shell, f'. {a}/activate; . {b}/activate; echo "$PATH"; echo "$MANPATH"',
                 env).splitlines()
    assert out == [f"{b}/bin:/usr/bin:/bin", f"{b}/share/man:/opt/man"]
    if shutil.which("manpath"):  # man-db: the system's manuals are still searched
        got = run_in(shell, f". {a}/activate; manpath 2>/dev/null",
                     {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
        assert "/usr/share/man" in got and f"{a}/share/man" in got, got


def test_a_python_venvs_deactivate_is_left_alone(sb, tmp_path):
    sb.prefix.mkdir()
    script = tmp_path / "activate"
    script.write_text(sb("env").stdout)
    out = run_in("sh", f"""
        deactivate() {{ echo venv-deactivate; }}
        . {script}; deactivate; srcbuild_deactivate; echo "$PATH"
        """, {"PATH": "/usr/bin:/bin"}).splitlines()
    assert out == ["venv-deactivate", "/usr/bin:/bin"]


def test_fish_activate_twice_then_deactivate(sb, tmp_path):
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed (apt-get install fish)")
    sb.prefix.mkdir()
    script = tmp_path / "activate.fish"
    script.write_text(sb("env", "--shell", "fish").stdout)
    p = sb.prefix.resolve()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    cp = subprocess.run(["fish", "--no-config", "-c", f"""
        source {script}; source {script}
        echo $PATH; printf '%s\\n' "$MANPATH"; env | grep '^MANPATH='
        deactivate
        echo $PATH; set -q MANPATH; or echo MANPATH-unset; functions -q deactivate; or echo gone
        """], capture_output=True, text=True, env=env, check=False)
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout.splitlines()
    assert out[0] == f"{p}/bin /usr/bin /bin"
    assert out[2] == f"MANPATH={p}/share/man:"
    assert out[3:] == ["/usr/bin /bin", "MANPATH-unset", "gone"]


def test_env_warns_about_a_prefix_that_does_not_exist(sb):
    cp = sb("env")
    assert f"warning: the prefix {sb.prefix.resolve()} does not exist" in cp.stderr
    assert "export PATH=" in cp.stdout


def test_install_writes_the_same_activate_as_env(built):
    sb, _ = built
    assert (sb.prefix / "activate").read_text() == sb("env").stdout
    assert (sb.prefix / "activate.fish").read_text() == sb("env", "--shell", "fish").stdout


# -- what is installed -----------------------------------------------------------------------
def test_list_installed_shows_each_package_of_the_prefix(built):
    sb, _ = built
    out = sb("list", "--installed").stdout
    lines = out.splitlines()
    assert lines[0] == f"Installed in {sb.prefix.resolve()}:"
    names = [line.split()[0] for line in lines[1:]]
    assert names == ["alpha", "checked", "delta", "skipper"]
    alpha = next(line for line in lines if line.split()[0] == "alpha")
    assert "1.2.0" in alpha and "3 files" in alpha and time.strftime("%Y-") in alpha
    data = json.loads(sb("list", "--installed", "--json").stdout)
    assert {d["name"]: d["files"] for d in data}["delta"] == 1
    assert sb("list", "--installed", "--names").stdout.split() == names


def test_info_with_prefix_shows_the_installed_package(built):
    sb, recipes = built
    out = sb("info", "alpha", "--prefix", str(sb.prefix), "--recipes", str(recipes),
             "--files").stdout
    state = json.loads((sb.prefix / ".srcbuild" / "packages" / "alpha.json").read_text())
    assert f"installed in {sb.prefix.resolve()}:" in out
    assert f"build hash:    {state['build_hash']}" in out
    assert "files:         3 (" in out
    assert f"    {sb.prefix.resolve()}/lib/libalpha.so" in out
    missing = sb("info", "gamma", "--prefix", str(sb.prefix), "--recipes", str(recipes),
                 check=1)
    assert f"not in {sb.prefix.resolve()}" in missing.stdout


def test_search_finds_by_name_summary_and_provides(built):
    sb, recipes = built
    by_provides = sb("search", "libalpha", "--recipes", str(recipes)).stdout
    assert by_provides.splitlines()[0].startswith("alpha ")
    assert "matched: provides library:libalpha.so" in by_provides
    by_summary = sb("search", "VERDICTS", "--recipes", str(recipes)).stdout
    assert "checked" in by_summary and "matched: summary" in by_summary
    assert "matched: provides pkgconfig:glib-2.0" in sb("search", "glib-2.0").stdout
    nothing = sb("search", "no-such-thing-at-all", check=1)
    assert "No recipe's name, summary or provides contains" in nothing.stderr


# -- test ------------------------------------------------------------------------------------
def test_test_reruns_the_check_against_the_prefix(built):
    sb, recipes = built
    cp = sb("test", "checked", "--recipes", str(recipes))
    assert "  checked: PASS: the stage has share/q" in cp.stdout
    assert "  checked: SKIP: no frobnicator on this machine" in cp.stdout
    assert cp.stdout.splitlines()[-1] == (f"checked: passed: 1 of 2 check commands ran against "
                                          f"{sb.prefix.resolve()}, 1 skipped")


def test_test_of_a_group_that_only_skips_checked_nothing(built):
    sb, recipes = built
    cp = sb("test", "skipper", "alpha", "--recipes", str(recipes), check=1)
    lines = cp.stdout.splitlines()
    assert "  skipper: SKIP: needs /dev/frob" in lines
    assert "skipper: checked nothing: every check command skipped (the SKIP lines say why)" \
        in lines
    assert lines[-1] == "test: 1 of 2 passed; not passed: skipper"


def test_test_fails_when_the_installed_files_no_longer_pass(built, tmp_path):
    sb, recipes = built
    q = sb.prefix / "share" / "q"
    kept = q.read_bytes()
    q.unlink()
    try:
        cp = sb("test", "checked", "--recipes", str(recipes), check=1)
    finally:
        q.write_bytes(kept)
    assert "checked: FAILED: check command 1 of 2" in cp.stdout
    assert "--- checked: last lines of its check ---" in cp.stdout


def test_test_of_a_name_not_installed_suggests(built):
    sb, recipes = built
    cp = sb("test", "alpah", "--recipes", str(recipes), check=2)
    assert "alpah is not installed in" in cp.stderr and "Did you mean alpha?" in cp.stderr
    cp = sb("test", "gamma", "--recipes", str(recipes), check=2)
    assert "Install it first: srcbuild gamma" in cp.stderr


# -- uninstall several -----------------------------------------------------------------------
def test_uninstall_several_goes_dependents_first(sb, tmp_path):
    recipes = chain(tmp_path)
    sb("delta", "--recipes", str(recipes))
    cp = sb("uninstall", "alpha", "nosuch", check=1)
    assert "Not installed in" in cp.stderr and "nothing was removed" in cp.stderr
    assert (sb.prefix / "lib" / "libalpha.so").exists()
    cp = sb("uninstall", "alpha", "delta")  # given in the wrong order on purpose
    assert cp.stdout.splitlines() == [
        f"Removed delta: 1 file(s) from {sb.prefix.resolve()}.",
        f"Removed alpha: 3 file(s) from {sb.prefix.resolve()}."]
    assert not (sb.prefix / "lib" / "libalpha.so").exists()


# -- clean -----------------------------------------------------------------------------------
def hold_lock(path: Path) -> subprocess.Popen[str]:
    """A process holding the flock of ``path``, as a live run holds its work folder's."""
    code = (f"import fcntl, time\nf = open({str(path)!r}, 'a')\n"
            "fcntl.flock(f, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    return holder


def test_clean_removes_stale_work_and_unused_trees_only(sb, tmp_path):
    cache = sb.cache
    work = cache / "work"
    killed, kept, live = (work / f"{n}-0123456789ab" for n in ("killed", "kept", "live"))
    for folder in (killed, kept, live):
        (folder / "build").mkdir(parents=True)
        (folder / "build" / "big").write_bytes(b"x" * 100_000)
    (killed / ".srcbuild-running").touch()  # its run died while building
    (live / ".srcbuild-running").touch()
    holder = hold_lock(live / ".srcbuild-lock")  # a run building now
    zlib_sha = "71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1"
    used, unused = cache / "src" / zlib_sha[:20], cache / "src" / ("f" * 20)
    for tree in (used, unused):
        tree.mkdir(parents=True)
        (tree / "file.c").write_text("int x;\n")
    (cache / "sources" / zlib_sha).mkdir(parents=True)
    (cache / "sources" / zlib_sha / "zlib.tar").write_bytes(b"archive")
    try:
        dry = sb("clean", "--dry-run").stdout
        assert f"Would remove work/{killed.name} (" in dry and "left by a killed run" in dry
        assert f"Would remove work/{kept.name} (" in dry and "kept by a finished run" in dry
        assert f"src/{'f' * 20}" in dry
        assert live.name not in dry and zlib_sha[:20] not in dry
        assert killed.exists() and kept.exists() and unused.exists()
        assert "sources" in dry and "(verified archives, kept)" in dry
        out = sb("clean").stdout
        assert "Removed 3 item(s)" in out
        assert not killed.exists() and not kept.exists() and not unused.exists()
        assert live.exists() and used.exists() and (cache / "sources" / zlib_sha).exists()
    finally:
        holder.kill()
        holder.wait()
    # its run is gone now: the folder it held is a killed run's
    assert "left by a killed run" in sb("clean").stdout
    assert not live.exists()
    assert sb("clean").stdout.startswith("Nothing to remove")


def test_a_finished_build_leaves_no_work_folder_to_clean(built):
    sb, _ = built
    out = sb("clean", "--dry-run").stdout
    assert out.startswith("Nothing to remove"), out
