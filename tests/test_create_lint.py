"""`srcbuild create` on generated source archives (file:// URLs), the recipes it writes
built unedited; `srcbuild lint` on a broken folder and on the shipped recipes."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

from conftest import ROOT, tarball
from pkgfactory import (
    _write,
    autoreconf_pkg,
    autotools_lib,
    cmake_tested,
    meson_lib,
    recipe,
    run_log,
)


def archive_of(src: Path, tmp_path: Path, outer: str = "") -> tuple[Path, str]:
    """A .tar.gz of a generated source (inside a folder ``outer`` when given)."""
    name = outer or src.name
    path = tmp_path / "archives" / f"{name}.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, tarball(path, tree=src)


def create(sb, tmp_path: Path, name: str, url: str, *more: str, check: int = 0):
    return sb("create", name, "--url", url, "--recipes-dir", str(tmp_path / "new"),
              "--cache-dir", str(sb.cache), *more, check=check)


def written(tmp_path: Path, name: str) -> dict:
    return tomllib.loads((tmp_path / "new" / f"{name}.toml").read_text())


def plain_make(root: Path) -> Path:
    """A plain Makefile project (no configure) that installs a program with PREFIX/DESTDIR."""
    src = root / "hello-2.1"
    _write(src / "Makefile", """
        PREFIX ?= /usr/local
        all: hello
        hello: hello.c
        \t$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ hello.c $(LDFLAGS)
        install: hello
        \tmkdir -p $(DESTDIR)$(PREFIX)/bin
        \tcp hello $(DESTDIR)$(PREFIX)/bin/
        test: hello
        \t./hello | grep -q 'hello 2.1'
        """)
    _write(src / "hello.c", '#include <stdio.h>\nint main(void){puts("hello 2.1");return 0;}\n')
    return src


def test_create_autotools_library_builds_unedited(sb, tmp_path):
    path, sha = archive_of(autotools_lib(tmp_path / "pkgs"), tmp_path)
    cp = create(sb, tmp_path, "alpha", path.as_uri())
    assert f"sha256 {sha}" in cp.stdout  # computed from the download
    r = written(tmp_path, "alpha")
    assert (r["version"], r["build"]["system"]) == ("1.2.0", "autotools")
    assert r["provides"] == ["pkgconfig:alpha", "library:libalpha.so"]
    assert r["source"] == [{"url": path.as_uri(), "sha256": sha}]
    text = (tmp_path / "new" / "alpha.toml").read_text()
    assert "# sha256: computed from the download on" in text
    sb("alpha", "--recipes", str(tmp_path / "new"), "--test")
    assert (sb.prefix / "lib" / "pkgconfig" / "alpha.pc").exists()
    # its check ran against the stage: pkg-config found the staged alpha.pc
    assert "pkg-config --exists --print-errors alpha" in \
        run_log(sb.cache, "alpha", "check")


def test_create_plain_make_program_builds_unedited_and_its_test_target_runs(sb, tmp_path):
    path, sha = archive_of(plain_make(tmp_path / "pkgs"), tmp_path)
    create(sb, tmp_path, "hello", path.as_uri(), "--sha256", sha)
    r = written(tmp_path, "hello")
    assert (r["version"], r["build"]["system"]) == ("2.1", "make")
    assert "given with --sha256" in (tmp_path / "new" / "hello.toml").read_text()
    sb("hello", "--recipes", str(tmp_path / "new"), "--test")
    assert "./hello | grep -q 'hello 2.1'" in \
        run_log(sb.cache, "hello", "test")
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    out = subprocess.run([sb.prefix / "bin" / "hello"], capture_output=True, text=True,
                         env=env, check=False)
    assert out.stdout == "hello 2.1\n"


def test_create_finds_the_project_in_a_subfolder(sb, tmp_path):
    """Like expat's Debian orig: libexpat-R_2_5_0/expat/CMakeLists.txt."""
    outer = tmp_path / "outer" / "libeps-R_1_0"
    src = cmake_tested(outer, "eps")
    src.rename(outer / "eps")
    (outer / "testdata").mkdir()
    (outer / "testdata" / "x.txt").write_text("x")
    path = tmp_path / "archives" / "eps-1.0.tar.gz"
    path.parent.mkdir()
    sha = tarball(path, tree=outer)
    cp = create(sb, tmp_path, "eps", path.as_uri())
    assert "in the archive's folder eps/" in cp.stdout
    r = written(tmp_path, "eps")
    assert r["source"][0]["subdir"] == "eps" and r["source"][0]["sha256"] == sha
    assert r["build"]["system"] == "cmake"
    sb("eps", "--recipes", str(tmp_path / "new"), "--test")
    assert (sb.prefix / "bin" / "eps").exists()
    assert "100% tests passed" in run_log(sb.cache, "eps", "test")


def test_create_detects_meson_and_autoreconf_and_names_what_they_look_for(sb, tmp_path):
    path, _ = archive_of(meson_lib(tmp_path / "pkgs"), tmp_path)
    create(sb, tmp_path, "beta", path.as_uri())
    r = written(tmp_path, "beta")
    assert (r["build"]["system"], r["provides"]) == ("meson", ["pkgconfig:beta",
                                                              "library:libbeta.so"])
    assert "#   pkgconfig:alpha  (meson.build: dependency('alpha'))" in \
        (tmp_path / "new" / "beta.toml").read_text()
    path, _ = archive_of(autoreconf_pkg(tmp_path / "pkgs"), tmp_path)
    create(sb, tmp_path, "zeta", path.as_uri())
    r = written(tmp_path, "zeta")
    assert (r["build"]["system"], r["build"]["autoreconf"]) == ("autotools", True)
    plan = sb.plan("zeta", "--recipes", str(tmp_path / "new"))
    assert any(q["requirement"] == "program:autoreconf" and q["of"] == "zeta"
               for q in plan["requirements"])
    assert sb("lint", str(tmp_path / "new")).stdout.endswith("no problem found.\n")


def test_create_refuses_a_wrong_hash_and_an_existing_recipe(sb, tmp_path):
    path, sha = archive_of(autotools_lib(tmp_path / "pkgs"), tmp_path)
    cp = create(sb, tmp_path, "alpha", path.as_uri(), "--sha256", "0" * 64, check=1)
    assert f"got {sha}" in cp.stderr and not (tmp_path / "new" / "alpha.toml").exists()
    create(sb, tmp_path, "alpha", path.as_uri())
    cp = create(sb, tmp_path, "alpha", path.as_uri(), check=2)
    assert "does not overwrite" in cp.stderr and "--force" in cp.stderr
    create(sb, tmp_path, "alpha", path.as_uri(), "--force")
    cp = create(sb, tmp_path, "Bad/Name", path.as_uri(), check=2)
    assert "cannot be a recipe name" in cp.stderr


# -- lint ----------------------------------------------------------------------------------
def test_lint_shipped_recipes(sb):
    """CI runs this: every shipped recipe passes lint."""
    cp = sb("lint", str(ROOT / "recipes"))
    assert cp.stdout.rstrip().endswith("no problem found."), cp.stdout


def test_lint_names_each_problem(sb, tmp_path):
    r = tmp_path / "r"
    good = "[[source]]\npath = \".\"\n[build]\nsystem = \"custom\"\n"
    recipe(r, "unknown-key", 'version = "1"\ncolour = "red"\n' + good)
    recipe(r, "bad-template", 'version = "1"\ncheck = ["echo {{ nope }}"]\n' + good)
    recipe(r, "placeholder", f"""
        version = "1"
        [[source]]
        url = "https://example.org/p-1.tar.gz"
        sha256 = "{'0' * 64}"
        [build]
        system = "make"
        """)
    recipe(r, "nobody", 'version = "1"\nrequires = ["pkgconfig:no-such-module-xyz"]\n' + good)
    recipe(r, "missing-file", 'version = "1"\n'
           'check = [["sh", "{{ recipe_dir }}/files/missing-file/run.sh"]]\n' + good)
    recipe(r, "fine", 'version = "1"\nrequires = ["pkgconfig:zlib", "recipe:m4"]\n'
           'check = [["sh", "{{ recipe_dir }}/files/fine/run.sh"]]\n' + good)
    _write(r / "files" / "fine" / "run.sh", "true\n")
    cp = sb("lint", str(r), check=2)
    out = cp.stdout
    assert f"{r}/unknown-key.toml: load: Recipe {r}/unknown-key.toml: unknown key 'colour'." \
        in out
    assert f"{r}/bad-template.toml: templates:" in out and "'nope' is undefined" in out
    assert f"{r}/placeholder.toml: [[source]] number 1: sha256 = 00000000... is a placeholder" \
        in out
    assert (f"{r}/nobody.toml: requires: pkgconfig:no-such-module-xyz: nothing provides it"
            in out)
    assert f"{r}/missing-file.toml: files: files/missing-file/run.sh is named but" in out
    assert "fine.toml" not in out
    assert out.rstrip().endswith("lint: 5 problem(s) in 5 of 6 recipe(s) in " + str(r) + ".")


def test_files_folder_is_part_of_the_build_hash(sb, tmp_path):
    r = tmp_path / "r"
    recipe(r, "tool", """
        version = "1"
        check = [["sh", "{{ recipe_dir }}/files/tool/check.sh"]]
        [[source]]
        path = "files/tool/src"
        [build]
        system = "custom"
        install = [["sh", "-c", "mkdir -p $0/share && echo 1 > $0/share/tool", "{{ stage }}"]]
        """)
    _write(r / "files" / "tool" / "check.sh", "echo checking v1\n")
    _write(r / "files" / "tool" / "src" / "README", "x\n")
    sb("tool", "--recipes", str(r))
    first = sb.plan("tool", "--recipes", str(r))["steps"][0]
    assert first["action"] == "installed"
    _write(r / "files" / "tool" / "check.sh", "echo checking v2\n")
    second = sb.plan("tool", "--recipes", str(r))["steps"][0]
    assert second["action"] == "build" and second["build_hash"] != first["build_hash"]
    sb("tool", "--recipes", str(r))
    assert "checking v2" in run_log(sb.cache, "tool", "check")
    # the digest is of the content, not of times: touching a file rebuilds nothing
    os.utime(r / "files" / "tool" / "check.sh", (1, 1))
    assert sb.plan("tool", "--recipes", str(r))["steps"][0]["action"] == "installed"
