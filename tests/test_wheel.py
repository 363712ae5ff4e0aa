"""srcbuild as a user installs it: sdist -> wheel -> a fresh venv, run far from the checkout.

The sdist is built from a copy of the checkout's files (tracked and untracked-but-not-ignored,
so a new recipe counts before it is committed), the wheel from the unpacked sdist (the
`python -m build` round trip), both with this interpreter's setuptools and no network. The copy
gets one file of recipes/files marked executable, a probe that the mode survives both archives
and pip. The venv is made by this interpreter, so .ci/run's two passes cover both Pythons.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXEC_PROBE = "recipes/files/initramfs-arm64/init"


@dataclass(frozen=True)
class Installed:
    source: Path  # the tree the sdist was built from
    venv: Path
    package: Path  # site-packages/srcbuild of the venv
    wheel: Path
    home: Path  # HOME of every command run from the venv
    work: Path  # their working folder: neither the checkout nor the venv

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A command of the venv, with the checkout out of reach."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("SRCBUILD_RECIPES", "SRCBUILD_CACHE", "SRCBUILD_PREFIX",
                            "PYTHONPATH", "VIRTUAL_ENV", "XDG_CACHE_HOME")}
        env["HOME"] = str(self.home)
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '')}"
        cp = subprocess.run([str(self.venv / "bin" / argv[0]), *argv[1:]], check=False,
                            cwd=self.work, env=env, capture_output=True, text=True, timeout=900)
        if check and cp.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {cp.returncode}\nstdout:\n"
                                 f"{cp.stdout}\nstderr:\n{cp.stderr}")
        return cp


def project_files() -> list[str]:
    """The checkout's files as git sees them (tracked, or untracked but not ignored)."""
    cp = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], check=False,
                        cwd=ROOT, capture_output=True, text=True)
    if cp.returncode != 0:
        pytest.skip(f"not a git checkout, cannot tell its files: {cp.stderr.strip()}")
    return [f for f in cp.stdout.split("\0") if f and (ROOT / f).is_file()]


def run(argv: list[str], cwd: Path) -> str:
    cp = subprocess.run(argv, check=False, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert cp.returncode == 0, f"{argv} exited {cp.returncode}:\n{cp.stdout}\n{cp.stderr}"
    return cp.stdout


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    for f in project_files():
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, src / f)
    probe = src / EXEC_PROBE
    probe.chmod(probe.stat().st_mode | 0o111)

    dist = base / "dist"
    build_sdist = ("import sys; from setuptools import build_meta as b; "
                   "print(b.build_sdist(sys.argv[1]))")
    sdist = run([sys.executable, "-c", build_sdist, str(dist)], src).strip().splitlines()[-1]
    unpacked = base / "sdist"
    with tarfile.open(dist / sdist) as tf:
        # our own archive; the filter argument exists only from 3.11.4
        tf.extractall(unpacked, **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-q", "-w", str(dist),
         str(unpacked / sdist.removesuffix(".tar.gz"))], base)
    wheel = next(dist.glob("srcbuild-*.whl"))

    venv = base / "venv"
    run([sys.executable, "-m", "venv", str(venv)], base)
    cp = subprocess.run([str(venv / "bin" / "pip"), "install", "--disable-pip-version-check",
                         "-q", str(wheel)], check=False, cwd=base, capture_output=True, text=True,
                        timeout=600)
    if cp.returncode != 0:
        index = subprocess.run([str(venv / "bin" / "pip"), "download", "--no-deps", "-q",
                                "-d", str(base / "probe"), "jinja2"], check=False,
                               capture_output=True)
        if index.returncode != 0:
            pytest.skip("the package index is out of reach: pip cannot fetch jinja2 and rich")
    assert cp.returncode == 0, cp.stderr
    package = Path(run([str(venv / "bin" / "python"), "-c",
                        "import srcbuild, os; print(os.path.dirname(srcbuild.__file__))"],
                       base).strip())
    (base / "home").mkdir()
    (base / "work").mkdir()
    return Installed(src, venv, package, wheel, base / "home", base / "work")


def test_the_wheel_holds_every_file_of_the_package_and_the_recipes_with_their_modes(installed):
    wanted = {}
    for p in sorted((installed.source / "srcbuild").rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            wanted[p.relative_to(installed.source).as_posix()] = p
    for p in sorted((installed.source / "recipes").rglob("*")):
        if p.is_file():
            wanted["srcbuild/" + p.relative_to(installed.source).as_posix()] = p
    assert any(k.startswith("srcbuild/recipes/files/") for k in wanted)
    assert any(k.startswith("srcbuild/recipes/patches/") for k in wanted)
    site = installed.package.parent
    missing = [k for k in wanted if not (site / k).is_file()]
    assert not missing, f"not in the installed wheel: {missing}"
    for k, p in wanted.items():
        assert (site / k).read_bytes() == p.read_bytes(), k
        assert stat.S_IMODE((site / k).stat().st_mode) & 0o111 == \
            stat.S_IMODE(p.stat().st_mode) & 0o111, f"{k}: executable bits differ"
    assert os.access(site / "srcbuild" / EXEC_PROBE, os.X_OK)
    # nothing of the checkout's top level besides the package itself
    assert not (site / "recipes").exists() and not (site / "tests").exists()


def test_installed_srcbuild_lists_and_plans_from_its_own_recipes(installed):
    out = installed.run("srcbuild", "list").stdout
    shipped = installed.package / "recipes"
    assert f"{shipped} (built-in):" in out
    assert any(line.split()[:1] == ["qemu"] for line in out.splitlines()), out
    rows = json.loads(installed.run("srcbuild", "list", "--json").stdout)
    qemu = next(r for r in rows if r["name"] == "qemu")
    assert qemu["recipe_dir"] == str(shipped) and qemu["path"] == str(shipped / "qemu.toml")
    assert str(ROOT) not in installed.run("python", "-c", "import sys; print(sys.path)").stdout

    prefix = installed.work / "prefix"
    cp = installed.run("srcbuild", "plan", "lab-x86", "--prefix", str(prefix), check=False)
    assert cp.returncode in (0, 3), cp.stderr  # 3: something this machine cannot satisfy
    plan = json.loads(installed.run("srcbuild", "plan", "lab-x86", "--prefix", str(prefix),
                                    "--json", check=False).stdout)
    steps = {s["recipe"]: s for s in plan["steps"]}
    assert {"qemu", "kvm-sample-x86", "lab-x86"} <= set(steps)
    # the cache of an installed srcbuild is the user's, never beside the package
    cache = installed.run("python", "-c", "from srcbuild.api import default_cache_dir; "
                          "print(default_cache_dir())").stdout.strip()
    assert cache == str(installed.home / ".cache" / "srcbuild")


def test_pip_refuses_the_wheel_on_an_older_python(installed, tmp_path):
    from test_python_version import older_pythons

    olds = older_pythons()
    if not olds:
        pytest.skip("no Python older than 3.11 here (pyenv versions, python3.X on PATH)")
    cp = subprocess.run([olds[-1], "-m", "pip", "install", "--no-deps", "--no-index",
                         "--disable-pip-version-check", "--target", str(tmp_path / "t"),
                         str(installed.wheel)], check=False, capture_output=True, text=True)
    if "No module named pip" in cp.stderr:
        pytest.skip(f"{olds[-1]} has no pip")
    assert cp.returncode != 0
    assert "requires a different Python" in cp.stderr, cp.stderr
    assert not (tmp_path / "t" / "srcbuild").exists()


@pytest.mark.network
def test_installed_srcbuild_builds_zlib_into_a_prefix(installed):
    # fetch with the checkout's srcbuild into the cache the installed one will use by default:
    # where that fails, Debian's archive cannot be reached, which is not the wheel's fault
    cache = installed.home / ".cache" / "srcbuild"
    cp = subprocess.run([sys.executable, "-m", "srcbuild", "fetch", "zlib", "--cache-dir",
                         str(cache), "--prefix", str(installed.work / "unused")], check=False,
                        cwd=ROOT, capture_output=True, text=True, timeout=600)
    if cp.returncode != 0:
        pytest.skip("zlib's source cannot be fetched from Debian's archive here: "
                    + (cp.stderr.strip().splitlines() or ["?"])[-1])
    prefix = installed.work / "zlib-prefix"
    installed.run("srcbuild", "zlib", "--from-source", "zlib", "--prefix", str(prefix),
                  "-j", "2")
    assert (prefix / "lib" / "pkgconfig" / "zlib.pc").is_file()
    assert (prefix / "include" / "zlib.h").is_file()
    assert (prefix / "lib" / "libz.so").exists()
    assert list((cache / "logs").glob("*/zlib"))  # the run used ~/.cache/srcbuild (logs/RUN/NAME)
    assert not (installed.package / "cache").exists()
