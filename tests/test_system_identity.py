"""What the system provides enters the build hash: a private pkg-config folder whose module
(a real .pc and a real tiny library) the test changes under installed packages."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from pkgfactory import make_tree, recipe

from srcbuild import lockfile

TINYZ_C = "int tinyz_value(void) {{ return {value}; }}\n{extra}"


def tinyz(system: Path, version: str, value: int, extra: str = "") -> Path:
    """A pkg-config module ``tinyz`` in ``system/pkgconfig``: libtinyz.so.1.0 (SONAME
    libtinyz.so.1, with the usual two links) compiled now, and its .pc at ``version``."""
    lib, pc = system / "lib", system / "pkgconfig"
    lib.mkdir(parents=True, exist_ok=True)
    pc.mkdir(parents=True, exist_ok=True)
    (lib / "tinyz.c").write_text(TINYZ_C.format(value=value, extra=extra))
    subprocess.run(["cc", "-fPIC", "-shared", "-Wl,-soname,libtinyz.so.1", "-o",
                    str(lib / "libtinyz.so.1.0.new"), str(lib / "tinyz.c")], check=True)
    (lib / "libtinyz.so.1.0.new").replace(lib / "libtinyz.so.1.0")  # as dpkg does: a rename
    for link in ("libtinyz.so.1", "libtinyz.so"):
        if not (lib / link).is_symlink():
            (lib / link).symlink_to("libtinyz.so.1.0")
    (pc / "tinyz.pc").write_text(
        f"libdir={lib}\nName: tinyz\nDescription: a tiny system library\nVersion: {version}\n"
        "Libs: -L${libdir} -Wl,-rpath,${libdir} -ltinyz\n")
    return pc


def graph(root: Path) -> Path:
    """``user`` links tinyz; ``top`` requires user; ``other`` needs neither."""
    pkgs, recipes = root / "pkgs", root / "recipes"
    install = "install: {0}\n\tmkdir -p $(DESTDIR)$(PREFIX)/bin\n\tcp {0} $(DESTDIR)$(PREFIX)/bin/\n"
    user = make_tree(pkgs, "user", {
        "Makefile": "all: user\nuser: main.c\n"
                    "\t$(CC) -o $@ main.c $$(pkg-config --libs tinyz)\n" + install.format("user"),
        "main.c": '#include <stdio.h>\nint tinyz_value(void);\n'
                  'int main(void) { printf("user %d\\n", tinyz_value()); return 0; }\n'})
    plain = {"Makefile": "all:\n\ttrue\ninstall:\n\tmkdir -p $(DESTDIR)$(PREFIX)/share/{0}\n"
                         "\techo {0} > $(DESTDIR)$(PREFIX)/share/{0}/note\n"}
    for name, src, requires in (
            ("user", user, '["pkgconfig:tinyz"]'),
            ("top", make_tree(pkgs, "top", {"Makefile": plain["Makefile"].format("top")}),
             '["recipe:user"]'),
            ("other", make_tree(pkgs, "other", {"Makefile": plain["Makefile"].format("other")}),
             "[]")):
        recipe(recipes, name, f"""
            version = "1.0"
            requires = {requires}
            [[source]]
            path = "{src}"
            [build]
            system = "make"
            """)
    return recipes


def steps(sb, recipes: Path, env: dict[str, str]) -> dict[str, dict]:
    cp = sb("plan", "top", "other", "--recipes", str(recipes), "--json", env=env)
    return {s["recipe"]: s for s in json.loads(cp.stdout)["steps"]}


def test_a_system_library_change_rebuilds_exactly_its_dependents(sb, tmp_path):
    system = tmp_path / "system"
    pc = tinyz(system, "1.0", 1)
    env = {"PKG_CONFIG_PATH": str(pc)}
    recipes = graph(tmp_path)
    sb("top", "other", "--recipes", str(recipes), env=env)
    lock = tmp_path / "srcbuild.lock"
    lock.write_text(sb("lock", "top", "other", "--recipes", str(recipes), env=env).stdout)
    first = steps(sb, recipes, env)
    assert {s["action"] for s in first.values()} == {"installed"}
    entry = next(s for s in json.loads(lock.read_text())["system"]
                 if s["requirement"] == "pkgconfig:tinyz")
    assert [f["path"] for f in entry["files"]] == [str(pc / "tinyz.pc"),
                                                   str(system / "lib" / "libtinyz.so.1.0")]

    # the same version, another library (a security update): user and top rebuild
    tinyz(system, "1.0", 1, extra="int tinyz_more[4096] = {1};\n")
    second = steps(sb, recipes, env)
    assert {n: s["action"] for n, s in second.items()} == {
        "user": "build", "top": "build", "other": "installed"}
    assert second["other"]["build_hash"] == first["other"]["build_hash"]
    assert second["user"]["build_hash"] != first["user"]["build_hash"]
    assert second["top"]["build_hash"] != first["top"]["build_hash"]
    assert second["user"]["reason"].startswith(
        f"rebuild: the system's tinyz changed: {system / 'lib' / 'libtinyz.so.1.0'} changed "
        "(size "), second["user"]["reason"]
    assert second["top"]["reason"] == "rebuild: user will be rebuilt"
    out = sb("install", "--locked", str(lock), "--recipes", str(recipes), env=env, check=2)
    assert "[system] system pkgconfig:tinyz (needed by user): same version 1.0, but " \
           f"{system / 'lib' / 'libtinyz.so.1.0'} changed (size " in out.stderr, out.stderr

    # a lock of format 1 has no files: the same version is no drift
    old = json.loads(lock.read_text())
    old["format"] = 1
    for s in old["system"]:
        del s["files"]
    fresh = json.loads(sb("lock", "top", "other", "--recipes", str(recipes), env=env).stdout)
    assert [d.kind for d in lockfile.compare(old, fresh)] == []
    assert [d.subject for d in lockfile.compare(json.loads(lock.read_text()), fresh)] == [
        "pkgconfig:tinyz"]

    sb("top", "other", "--recipes", str(recipes), env=env)
    assert {s["action"] for s in steps(sb, recipes, env).values()} == {"installed"}
    run = subprocess.run([sb.prefix / "bin" / "user"], capture_output=True, text=True,
                         check=False)
    assert run.stdout == "user 1\n", run.stdout + run.stderr

    # a version bump: named as such, in the plan and as drift from the lock
    tinyz(system, "1.1", 2)
    third = steps(sb, recipes, env)
    assert third["user"]["reason"] == "rebuild: the system's tinyz changed: version 1.0 -> 1.1"
    assert third["other"]["action"] == "installed"
    out = sb("install", "--locked", str(lock), "--recipes", str(recipes), env=env, check=2)
    assert "system pkgconfig:tinyz (needed by user) is at version 1.1" in out.stderr, out.stderr


def test_library_files_follow_an_ld_script_and_describe_says_what_changed(tmp_path):
    """libfoo.so as some distributions ship it, an ld script naming the real library and
    another -l: the identity has the script and both libraries it links."""
    from srcbuild.identity import describe_change, library_files, stat_id

    (tmp_path / "libfoo.so.3").write_bytes(b"\x7fELF not really")
    (tmp_path / "libbar.so").write_bytes(b"\x7fELF nor this")
    (tmp_path / "libfoo.so").write_text("/* GNU ld script */\nINPUT(libfoo.so.3 -lbar)\n")
    files = library_files(f"-L{tmp_path} -lfoo", dict)  # an empty ld.so cache
    assert files == [str(tmp_path / n) for n in ("libfoo.so", "libfoo.so.3", "libbar.so")]
    old = {"version": "3", "files": [stat_id(f).to_json() for f in files]}
    (tmp_path / "libbar.so").write_bytes(b"\x7fELF nor this, longer")
    new = {"version": "3", "files": [stat_id(f).to_json() for f in files]}
    assert describe_change(old, new) == f"{tmp_path / 'libbar.so'} changed (size 13 -> 21" + (
        ", modified)" if old["files"][2]["mtime_ns"] != new["files"][2]["mtime_ns"] else ")")
    assert describe_change(old, {**new, "version": "4"}) == "version 3 -> 4"


def program_user(root: Path, tool: str, wants: str) -> tuple[Path, Path, dict[str, str]]:
    """A system program ``tool`` (a script in ``root/tools``: write its --version line with
    says()) and a make package ``user-of-TOOL`` requiring ``program:TOOL WANTS`` whose
    install runs it; the script, the recipe folder and the environment with it on PATH."""
    tools = root / "tools"
    tools.mkdir()
    name = f"user-of-{tool}"
    src = make_tree(root / "pkgs", name, {
        "Makefile": f"all:\n\ttrue\ninstall:\n\tmkdir -p $(DESTDIR)$(PREFIX)/share/{name}\n"
                    f"\t{tool} > $(DESTDIR)$(PREFIX)/share/{name}/seen\n"})
    recipes = root / "recipes"
    recipe(recipes, name, f"""
        version = "1.0"
        requires = ["program:{tool} {wants}"]
        [[source]]
        path = "{src}"
        [build]
        system = "make"
        """)
    return tools / tool, recipes, {"PATH": f"{tools}:{os.environ['PATH']}"}


def says(script: Path, line: bytes) -> None:
    script.write_bytes(b"#!/bin/sh\nprintf '%s\\n' '" + line + b"'\n")
    script.chmod(0o755)


def test_a_system_program_s_version_is_read_anew_on_every_run(sb, tmp_path):
    """api.resolve starts ``--version`` of the programs the records name before the recipes
    load (probes.SystemProbe.expect); what it reads is still the program's answer of now,
    not the version the record holds."""
    tool, recipes, env = program_user(tmp_path, "tinytool", ">= 1.2")
    says(tool, b"tinytool 1.4")
    sb("user-of-tinytool", "--recipes", str(recipes), env=env)
    record = json.loads(
        (sb.prefix / ".srcbuild" / "packages" / "user-of-tinytool.json").read_text())
    assert record["system"]["program:tinytool"]["version"] == "1.4"
    assert (sb.prefix / "share" / "user-of-tinytool" / "seen").read_text() == "tinytool 1.4\n"

    says(tool, b"tinytool 1.1")  # too old now: the plan must say so, whatever the record says
    plan = json.loads(sb("plan", "user-of-tinytool", "--recipes", str(recipes), "--json",
                         env=env, check=None).stdout)
    seen = next(r for r in plan["requirements"] if r["requirement"] == "program:tinytool >= 1.2")
    assert seen["satisfied_by"] == "missing" and "1.1" in json.dumps(seen), seen
    says(tool, b"tinytool 1.3")  # new enough again: a rebuild that names the version
    plan = json.loads(sb("plan", "user-of-tinytool", "--recipes", str(recipes), "--json",
                         env=env).stdout)
    step = next(s for s in plan["steps"] if s["recipe"] == "user-of-tinytool")
    assert step["action"] == "build", step
    assert "version 1.4 -> 1.3" in step["reason"], step


def test_a_program_whose_version_line_is_not_utf8_is_still_read(sb, tmp_path):
    """``--version`` output is bytes: a tool printing Latin-1 (or garbage) around its version
    once stopped every plan with a UnicodeDecodeError traceback; now its version is read,
    both when the resolver starts it and when a record had it started early."""
    tool, recipes, env = program_user(tmp_path, "oddtool", ">= 2.5")
    says(tool, b"oddtool \xff\xfe (c) S\xe9bastien 2.5.1")
    for _ in range(2):  # before the install (asked when needed), after it (started early)
        plan = json.loads(sb("plan", "user-of-oddtool", "--recipes", str(recipes), "--json",
                             env=env).stdout)
        seen = next(r for r in plan["requirements"]
                    if r["requirement"].startswith("program:oddtool"))
        assert (seen["satisfied_by"], seen["version"]) == ("system", "2.5.1"), seen
        sb("user-of-oddtool", "--recipes", str(recipes), env=env)
