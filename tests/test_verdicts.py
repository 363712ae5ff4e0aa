"""Honest verdicts (issue 20): a command that checked nothing says so, in one line a person
reads and an exit status a script reads; a run that built nothing says why, per target."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import tarball
from pkgfactory import chain, recipe


def system_zlib() -> tuple[str, str]:
    """(version, .pc path) of the system's zlib, or skip."""
    if shutil.which("pkg-config") is None:
        pytest.skip("no pkg-config")
    cp = subprocess.run(["pkg-config", "--modversion", "--path", "zlib"], capture_output=True,
                        text=True, check=False)
    if cp.returncode != 0:
        pytest.skip("the system has no zlib.pc (apt-get install zlib1g-dev)")
    version = subprocess.run(["pkg-config", "--modversion", "zlib"], capture_output=True,
                             text=True, check=True).stdout.strip()
    path = subprocess.run(["pkg-config", "--path", "zlib"], capture_output=True, text=True,
                          check=True).stdout.strip()
    return version, path


@pytest.fixture
def zlibish(tmp_path: Path) -> Path:
    """A recipe that provides what the system has (pkgconfig:zlib), built from a local tree,
    and a group that needs only that."""
    src = tmp_path / "zsrc"
    src.mkdir()
    (src / "Makefile").write_text("all:\ninstall:\n\tmkdir -p $(DESTDIR)$(PREFIX)/share\n"
                                  "\techo z > $(DESTDIR)$(PREFIX)/share/zlibish.txt\n")
    r = tmp_path / "r"
    recipe(r, "zlibish", f"""
        version = "1.2.13"
        provides = ["pkgconfig:zlib"]
        [[source]]
        path = "{src}"
        [build]
        system = "make"
        """)
    recipe(r, "needs-zlib", """
        kind = "group"
        requires = ["pkgconfig:zlib"]
        """)
    return r


def test_nothing_to_do_says_the_system_has_it(sb, zlibish):
    version, pc = system_zlib()
    cp = sb("zlibish", "--recipes", str(zlibish))
    assert cp.stderr.splitlines()[-2:] == [
        "Nothing to do:",
        (f"  zlibish: the system has it ({version}, {pc}); --from-source zlibish builds it "
        "into the prefix")], cp.stderr
    assert not (sb.prefix / "share").exists()


def test_nothing_to_do_says_it_is_installed_here_and_since_when(sb, tmp_path):
    recipes = chain(tmp_path)
    sb("alpha", "--recipes", str(recipes))
    cp = sb("alpha", "--recipes", str(recipes))
    lines = cp.stderr.splitlines()
    assert lines[-2] == "Nothing to do:"
    assert lines[-1].startswith(f"  alpha: installed in {sb.prefix.resolve()} (1.2.0, built ")
    as_json = sb("alpha", "--recipes", str(recipes), "--json")
    assert all(json.loads(line)["event"] for line in as_json.stdout.splitlines())
    assert "Nothing to do" not in as_json.stderr


def test_verify_repro_builds_a_target_the_system_has(sb, zlibish):
    system_zlib()
    cp = sb("verify-repro", "zlibish", "--recipes", str(zlibish))
    assert cp.stdout.splitlines() == [
        "zlibish 1.2.13: identical (1 staged file(s))",
        "verify-repro: reproducible: 1 package(s) built twice from source, identical"]
    assert "Nothing to do" not in cp.stderr


def test_verify_repro_that_compared_nothing_fails_and_says_why(sb, zlibish):
    version, pc = system_zlib()
    cp = sb("verify-repro", "needs-zlib", "--recipes", str(zlibish), check=1)
    assert cp.stdout.splitlines() == [
        (f"needs-zlib: a group whose requirements the system satisfies: pkgconfig:zlib "
        f"({version}, {pc}); --from-source all builds every recipe of the graph"),
        "verify-repro: nothing was compared"]
    as_json = sb("verify-repro", "needs-zlib", "--recipes", str(zlibish), "--json", check=1)
    assert json.loads(as_json.stdout) == []
    assert "verify-repro: nothing was compared" in as_json.stderr


def test_doctor_ends_with_a_verdict(sb, tmp_path):
    recipes = chain(tmp_path)
    cp = sb("doctor", "alpha", "--recipes", str(recipes))
    assert cp.stdout.splitlines()[-1] == (
        f"doctor: ok: 1 of 1 requirement(s) satisfiable; {sb.prefix.resolve()} does not "
        "exist, so no installed binary was checked")
    sb("alpha", "--recipes", str(recipes))
    cp = sb("doctor", "alpha", "--recipes", str(recipes))
    assert cp.stdout.splitlines()[-1] == (
        "doctor: ok: 1 of 1 requirement(s) satisfiable; the binaries in "
        f"{sb.prefix.resolve()} find their libraries")


def test_mirror_ends_with_a_verdict(sb, tmp_path):
    pkg = tmp_path / "m-1"
    pkg.mkdir()
    (pkg / "Makefile").write_text("all:\ninstall:\n")
    sha = tarball(tmp_path / "m-1.tar.gz", tree=pkg)
    seed = tmp_path / "seed" / sha
    seed.mkdir(parents=True)
    shutil.copy(tmp_path / "m-1.tar.gz", seed / "m-1.tar.gz")
    r = tmp_path / "r"
    recipe(r, "m", f"""
        version = "1"
        [[source]]
        url = "http://127.0.0.1:9/m-1.tar.gz"
        sha256 = "{sha}"
        [[source]]
        url = "http://127.0.0.1:9/m-1-other.tar.gz"
        sha256 = "{'0' * 64}"
        [build]
        system = "make"
        """)
    out = tmp_path / "mirror"
    cp = sb("mirror", "m", str(out), "--recipes", str(r), "--mirror", str(tmp_path / "seed"))
    assert cp.stdout.splitlines()[-1] == f"mirror: ok: 1 source verified in {out}"
    cp = sb("mirror", "m", str(out), "--recipes", str(r), "--every-alternative", check=1)
    assert cp.stdout.splitlines()[-1] == (
        f"mirror: incomplete: 1 source verified in {out}, 1 alternative(s) could not be "
        "fetched (above)")
    local = chain(tmp_path / "c")
    cp = sb("mirror", "alpha", str(out), "--recipes", str(local), check=1)
    assert cp.stdout.splitlines()[-1].startswith("mirror: nothing mirrored: every source")
