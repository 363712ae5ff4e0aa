"""python: requirements against a real interpreter and real files.

The build's python3 is a small wrapper first on PATH that logs each start and runs the
interpreter of the tests with -S (no site-packages: the machine's modules are out of reach,
whatever is installed here); the modules it may import are fakes written into a private
folder on PYTHONPATH, or into the prefix's lib/python3/site-packages.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pkgfactory import recipe

from srcbuild.doctor import diagnose
from srcbuild.graph import Resolution
from srcbuild.kinds import DiagnosisCase, Satisfier
from srcbuild.logscan import scan
from srcbuild.probes import SystemProbe
from srcbuild.pyprobe import probe_modules, site_packages
from srcbuild.recipe import RecipeBook
from srcbuild.requirement import parse
from srcbuild.resolve import Resolver
from srcbuild.state import PrefixState

MOD = "srcbuild_probe_mod"


def fake_module(folder: Path, name: str = MOD, version: str | None = "1.4",
                body: str = "") -> Path:
    """A package ``name`` in ``folder`` with that ``__version__`` (none when None)."""
    pkg = folder.joinpath(*name.split("."))
    pkg.mkdir(parents=True, exist_ok=True)
    text = (f"__version__ = {version!r}\n" if version is not None else "") + body
    (pkg / "__init__.py").write_text(text)
    return pkg


def python3_wrapper(bindir: Path, log: Path, extra_path: Path | None = None) -> Path:
    """``bindir/python3``: logs a line per start, then this interpreter with -S (and
    ``extra_path`` in front of PYTHONPATH: another interpreter with its own modules)."""
    bindir.mkdir(parents=True, exist_ok=True)
    extra = f'PYTHONPATH="{extra_path}${{PYTHONPATH:+:$PYTHONPATH}}"; export PYTHONPATH\n' \
        if extra_path else ""
    exe = bindir / "python3"
    exe.write_text(f'#!/bin/sh\necho start >> "{log}"\n{extra}exec "{sys.executable}" -S "$@"\n')
    exe.chmod(0o755)
    return exe


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, Path]:
    """A build python3 (the wrapper, first on PATH), its start log, a private PYTHONPATH
    folder and a prefix."""
    log = tmp_path / "starts.log"
    log.touch()
    python3_wrapper(tmp_path / "bin", log)
    private = tmp_path / "private"
    private.mkdir()
    return {"bin": tmp_path / "bin", "log": log, "private": private,
            "prefix": tmp_path / "prefix"}


def env_of(m: dict[str, Path]) -> dict[str, str]:
    return {"PATH": f"{m['bin']}:/usr/bin:/bin", "PYTHONPATH": str(m["private"])}


def starts(m: dict[str, Path]) -> int:
    return len(m["log"].read_text().splitlines())


# -- the probe -------------------------------------------------------------------------------
def test_found_version_too_old_and_missing_in_one_start(machine):
    fake_module(machine["private"], MOD, "1.4", body="print('chatter on stdout')\n")
    fake_module(machine["private"], "srcbuild_probe_exits", body="raise SystemExit(3)\n")
    probe = SystemProbe(machine["prefix"], environ=env_of(machine))
    reqs = [parse(f"python:{MOD} >= 1.2"), parse("python:srcbuild_probe_nosuch"),
            parse("python:srcbuild_probe_exits"), parse("program:python3 >= 3.6")]
    probe.prefetch(reqs)
    assert starts(machine) == 1

    found = probe.lookup(parse(f"python:{MOD} >= 1.2"))
    assert found is not None and not found.in_prefix
    assert (found.version, found.where) == ("1.4", str(machine["private"] / MOD))
    too_old = parse(f"python:{MOD} >= 2")
    assert probe.lookup(too_old) == found and not too_old.accepts(found.version)
    assert probe.lookup(parse("python:srcbuild_probe_nosuch")) is None
    assert probe.module("srcbuild_probe_nosuch").error == \
        "ModuleNotFoundError: No module named 'srcbuild_probe_nosuch'"
    assert probe.lookup(parse("python:srcbuild_probe_exits")) is None
    assert probe.module("srcbuild_probe_exits").error.startswith("SystemExit")
    # python3 itself: the version that start reported, no `python3 --version`
    py = probe.lookup(parse("program:python3 >= 3.6"))
    assert py is not None and py.where == str(machine["bin"] / "python3")
    assert py.version == ".".join(str(n) for n in sys.version_info[:3])
    assert starts(machine) == 1
    assert probe.interpreter is not None
    assert probe.interpreter.describe().startswith(f"{machine['bin'] / 'python3'} (Python 3.")


def test_the_prefix_site_packages_come_first(machine):
    fake_module(machine["private"], MOD, "1.4")
    fake_module(site_packages(machine["prefix"]), MOD, "2.0")
    probe = SystemProbe(machine["prefix"], environ=env_of(machine))
    found = probe.lookup(parse(f"python:{MOD} >= 2"))
    assert found is not None and found.in_prefix and found.version == "2.0"
    assert found.where == str(site_packages(machine["prefix"]).resolve() / MOD)


def test_a_version_from_the_distribution_metadata(machine):
    """No __version__: the version of the distribution whose top_level.txt names it."""
    fake_module(machine["private"], "srcbuild_probe_meta", version=None)
    info = machine["private"] / "srcbuild_probe_dist-3.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: srcbuild-probe-dist\n"
                                   "Version: 3.2\n")
    (info / "top_level.txt").write_text("srcbuild_probe_meta\n")
    fake_module(machine["private"], "srcbuild_probe_bare", version=None)
    probe = SystemProbe(machine["prefix"], environ=env_of(machine))
    found = probe.lookup(parse("python:srcbuild_probe_meta >= 3"))
    assert found is not None and found.version == "3.2"
    bare = probe.lookup(parse("python:srcbuild_probe_bare >= 1"))
    assert bare is not None and bare.version is None  # found, at a version nobody states
    assert not parse("python:srcbuild_probe_bare >= 1").accepts(bare.version)


def test_without_python3_on_path_every_module_is_missing(tmp_path):
    (tmp_path / "empty").mkdir()
    probe = SystemProbe(tmp_path / "prefix", environ={"PATH": str(tmp_path / "empty")})
    assert probe.lookup(parse("python:json")) is None
    assert probe.module("json").error == "no python3 on PATH"


# -- the resolver ----------------------------------------------------------------------------
def module_book(root: Path) -> Path:
    recipes = root / "r"
    recipe(recipes, "probemod", f"""
        version = "1.4"
        provides = ["python:{MOD}"]
        [[source]]
        path = "."
        [build]
        system = "custom"
        """)
    recipe(recipes, "needsmod", f"""
        version = "1"
        requires = ["python:{MOD} >= 1.2"]
        [[source]]
        path = "."
        [build]
        system = "custom"
        """)
    return recipes


def resolve_needsmod(root: Path, machine: dict[str, Path]) -> Resolution:
    prefix = machine["prefix"]
    resolver = Resolver(RecipeBook([module_book(root)]),
                        SystemProbe(prefix, environ=env_of(machine)), PrefixState(prefix),
                        prefix, toolchain="cc 1", machine="x86_64")
    graph = resolver.resolve(["needsmod"])
    (res,) = graph.resolutions
    assert graph.order == (["probemod", "needsmod"] if res.satisfied_by == Satisfier.RECIPE
                           else ["needsmod"])
    return res


def test_adding_and_removing_the_module_changes_the_resolution(tmp_path, machine):
    res = resolve_needsmod(tmp_path, machine)
    assert (res.satisfied_by, res.recipe, res.reason) == (
        Satisfier.RECIPE, "probemod", "not found; the recipe probemod provides 1.4")

    pkg = fake_module(machine["private"], MOD, "1.3")
    res = resolve_needsmod(tmp_path, machine)
    assert (res.satisfied_by, res.version, res.where) == (Satisfier.SYSTEM, "1.3", str(pkg))

    fake_module(machine["private"], MOD, "1.1")  # too old: the recipe again
    res = resolve_needsmod(tmp_path, machine)
    assert res.satisfied_by == Satisfier.RECIPE and res.reason.startswith(
        f"found 1.1 at {pkg}, but >= 1.2 is wanted")

    assert not (pkg / "__pycache__").exists()  # the probe writes no byte code (-B)
    (pkg / "__init__.py").unlink()
    pkg.rmdir()
    assert resolve_needsmod(tmp_path, machine).satisfied_by == Satisfier.RECIPE


def dpdk_env(m: dict[str, Path]) -> dict[str, str]:
    return {"PATH": f"{m['bin']}:{os.environ['PATH']}", "PYTHONPATH": str(m["private"])}


def test_dpdk_takes_elftools_from_the_pyelftools_recipe_when_the_build_python_lacks_it(
        sb, machine):
    def elftools() -> tuple[dict[str, object], list[str]]:
        plan = _plan(sb, machine)
        (res,) = [r for r in plan["requirements"] if r["requirement"].startswith("python:")]
        return res, [s["recipe"] for s in plan["steps"]]

    res, steps = elftools()
    assert res["requirement"] == "python:elftools >= 0.22"
    assert (res["satisfied_by"], res["recipe"]) == ("recipe", "pyelftools")
    assert steps.index("pyelftools") < steps.index("dpdk")

    fake_module(machine["private"], "elftools", "0.30")
    res, steps = elftools()
    assert (res["satisfied_by"], res["version"]) == ("system", "0.30")
    assert "pyelftools" not in steps

    fake_module(machine["private"], "elftools", "0.19")
    res, steps = elftools()
    assert (res["satisfied_by"], res["recipe"]) == ("recipe", "pyelftools")
    assert res["reason"].startswith("found 0.19 at ")


def _plan(sb, machine) -> dict[str, object]:
    import json

    cp = sb("plan", "dpdk", "--json", check=None, env=dpdk_env(machine))
    assert cp.returncode in (0, 3), cp.stderr
    return json.loads(cp.stdout)


# -- doctor ----------------------------------------------------------------------------------
def elftools_resolution(probe: SystemProbe) -> Resolution:
    req = parse("python:elftools >= 0.22")
    return Resolution(req, "dpdk", Satisfier.RECIPE, "0.31", "pyelftools", "pyelftools",
                      "", False, probe.lookup(req))


def test_doctor_names_the_system_package_and_the_recipe(machine):
    probe = SystemProbe(machine["prefix"], environ=env_of(machine))
    d = diagnose(elftools_resolution(probe), probe, pythons=[])
    assert d.case == DiagnosisCase.MODULE_MISSING
    assert f"the build's python3 (the first on PATH), {machine['bin'] / 'python3'}" in d.message
    assert "No module named 'elftools'" in d.message
    assert "python3-pyelftools (apt)" in d.message and "py3-elftools (apk)" in d.message
    assert "the recipe pyelftools" in d.message
    assert d.fix[0] == "srcbuild pyelftools"
    assert d.fix[1].endswith("python3-pyelftools") and d.fix[1].startswith("apt-get install")


@pytest.mark.parametrize("version, good", [("0.29", True), ("0.19", False)])
def test_doctor_finds_the_module_of_another_python3(tmp_path, machine, version, good):
    theirs = tmp_path / "theirs"
    fake_module(theirs, "elftools", version)
    other = python3_wrapper(tmp_path / "other" / "bin", machine["log"], extra_path=theirs)
    probe = SystemProbe(machine["prefix"], environ=env_of(machine))
    pythons = [probe_modules(str(other), ["elftools"], probe.python_env())]
    d = diagnose(elftools_resolution(probe), probe, pythons=pythons)
    assert d.case == DiagnosisCase.MODULE_OTHER_PYTHON
    assert f"{other} (Python 3." in d.message and f"has {version} at {theirs / 'elftools'}" \
        in d.message
    assert "python3-pyelftools (apt)" in d.message and "the recipe pyelftools" in d.message
    cure = f"put {other.parent} before {machine['bin']} on PATH"
    assert (cure in d.message) is good
    assert ("too old as well" in d.message) is not good
    assert d.fix == ["srcbuild pyelftools"] + ([f"export PATH={other.parent}:$PATH"] if good
                                               else [])


def test_doctor_dpdk_on_the_command_line(sb, machine):
    cp = sb("doctor", "dpdk", check=None, env=dpdk_env(machine))
    (line,) = [x for x in cp.stdout.splitlines() if "python:elftools" in x]
    assert line.startswith("build [dpdk] python:elftools >= 0.22: the build's python3")
    assert "python3-pyelftools (apt)" in line and "the recipe pyelftools" in line


# -- the build's environment, `srcbuild env` and `srcbuild run` ------------------------------
def test_a_module_of_the_prefix_is_on_pythonpath_in_steps_checks_env_and_run(sb, tmp_path):
    recipes = tmp_path / "r"
    fake_module(recipes / "files" / "pymod", MOD, "1.4")
    recipe(recipes, "pymod", f"""
        version = "1.4"
        provides = ["python:{MOD}"]
        # the check imports it from the stage: check_env puts the staged site-packages first
        check = [["python3", "-c", "import sys, {MOD} as m; assert m.__file__.startswith(sys.argv[1]), m.__file__", "{{{{ stage }}}}/lib/python3/site-packages/"]]
        [[source]]
        path = "files/pymod"
        [build]
        system = "custom"
        configure = []
        build = []
        install = [["mkdir", "-p", "{{{{ stage }}}}/lib/python3/site-packages"],
                   ["cp", "-R", "{{{{ source_dir }}}}/{MOD}", "{{{{ stage }}}}/lib/python3/site-packages/"]]
        """)
    recipe(recipes, "pyuser", f"""
        version = "1"
        requires = ["python:{MOD} >= 1.2"]
        run = [["python3", "-c", "import {MOD} as m; print('run', m.__file__)"]]
        [[source]]
        path = "files/pymod"
        [build]
        system = "custom"
        configure = []
        build = [{{shell = "python3 -c 'import {MOD} as m; print(m.__file__, m.__version__)' > used.txt"}}]
        install = [["mkdir", "-p", "{{{{ stage }}}}/share"], ["cp", "used.txt", "{{{{ stage }}}}/share/pyuser-used.txt"]]
        """)
    site = site_packages(sb.prefix.resolve())
    env = {"PYTHONPATH": ""}
    plan = sb.plan("pyuser", "--recipes", str(recipes))
    (res,) = plan["requirements"]
    assert (res["satisfied_by"], res["recipe"]) == ("recipe", "pymod")

    sb("pyuser", "--recipes", str(recipes), env=env)
    used = (sb.prefix / "share" / "pyuser-used.txt").read_text().split()
    assert used == [str(site / MOD / "__init__.py"), "1.4"]  # the build step imported it
    plan = sb.plan("pyuser", "--recipes", str(recipes))
    (res,) = plan["requirements"]
    assert (res["satisfied_by"], res["version"], res["where"], res["recipe"]) == (
        "prefix", "1.4", str(site / MOD), "pymod")

    exports = sb("env").stdout
    assert f'export PYTHONPATH={site}"${{PYTHONPATH:+:$PYTHONPATH}}"' in exports
    got = subprocess.run(["sh", "-c", exports + f"python3 -c 'import {MOD} as m; "
                          "print(m.__file__)'"], check=True, capture_output=True, text=True,
                         env={"PATH": os.environ["PATH"], "PYTHONPATH": "/elsewhere"})
    assert got.stdout.strip() == str(site / MOD / "__init__.py")

    cp = sb("run", "pyuser", "--recipes", str(recipes), env=env)
    assert cp.stdout.strip() == f"run {site / MOD / '__init__.py'}"


# -- a failed build's log names the module ---------------------------------------------------
def test_meson_missing_modules_from_a_real_meson(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "meson.build").write_text(textwrap.dedent("""
        project('t', 'c')
        import('python').find_installation('python3', modules: ['json', 'srcbuild_probe_nosuch'])
        """))
    cp = subprocess.run(["meson", "setup", str(tmp_path / "build"), str(src)], check=False,
                        capture_output=True, text=True, env={**os.environ, "CC": "cc"})
    assert cp.returncode != 0
    assert "Program python3 (json, srcbuild_probe_nosuch) found: NO modules: json" in cp.stdout
    assert [str(f.requirement) for f in scan(cp.stdout + cp.stderr, {})] == [
        "python:srcbuild_probe_nosuch"]
