"""Each diagnosis against the real tools: real .pc files, real ldconfig -p, real ldd."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from pkgfactory import recipe

from srcbuild.doctor import diagnose, unresolved_libraries
from srcbuild.graph import Resolution
from srcbuild.probes import SystemProbe
from srcbuild.requirement import parse


def resolution(probe: SystemProbe, text: str, recipe_name: str | None = None,
               recipe_version: str | None = None) -> Resolution:
    req = parse(text)
    found = probe.lookup(req)
    if found is not None and req.accepts(found.version):
        return Resolution(req, "t", "system", found.version, found.where, None, "", False, found)
    by = "recipe" if recipe_name else "missing"
    return Resolution(req, "t", by, recipe_version, recipe_name or "", recipe_name, "", False,
                      found)


def test_runtime_library_without_pc(tmp_path):
    probe = SystemProbe(tmp_path)
    if probe.find_pc("glib-2.0"):
        pytest.skip("glib-2.0.pc is installed here: this case needs a machine without it")
    if "libglib-2.0.so.0" not in probe.ldconfig:
        pytest.skip("the glib runtime library is not installed here")
    # places=(): only the runtime library counts here, not a glib-2.0.pc in some other prefix
    d = diagnose(resolution(probe, "pkgconfig:glib-2.0 >= 2.56", "glib", "2.74.6"), probe,
                 places=())
    assert d.case == "dev-files-missing"
    assert "libglib-2.0.so.0" in d.message
    assert "libglib2.0-dev (apt)" in d.message and "glib2-devel (dnf)" in d.message
    assert "glib-dev (apk)" in d.message and "glib2 (pacman)" in d.message
    assert "recipe glib" in d.message


def test_pc_outside_search_path_prints_the_export(tmp_path):
    name = f"sbtest{uuid.uuid4().hex[:8]}"
    d = tmp_path / "opt" / "thing" / "lib" / "pkgconfig"
    d.mkdir(parents=True)
    (d / f"{name}.pc").write_text(f"Name: {name}\nDescription: t\nVersion: 3.1\n")
    probe = SystemProbe(tmp_path / "prefix")
    places = (str(tmp_path / "opt" / "*" / "lib*" / "pkgconfig"),)  # like /opt/*/lib*/pkgconfig
    diag = diagnose(resolution(probe, f"pkgconfig:{name} >= 3"), probe, places)
    assert diag.case == "pc-outside-path"
    export = f"export PKG_CONFIG_PATH={d}${{PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}}"
    assert export in diag.message
    # the printed export really makes pkg-config find it
    out = subprocess.run(["sh", "-c", f"{export}; pkg-config --modversion {name}"], check=False,
                         capture_output=True, text=True)
    assert out.stdout.strip() == "3.1"
    # a copy that is too old is not offered as the cure
    assert diagnose(resolution(probe, f"pkgconfig:{name} >= 4"), probe, places).case != \
        "pc-outside-path"


def test_found_but_too_old(tmp_path):
    pc = tmp_path / "lib" / "pkgconfig"
    pc.mkdir(parents=True)
    (pc / "oldlib.pc").write_text("Name: oldlib\nDescription: t\nVersion: 1.4\n")
    probe = SystemProbe(tmp_path)
    d = diagnose(resolution(probe, "pkgconfig:oldlib >= 2.0", "oldlib", "2.1"), probe)
    assert d.case == "too-old"
    assert "found 1.4" in d.message and ">= 2.0 is wanted" in d.message
    assert "the recipe oldlib provides 2.1" in d.message
    d = diagnose(resolution(probe, "pkgconfig:oldlib >= 2.0"), probe)
    assert "no srcbuild recipe provides a newer one" in d.message


def test_program_missing_names_packages(tmp_path):
    empty = tmp_path / "emptybin"
    empty.mkdir()
    probe = SystemProbe(tmp_path, environ={"PATH": str(empty)})
    d = diagnose(resolution(probe, "program:flex", "flex", "2.6.4"), probe)
    assert d.case == "program-missing"
    assert "flex (apt)" in d.message and "recipe flex" in d.message
    assert d.fix[0].startswith("apt-get install")


def _lib_and_program(root: Path, rpath: bool) -> Path:
    src = root / "src"
    src.mkdir(parents=True)
    (src / "l.c").write_text("int sbl(void) { return 7; }\n")
    (src / "m.c").write_text("int sbl(void); int main(void) { return sbl() == 7 ? 0 : 1; }\n")
    prefix = root / "prefix"
    (prefix / "lib").mkdir(parents=True)
    (prefix / "bin").mkdir()
    subprocess.run(["cc", "-shared", "-fPIC", "-o", prefix / "lib" / "libsbl.so",
                    src / "l.c"], check=True)
    extra = [f"-Wl,-rpath,{prefix}/lib"] if rpath else []
    subprocess.run(["cc", "-o", prefix / "bin" / "m", src / "m.c", f"-L{prefix}/lib", "-lsbl",
                    *extra], check=True)
    return prefix


def test_not_found_in_prefix_says_rpath_or_ld_library_path(tmp_path):
    prefix = _lib_and_program(tmp_path, rpath=False)
    found = unresolved_libraries(prefix)
    assert [d.case for d in found] == ["loader-path"]
    assert "libsbl.so" in found[0].message and "rpath" in found[0].message
    export = found[0].fix[0]
    assert export.startswith(f"export LD_LIBRARY_PATH={prefix}/lib")
    # the cure works
    assert subprocess.run(["sh", "-c", f"{export}; {prefix}/bin/m"], check=False).returncode == 0
    assert unresolved_libraries(_lib_and_program(tmp_path / "b", rpath=True)) == []


def test_a_library_gone_from_the_prefix(tmp_path):
    prefix = _lib_and_program(tmp_path, rpath=True)
    (prefix / "lib" / "libsbl.so").unlink()
    found = unresolved_libraries(prefix)
    assert [d.case for d in found] == ["library-missing"]


def test_doctor_command_exit_codes(sb, tmp_path):
    recipe(tmp_path / "r", "wants", """
        version = "1"
        requires = ["pkgconfig:zlib", "program:no-such-program-sb"]
        [[source]]
        path = "."
        [build]
        system = "custom"
        """)
    cp = sb("doctor", "wants", "--recipes", str(tmp_path / "r"), check=3)
    assert "MISS" in cp.stdout and "no-such-program-sb is not on PATH" in cp.stdout
    assert "ok    [wants] pkgconfig:zlib: system has" in cp.stdout
    import json
    data = json.loads(sb("doctor", "wants", "--recipes", str(tmp_path / "r"), "--json",
                         check=3).stdout)
    assert {d["case"] for d in data["diagnoses"]} == {"found", "program-missing"}


def test_failed_configure_names_the_missing_module(sb, tmp_path):
    src = tmp_path / "needsfoo-1"
    src.mkdir()
    (src / "configure").write_text(
        "#!/bin/sh\necho 'checking for sbmissingfoo >= 1.0...'\n"
        "pkg-config --print-errors 'sbmissingfoo >= 1.0' || "
        "{ echo 'configure: error: sbmissingfoo is required'; exit 1; }\n")
    (src / "configure").chmod(0o755)
    recipe(tmp_path / "r", "needsfoo", f"""
        version = "1"
        [[source]]
        path = "{src}"
        [build]
        system = "autotools"
        """)
    cp = sb("needsfoo", "--recipes", str(tmp_path / "r"), check=1)
    assert "What the logs say is missing" in cp.stderr
    assert "Missing pkgconfig:sbmissingfoo" in cp.stderr
    assert "was not found in the pkg-config search path" in cp.stderr


def test_failed_meson_quotes_meson_log(sb, tmp_path):
    src = tmp_path / "mes-1"
    src.mkdir()
    (src / "meson.build").write_text("project('mes', 'c')\ndependency('glib-2.0-sbnope')\n")
    recipe(tmp_path / "r", "mes", f"""
        version = "1"
        [[source]]
        path = "{src}"
        [build]
        system = "meson"
        """)
    cp = sb("mes", "--recipes", str(tmp_path / "r"), check=1)
    assert "Missing pkgconfig:glib-2.0-sbnope" in cp.stderr
    assert "From meson-log.txt" in cp.stderr


def test_failed_cmake_could_not_find(sb, tmp_path):
    src = tmp_path / "cm-1"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(cm C)\nfind_package(PkgConfig REQUIRED)\n"
        "pkg_check_modules(X REQUIRED sbnopemod)\n")
    recipe(tmp_path / "r", "cm", f"""
        version = "1"
        [[source]]
        path = "{src}"
        [build]
        system = "cmake"
        """)
    cp = sb("cm", "--recipes", str(tmp_path / "r"), check=1)
    assert "Missing pkgconfig:sbnopemod" in cp.stderr


def test_system_packages_shows_the_command_and_never_runs_it_unasked(sb, tmp_path):
    if shutil.which("cpio"):
        pytest.skip("cpio is installed here: this case needs a machine without it")
    recipe(tmp_path / "r", "needs-cpio", """
        version = "1"
        requires = ["program:cpio", "pkgconfig:zlib"]
        [[source]]
        path = "."
        [build]
        system = "custom"
        """)
    cp = sb("doctor", "needs-cpio", "--recipes", str(tmp_path / "r"), "--system-packages",
            check=2)
    # only what neither the system nor a recipe provides; zlib is the system's already
    assert "apt-get install -y --no-install-recommends cpio`" in cp.stderr
    assert "--yes" in cp.stderr
    assert shutil.which("cpio") is None


def test_doctor_command_lists_loader_problems_of_the_prefix(sb, tmp_path):
    prefix = _lib_and_program(tmp_path / "p", rpath=False)
    recipe(tmp_path / "r", "plain", """
        version = "1"
        [[source]]
        path = "."
        [build]
        system = "custom"
        """)
    cp = sb("doctor", "plain", "--recipes", str(tmp_path / "r"), prefix=prefix, check=1)
    assert "the loader cannot find a library" in cp.stdout
    assert "LOAD  bin/m: libsbl.so is in the prefix" in cp.stdout
    assert cp.stdout.splitlines()[-1] == (
        f"doctor: NOT OK: plain has no requirement; 1 binary(ies) in {prefix.resolve()} miss a "
        "library (LOAD lines)")


def test_remembered_elf_facts_follow_the_files(tmp_path):
    """doctor keeps each file's loader facts in the cache (elfcache) to stay instant; a
    program rebuilt in place with an rpath, or replaced, is read again, never judged by what
    it was; the facts of files that left the prefix are dropped."""
    from srcbuild.elfcache import CACHE_NAME

    cache = tmp_path / "cache"
    prefix = _lib_and_program(tmp_path, rpath=False)
    assert [d.case for d in unresolved_libraries(prefix, cache)] == ["loader-path"]
    facts = json.loads((cache / CACHE_NAME).read_text())["files"]
    assert str((prefix / "bin" / "m").resolve()) in facts
    assert [d.case for d in unresolved_libraries(prefix, cache)] == ["loader-path"]  # remembered
    subprocess.run(["cc", "-o", prefix / "bin" / "m", tmp_path / "src" / "m.c",
                    f"-L{prefix}/lib", "-lsbl", f"-Wl,-rpath,{prefix}/lib"], check=True)
    assert unresolved_libraries(prefix, cache) == []  # rewritten in place: read again
    (prefix / "bin" / "m").unlink()
    unresolved_libraries(prefix, cache)
    facts = json.loads((cache / CACHE_NAME).read_text())["files"]
    assert str((prefix / "bin" / "m").resolve()) not in facts
    (cache / CACHE_NAME).write_text("{not json")  # a damaged cache is only not used
    assert unresolved_libraries(prefix, cache) == []
