"""End to end: real packages generated in temp folders, built with the real tools."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import tarball, tree
from pkgfactory import autotools_lib, broken, chain, recipe


@pytest.fixture
def chain_recipes(tmp_path: Path) -> Path:
    return chain(tmp_path)


def run_env(prefix: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    env["PKG_CONFIG_PATH"] = f"{prefix}/lib/pkgconfig"
    return env


def test_chain_builds_in_order_and_runs(sb, chain_recipes):
    out = sb("gamma", "delta", "--recipes", str(chain_recipes))
    starts = [json.loads(l)["recipe"] for l in
              (sb.cache / "runs" / "last").read_text().splitlines()
              if json.loads(l)["event"] == "package_start"]
    assert starts.index("alpha") < starts.index("beta") < starts.index("gamma")
    assert starts.index("alpha") < starts.index("delta")
    p = sb.prefix
    for f in ("lib/libalpha.so", "lib/libbeta.so", "include/beta.h", "bin/gamma", "bin/delta",
              "lib/pkgconfig/alpha.pc", "lib/pkgconfig/beta.pc"):
        assert (p / f).exists(), f
    mod = subprocess.run(["pkg-config", "--modversion", "beta"], check=False, env=run_env(p),
                         capture_output=True, text=True)
    assert mod.stdout.strip() == "2.0.1", mod.stderr
    # rpath: the programs find the prefix's libraries without LD_LIBRARY_PATH
    g = subprocess.run([p / "bin" / "gamma"], check=False, env=run_env(p), capture_output=True,
                       text=True)
    assert g.stdout == "gamma says 43\n", g.stderr
    d = subprocess.run([p / "bin" / "delta"], check=False, env=run_env(p), capture_output=True,
                       text=True)
    assert d.stdout == "delta says 42\n", d.stderr
    # the prefix's activate script puts it first, like a virtual environment's
    got = subprocess.run(["sh", "-c", f". {p}/activate && command -v gamma"], check=False,
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert got.stdout.strip() == f"{p.resolve()}/bin/gamma"
    assert "built" in out.stderr


def test_noop_rerun_builds_nothing(sb, chain_recipes):
    sb("gamma", "--recipes", str(chain_recipes))
    state = sb.prefix / ".srcbuild" / "packages" / "alpha.json"
    before = state.stat().st_mtime_ns
    out = sb("gamma", "--recipes", str(chain_recipes))
    assert "Nothing to do" in out.stderr
    assert state.stat().st_mtime_ns == before
    plan = sb.plan("gamma", "--recipes", str(chain_recipes))
    assert [s["action"] for s in plan["steps"]] == ["installed"] * 3


def test_recipe_change_rebuilds_it_and_its_dependents(sb, chain_recipes):
    sb("gamma", "delta", "--recipes", str(chain_recipes))
    alpha = chain_recipes / "beta.toml"
    alpha.write_text(alpha.read_text().replace('system = "meson"',
                                               'system = "meson"\nconfigure_args = ["-Db_ndebug=true"]'))
    plan = sb.plan("gamma", "delta", "--recipes", str(chain_recipes))
    actions = {s["recipe"]: s["action"] for s in plan["steps"]}
    assert actions == {"alpha": "installed", "beta": "build", "gamma": "build",
                       "delta": "installed"}
    sb("gamma", "delta", "--recipes", str(chain_recipes))
    assert [s["action"] for s in sb.plan("gamma", "--recipes", str(chain_recipes))["steps"]] \
        == ["installed"] * 3


def test_failed_check_leaves_prefix_untouched(sb, chain_recipes):
    sb("alpha", "--recipes", str(chain_recipes))
    before = tree(sb.prefix)
    g = chain_recipes / "gamma.toml"
    g.write_text(g.read_text().replace('check = ["gamma"]', 'check = ["gamma", "false"]'))
    cp = sb("gamma", "--recipes", str(chain_recipes), check=1)
    # beta was merged (its check passed), gamma was not
    after = tree(sb.prefix)
    assert "bin/gamma" not in after
    assert "lib/libbeta.so" in after
    assert {k: v for k, v in after.items() if k in before} == before
    assert "check step `false` failed" in cp.stderr
    assert "--- last lines of" in cp.stderr
    log = Path(cp.stderr.split("Full log: ")[1].split()[0])
    assert log.name == "check.log" and log.exists()
    assert not (sb.prefix / ".srcbuild" / "packages" / "gamma.json").exists()


def test_failed_build_keeps_prefix_exactly(sb, tmp_path):
    recipes, src = broken(tmp_path)
    sb.prefix.mkdir()
    (sb.prefix / "keep.txt").write_text("mine")
    before = tree(sb.prefix)
    cp = sb("broken", "--recipes", str(recipes), check=1)
    assert tree(sb.prefix) == before
    assert "build step `make PREFIX=" in cp.stderr and "false # the build fails" in cp.stderr
    # the make package built in a copy: the source folder holds no object or binary
    assert sorted(p.name for p in src.iterdir()) == ["Makefile", "main.c"]


def test_checksum_mismatch_keeps_nothing(sb, tmp_path):
    path = tmp_path / "pkg-1.tar.gz"
    real = tarball(path, {"pkg-1/Makefile": b"all:\n"})
    wrong = "0" * 64
    recipe(tmp_path / "r", "pkg", f"""
        version = "1"
        [[source]]
        url = "{path.as_uri()}"
        sha256 = "{wrong}"
        [build]
        system = "make"
        """)
    cp = sb("pkg", "--recipes", str(tmp_path / "r"), check=1)
    assert f"expected sha256 {wrong}, got {real}" in cp.stderr
    assert not list((sb.cache / "sources").rglob("*.tar.gz"))


@pytest.mark.parametrize("members,links,why", [
    ({"../evil": b"x"}, None, "leaves the extraction folder"),
    ({"/etc/evil": b"x"}, None, "leaves the extraction folder"),
    ({"pkg/ok": b"x"}, {"pkg/link": "../../../etc/passwd"}, "symbolic link"),
])
def test_unsafe_archive_is_refused(sb, tmp_path, members, links, why):
    path = tmp_path / "bad.tar.gz"
    sha = tarball(path, members, links)
    recipe(tmp_path / "r", "bad", f"""
        version = "1"
        [[source]]
        url = "{path.as_uri()}"
        sha256 = "{sha}"
        [build]
        system = "make"
        """)
    cp = sb("bad", "--recipes", str(tmp_path / "r"), check=1)
    assert "unsafe" in cp.stderr and why in cp.stderr
    assert not (sb.cache / "src").exists() or not any(
        p for p in (sb.cache / "src").iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("body,needle", [
    ('version = "1"\nsourc = []\n', "unknown key 'sourc'"),
    ('version = "1"\nrequires = ["pkgconfig zlib"]\n[[source]]\npath="."\n[build]\nsystem="make"\n',
     "is not KIND:NAME"),
    ('requires = []\n', "key 'version' is missing"),
    ('name = "other"\nversion = "1"\n', "differs from the file name"),
    ('version = "1"\n[[source]]\nurl = "http://x/y.tar.gz"\n[build]\nsystem="make"\n',
     "needs sha256"),
    ('version = "1"\n[[source]]\npath = "."\n[build]\nsystem = "scons"\n', "is not one of"),
    ('version = = "1"\n', "is not valid TOML"),
    (('version = "1"\n[[source]]\npath = "."\n[build]\nsystem = "make"\n'
      'make_args = ["{{ nope }}"]\n'), "'nope' is undefined"),
])
def test_bad_recipe_errors_name_file_and_key(sb, tmp_path, body, needle):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "thing.toml").write_text(body)
    cp = sb("thing", "--recipes", str(tmp_path / "r"), check=2)
    assert needle in cp.stderr
    assert "thing" in cp.stderr
    assert cp.stderr.count("\n") <= 3, cp.stderr  # one paragraph, no traceback


def test_unsatisfiable_requirement_exits_3(sb, tmp_path):
    recipe(tmp_path / "r", "needy", """
        version = "1"
        requires = ["pkgconfig:no-such-module-srcbuild >= 1"]
        [[source]]
        path = "."
        [build]
        system = "make"
        """)
    cp = sb("needy", "--recipes", str(tmp_path / "r"), check=3)
    assert "pkgconfig:no-such-module-srcbuild >= 1 (needed by needy)" in cp.stderr


def test_cycle_is_named(sb, tmp_path):
    for a, b in (("one", "two"), ("two", "one")):
        recipe(tmp_path / "r", a, f"""
            version = "1"
            requires = ["recipe:{b}"]
            [[source]]
            path = "."
            [build]
            system = "make"
            """)
    cp = sb("one", "--recipes", str(tmp_path / "r"), check=2)
    assert "cycle: one -> two -> one" in cp.stderr


def test_uninstall_removes_exactly_its_files(sb, chain_recipes):
    sb.prefix.mkdir()
    (sb.prefix / "lib").mkdir()
    (sb.prefix / "lib" / "foreign.txt").write_text("not ours")
    sb("delta", "--recipes", str(chain_recipes))
    with_alpha = tree(sb.prefix)
    cp = sb("uninstall", "alpha", check=2)
    assert "delta" in cp.stderr  # delta was built against alpha
    sb("uninstall", "delta")
    assert "bin/delta" not in tree(sb.prefix)
    sb("uninstall", "alpha")
    left = tree(sb.prefix)
    assert left == {"lib": b"<dir>", "lib/foreign.txt": b"not ours"}
    assert "lib/libalpha.so" in with_alpha


def test_hard_links_stay_hard_links_in_the_prefix(sb, tmp_path):
    # binutils installs ld, ld.bfd, TARGET-ld and TARGET/bin/ld as one file
    src = tmp_path / "src"
    src.mkdir()
    (src / "install.sh").write_text(
        'set -e; mkdir -p "$1/bin" "$1/t/bin"\n'
        'printf "#!/bin/sh\\necho ld\\n" > "$1/bin/ld"; chmod 755 "$1/bin/ld"\n'
        'ln "$1/bin/ld" "$1/bin/ld.bfd"; ln "$1/bin/ld" "$1/t/bin/ld"; printf x > "$1/bin/other"\n')
    recipe(tmp_path / "r", "linked", f"""
        version = "1"
        [[source]]
        path = "{src}"
        [build]
        system = "custom"
        install = [["sh", "{{{{ source_dir }}}}/install.sh", "{{{{ stage }}}}"]]
        """)
    sb("linked", "--recipes", str(tmp_path / "r"))
    names = [sb.prefix / "bin" / "ld", sb.prefix / "bin" / "ld.bfd",
             sb.prefix / "t" / "bin" / "ld"]
    inodes = {os.stat(n).st_ino for n in names}
    assert len(inodes) == 1 and os.stat(names[0]).st_nlink == 3
    assert os.stat(sb.prefix / "bin" / "other").st_ino not in inodes
    assert subprocess.run([names[1]], capture_output=True, text=True, check=True).stdout == "ld\n"
    sb("uninstall", "linked")
    assert not any(n.exists() for n in names)


def test_env_prints_prefix_first_exports(sb):
    out = sb("env").stdout
    assert f'export PATH={sb.prefix.resolve()}/bin"${{PATH:+:$PATH}}"' in out
    assert f"{sb.prefix.resolve()}/lib/pkgconfig" in out
    got = subprocess.run(["sh", "-c", out + 'echo "$PATH"'], check=False, capture_output=True,
                         text=True,
                         env={"PATH": "/usr/bin:/bin"}).stdout
    assert got.strip() == f"{sb.prefix.resolve()}/bin:/usr/bin:/bin"


def test_plan_json_shape(sb, chain_recipes):
    recipe(chain_recipes, "zuser", """
        version = "1"
        requires = ["pkgconfig:zlib", "recipe:alpha"]
        [[source]]
        path = "."
        [build]
        system = "make"
        """)
    plan = sb.plan("zuser", "--recipes", str(chain_recipes))
    assert [(s["recipe"], s["action"]) for s in plan["steps"]] == [
        ("alpha", "build"), ("zuser", "build")]
    by = {r["requirement"]: r for r in plan["requirements"]}
    assert by["pkgconfig:zlib"]["satisfied_by"] == "system"
    assert by["pkgconfig:zlib"]["where"].endswith("zlib.pc")
    assert by["recipe:alpha"]["satisfied_by"] == "recipe"
    assert set(plan["steps"][0]) >= {"recipe", "version", "action"}
    assert set(plan["requirements"][0]) >= {"requirement", "of", "satisfied_by", "version",
                                            "where"}


def test_from_source_overrides_the_system(sb, tmp_path):
    src = autotools_lib(tmp_path / "pk", "zlib", "9.9.9")
    recipe(tmp_path / "r", "myzlib", f"""
        version = "9.9.9"
        provides = ["pkgconfig:zlib"]
        [[source]]
        path = "{src}"
        [build]
        system = "autotools"
        """)
    recipe(tmp_path / "r", "app", """
        version = "1"
        requires = ["pkgconfig:zlib >= 1.2"]
        [[source]]
        path = "."
        [build]
        system = "custom"
        """)
    plan = sb.plan("app", "--recipes", str(tmp_path / "r"))
    assert plan["requirements"][0]["satisfied_by"] == "system"
    plan = sb.plan("app", "--recipes", str(tmp_path / "r"), "--from-source", "myzlib")
    assert plan["requirements"][0]["satisfied_by"] == "recipe"
    assert [s["recipe"] for s in plan["steps"]] == ["myzlib", "app"]
    # a target the system already satisfies is skipped, unless asked
    step = sb.plan("myzlib", "--recipes", str(tmp_path / "r"))["steps"][0]
    assert step["action"] == "skip" and "zlib.pc" in step["reason"]
    step = sb.plan("myzlib", "--recipes", str(tmp_path / "r"), "--from-source", "myzlib")["steps"][0]
    assert step["action"] == "build"


def test_second_run_waits_for_the_first(sb, chain_recipes, tmp_path):
    from srcbuild.errors import InstallError
    from srcbuild.state import prefix_lock
    with prefix_lock(sb.prefix):
        with pytest.raises(InstallError, match="Another srcbuild run"), \
                prefix_lock(sb.prefix, wait=False):
            pass
        proc = sb.popen("alpha", "--recipes", str(chain_recipes))
        assert proc.stderr is not None
        seen = ""
        # its first line says it waits (no fixed sleep: a loaded machine starts it late)
        while "waiting for it to finish" not in seen and proc.poll() is None:
            seen += proc.stderr.readline()
        assert proc.poll() is None  # still waiting on the lock
        assert not (sb.prefix / "lib" / "libalpha.so").exists()
    err = seen + proc.communicate(timeout=120)[1]
    assert proc.returncode == 0
    assert "waiting for it to finish" in err
    assert (sb.prefix / "lib" / "libalpha.so").exists()


def test_a_tool_this_graph_installs_beats_the_systems_copy(sb, tmp_path):
    """A second run is a no-op even when a recipe of the graph installs a program the system
    also has: the prefix's copy (first on PATH) is the one the build uses, in both runs."""
    sysbin = tmp_path / "sysbin"
    sysbin.mkdir()
    (sysbin / "sbtool").write_text("#!/bin/sh\necho system\n")
    (sysbin / "sbtool").chmod(0o755)
    env = {"PATH": f"{sysbin}:{os.environ['PATH']}"}
    recipe(tmp_path / "r", "tool", """
        version = "2"
        provides = ["program:sbtool"]
        [[source]]
        path = "."
        [build]
        system = "custom"
        install = [["sh", "-c", "mkdir -p {{ stage }}/bin && printf '#!/bin/sh\\\\necho prefix\\\\n' > {{ stage }}/bin/sbtool && chmod +x {{ stage }}/bin/sbtool"]]
        """)
    recipe(tmp_path / "r", "user", """
        version = "1"
        requires = ["program:sbtool"]
        [[source]]
        path = "."
        [build]
        system = "custom"
        build = [["sh", "-c", "sbtool > used.txt"]]
        install = [["sh", "-c", "mkdir -p {{ stage }}/share && cp used.txt {{ stage }}/share/"]]
        """)
    recipe(tmp_path / "r", "both", """
        kind = "group"
        requires = ["recipe:user", "recipe:tool"]
        """)
    plan = json.loads(sb("plan", "both", "--recipes", str(tmp_path / "r"), "--json",
                         env=env).stdout)
    by = {r["requirement"]: r for r in plan["requirements"]}
    assert by["program:sbtool"]["satisfied_by"] == "recipe"
    assert str(sysbin) in by["program:sbtool"]["reason"]
    order = [s["recipe"] for s in plan["steps"]]
    assert order.index("tool") < order.index("user")
    sb("both", "--recipes", str(tmp_path / "r"), env=env)
    assert (sb.prefix / "share" / "used.txt").read_text() == "prefix\n"
    again = sb("both", "--recipes", str(tmp_path / "r"), env=env)
    assert "Nothing to do" in again.stderr, again.stderr
