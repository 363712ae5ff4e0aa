"""The recipe contract, second edition (issue 15), through the CLI on generated packages:
typed options and conditional requirements, subdir, the builders' tools, the check
environment, files/ in the build hash, uninstall --with-dependents."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import tarball, tree
from pkgfactory import (
    autoreconf_pkg,
    autotools_lib,
    cmake_app,
    delta_recipe,
    make_prog,
    recipe,
    run_log,
)


def requirement_keys(plan: dict, of: str) -> dict[str, dict]:
    return {r["requirement"].split()[0]: r for r in plan["requirements"] if r["of"] == of}


# -- typed options, conditional requirements ---------------------------------------------
def xml_recipe(tmp_path: Path) -> Path:
    src = autotools_lib(tmp_path / "pkgs", "xml", "2.9.14")
    recipes = tmp_path / "r"
    recipe(recipes, "xml", f"""
        version = "2.9.14"
        requires = ["{{% if options.python %}}program:python3{{% endif %}}"]
        tools = ["program:make", "{{% if options.python %}}program:cc{{% endif %}}"]
        provides = ["pkgconfig:xml", "{{% if options.python %}}program:xml-py{{% endif %}}"]
        check = [["sh", "-c", "echo python={{{{ options.python }}}} flavour={{{{ options.flavour }}}}"]]
        [[source]]
        path = "{src}"
        [build]
        system = "autotools"
        configure_args = ["{{% if options.python %}}--with-python{{% else %}}--without-python{{% endif %}}"]
        [options.python]
        type = "bool"
        default = false
        help = "the Python bindings"
        [options.flavour]
        default = "plain"
        choices = ["plain", "fancy"]
        """)
    return recipes


def test_bool_option_drives_requirements_and_templates(sb, tmp_path):
    recipes = xml_recipe(tmp_path)
    plain = sb.plan("xml", "--recipes", str(recipes))
    keys = requirement_keys(plain, "xml")
    assert "program:python3" not in keys and "program:cc" not in keys  # dropped, not errors
    for word in ("yes", "ON", "1", "true"):
        keys = requirement_keys(sb.plan("xml", "--recipes", str(recipes), "-o",
                                        f"xml.python={word}"), "xml")
        assert "program:python3" in keys and "program:cc" in keys, word
    hashes = {sb.plan("xml", "--recipes", str(recipes), "-o", f"xml.python={w}")["steps"][0]
              ["build_hash"] for w in ("yes", "true", "on")}
    assert len(hashes) == 1  # one value, however it is spelt
    sb("xml", "--recipes", str(recipes), "-o", "xml.python=yes")
    configure = run_log(sb.cache, "xml", "configure")
    assert "--with-python" in configure and "--without-python" not in configure
    check = run_log(sb.cache, "xml", "check")
    assert "python=True flavour=plain" in check


@pytest.mark.parametrize("given, allowed", [
    ("xml.python=maybe", "true, yes, on, 1, false, no, off, 0"),
    ("xml.flavour=odd", "plain, fancy"),
    ("python=maybe", "true, yes, on, 1, false, no, off, 0"),
])
def test_bad_option_value_is_a_plan_time_error(sb, tmp_path, given, allowed):
    recipes = xml_recipe(tmp_path)
    cp = sb("plan", "xml", "--recipes", str(recipes), "-o", given, check=2)
    name, value = given.split("=")
    option = name.split(".")[-1]
    assert f"Option {option}={value!r} of recipe xml" in cp.stderr
    assert f"Allowed values: {allowed}" in cp.stderr


def test_bad_default_is_a_recipe_error(sb, tmp_path):
    recipe(tmp_path / "r", "odd", """
        version = "1"
        [[source]]
        path = "."
        [build]
        system = "custom"
        [options.x]
        type = "bool"
        default = "perhaps"
        """)
    cp = sb("plan", "odd", "--recipes", str(tmp_path / "r"), check=2)
    assert "[options.x] default = 'perhaps' is not allowed" in cp.stderr


# -- subdir --------------------------------------------------------------------------------
def test_subdir_builds_the_project_folder_with_every_default_flag(sb, tmp_path):
    """Like expat's Debian orig: the CMake project is expat/ inside the archive."""
    pkgs = tmp_path / "pkgs"
    alpha = autotools_lib(pkgs)
    outer = tmp_path / "outer" / "libgamma-R_3_0"
    app = cmake_app(outer, "gamma", dep="alpha")
    app.rename(outer / "gamma")
    (outer / "testdata").mkdir()
    archive = tmp_path / "libgamma.tar.gz"
    sha = tarball(archive, tree=outer)
    recipes = tmp_path / "r"
    recipe(recipes, "alpha", f"""
        version = "1.2.0"
        provides = ["pkgconfig:alpha"]
        [[source]]
        path = "{alpha}"
        [build]
        system = "autotools"
        """)
    recipe(recipes, "gamma", f"""
        version = "3.0"
        requires = ["pkgconfig:alpha"]
        provides = ["program:gamma"]
        check = ["gamma"]
        [[source]]
        url = "{archive.as_uri()}"
        sha256 = "{sha}"
        subdir = "gamma"
        [build]
        system = "cmake"
        """)
    sb("gamma", "--recipes", str(recipes))
    configure = run_log(sb.cache, "gamma", "configure")
    p = sb.prefix.resolve()
    assert f"-DCMAKE_INSTALL_RPATH={p}/lib" in configure
    assert f"-DCMAKE_PREFIX_PATH={p}" in configure
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    out = subprocess.run([p / "bin" / "gamma"], capture_output=True, text=True, env=env,
                         check=False)
    assert out.stdout == "gamma says 42\n", out.stderr  # the rpath finds libalpha

    bad = recipes / "gamma.toml"
    bad.write_text(bad.read_text().replace('subdir = "gamma"', 'subdir = "gama"'))
    cp = sb("gamma", "--recipes", str(recipes), check=1)
    assert "has no folder subdir = 'gama'" in cp.stderr
    assert "Its folders: gamma, testdata" in cp.stderr
    bad.write_text(bad.read_text().replace('subdir = "gama"', 'subdir = "../x"'))
    cp = sb("plan", "gamma", "--recipes", str(recipes), check=2)
    assert "must be a folder inside the archive" in cp.stderr


# -- the builders' tools -----------------------------------------------------------------
def test_builders_declare_their_tools_and_autoreconf_joins_the_plan(sb, tmp_path):
    src = autoreconf_pkg(tmp_path / "pkgs")
    recipes = tmp_path / "r"
    recipe(recipes, "zeta", f"""
        version = "0.3"
        [[source]]
        path = "{src}"
        [build]
        system = "autotools"
        autoreconf = true
        """)
    recipe(recipes, "cm", f"""
        version = "1"
        [[source]]
        path = "{src}"
        [build]
        system = "cmake"
        """)
    recipe(recipes, "own", f"""
        version = "1"
        [[source]]
        path = "{src}"
        [build]
        system = "meson"
        configure = []
        build = [["true"]]
        install = [["true"]]
        """)
    plan = sb.plan("zeta", "cm", "own", "--recipes", str(recipes))
    zeta = requirement_keys(plan, "zeta")
    for tool in ("program:make", "program:autoreconf", "program:automake", "program:aclocal",
                 "program:libtoolize", "program:m4"):
        assert zeta[tool]["tool"] is True, tool
        if shutil.which(tool.split(":")[1]) is None:  # built from the shipped recipes
            assert zeta[tool]["satisfied_by"] == "recipe", zeta[tool]
    assert zeta["program:autoreconf"]["recipe"] in ("autoconf", None)
    assert set(requirement_keys(plan, "cm")) == {"program:cmake", "program:make"}
    assert requirement_keys(plan, "own") == {}  # it gives every command itself
    doctor = sb("doctor", "zeta", "--recipes", str(recipes), check=None).stdout
    assert "[zeta]" in doctor and "autoreconf" in doctor


def test_source_without_configure_says_how_when_autoreconf_is_missing(sb, tmp_path):
    if shutil.which("autoreconf"):
        pytest.skip("this machine has autoreconf: the implicit autoreconf just runs")
    src = autoreconf_pkg(tmp_path / "pkgs")
    recipe(tmp_path / "r", "zeta", f"""
        version = "0.3"
        [[source]]
        path = "{src}"
        [build]
        system = "autotools"
        """)
    cp = sb("zeta", "--recipes", str(tmp_path / "r"), check=1)
    assert "has configure.ac but no configure script" in cp.stderr
    assert "Add `autoreconf = true` to its [build] table" in cp.stderr
    assert "cannot start autoreconf" not in cp.stderr


def test_a_recipe_s_own_copy_step_works(sb, tmp_path):
    """A recipe that gives its own configure is in charge: srcbuild makes no copy of its
    own, so `cp -a {{ source_dir }}/. {{ build_dir }}` is not 'the same file'."""
    src = autotools_lib(tmp_path / "pkgs")
    (src / "configure").rename(src / "configure.tmpl")
    (src / "configure.ac").write_text("AC_INIT([alpha], [1.2.0])\n")
    recipe(tmp_path / "r", "alpha", """
        version = "1.2.0"
        provides = ["pkgconfig:alpha"]
        [[source]]
        path = "SRC"
        [build]
        system = "autotools"
        configure = [
          ["cp", "-a", "{{ source_dir }}/.", "{{ build_dir }}"],
          ["cp", "configure.tmpl", "configure"],
          ["sh", "./configure", "--prefix={{ prefix }}"],
        ]
        """.replace("SRC", str(src)))
    sb("alpha", "--recipes", str(tmp_path / "r"))
    assert (sb.prefix / "lib" / "libalpha.so").exists()
    assert sorted(p.name for p in src.iterdir()) == [  # the source folder stays clean
        "Makefile.in", "alpha.c", "alpha.h", "alpha.pc.in", "configure.ac", "configure.tmpl"]


# -- the check environment, files/ in the build hash ---------------------------------------
def consumer_recipes(tmp_path: Path) -> Path:
    """alpha, and a group whose check compiles files/lab/main.c against alpha."""
    src = autotools_lib(tmp_path / "pkgs")
    recipes = tmp_path / "r"
    recipe(recipes, "alpha", f"""
        version = "1.2.0"
        provides = ["pkgconfig:alpha", "library:libalpha.so"]
        # the package's own check compiles against its staged header and library
        check = [["sh", "-c", "printf '#include <alpha.h>\\\\nint main(void){{return alpha_value()!=42;}}\\\\n' > t.c && cc $CPPFLAGS t.c -o t $LDFLAGS -lalpha && ./t"]]
        [[source]]
        path = "{src}"
        [build]
        system = "autotools"
        """)
    (recipes / "files" / "lab").mkdir(parents=True)
    (recipes / "files" / "lab" / "main.c").write_text(
        '#include <stdio.h>\n#include <alpha.h>\n'
        'int main(void) { printf("lab sees %d\\n", alpha_value()); return 0; }\n')
    recipe(recipes, "lab", """
        kind = "group"
        requires = ["recipe:alpha"]
        check = [["sh", "-c", "echo LDFLAGS=$LDFLAGS; echo LD_LIBRARY_PATH=$LD_LIBRARY_PATH; cc $CPPFLAGS {{ recipe_dir }}/files/lab/main.c -o lab $LDFLAGS -lalpha && env -u LD_LIBRARY_PATH ./lab"]]
        """)
    return recipes


def test_group_check_gets_the_prefix_environment_and_its_files_are_hashed(sb, tmp_path):
    recipes = consumer_recipes(tmp_path)
    sb("lab", "--recipes", str(recipes))
    p = sb.prefix.resolve()
    log = run_log(sb.cache, "lab", "check")
    assert f"LDFLAGS=-L{p}/lib -Wl,-rpath,{p}/lib" in log
    assert f"LD_LIBRARY_PATH={p}/lib:{p}/lib64" in log  # not an empty stage of the group
    assert "lab sees 42" in log  # compiled and run through the rpath alone
    # editing the check program reruns the check: the group is rebuilt, alpha is not
    main = recipes / "files" / "lab" / "main.c"
    main.write_text(main.read_text().replace("lab sees", "lab now sees"))
    actions = {s["recipe"]: s["action"] for s in sb.plan("lab", "--recipes",
                                                           str(recipes))["steps"]}
    assert actions == {"alpha": "installed", "lab": "build"}
    sb("lab", "--recipes", str(recipes))
    assert "lab now sees 42" in run_log(sb.cache, "lab", "check")


# -- uninstall --with-dependents ---------------------------------------------------------
def test_uninstall_with_dependents(sb, tmp_path):
    recipes = consumer_recipes(tmp_path)
    d = make_prog(tmp_path / "pkgs")
    delta_recipe(recipes, d)
    sb("lab", "delta", "--recipes", str(recipes))
    cp = sb("uninstall", "alpha", check=2)
    assert "delta, the group lab installed in" in cp.stderr and "were built against alpha" \
        in cp.stderr
    assert "srcbuild uninstall alpha --with-dependents" in cp.stderr
    cp = sb("uninstall", "alpha", "--with-dependents", check=2)  # no terminal: it cannot ask
    assert "Built against alpha" in cp.stdout and "delta, lab" in cp.stdout
    assert "Add --yes" in cp.stderr
    assert (sb.prefix / "lib" / "libalpha.so").exists()
    cp = sb("uninstall", "alpha", "--with-dependents", "--yes")
    assert cp.stdout.index("Removed delta") < cp.stdout.index("Removed alpha")
    assert cp.stdout.index("Removed lab") < cp.stdout.index("Removed alpha")
    assert tree(sb.prefix) == {}
