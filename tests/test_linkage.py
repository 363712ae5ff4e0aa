"""The linkage audit: real packages built and staged, then refused or merged; the pure rules
with fakes beside them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import tree
from pkgfactory import automagic_prog, autotools_lib, make_tree, recipe

from srcbuild import bincache
from srcbuild.elfload import (
    Elf,
    Found,
    Layout,
    Link,
    Loader,
    elf_header,
    expand,
    host_loader,
    parse_ld_so_help,
    read_elf,
    search_path,
)
from srcbuild.entrycheck import tree_entries
from srcbuild.identity import parse_libs
from srcbuild.linkage import (
    Policy,
    audit_tree,
    classify,
    installed_linkage,
)
from srcbuild.state import PrefixState
from srcbuild.sysdeps import parse_dpkg_search

needs_zlib = pytest.mark.skipif(
    subprocess.run(["pkg-config", "--exists", "zlib"], check=False).returncode != 0,
    reason="zlib's .pc is not installed (apt-get install zlib1g-dev)")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}


def alpha_recipe(pkgs: Path, recipes: Path) -> None:
    src = autotools_lib(pkgs)
    recipe(recipes, "alpha", f"""
        version = "1.2.0"
        provides = ["pkgconfig:alpha", "library:libalpha.so"]
        [[source]]
        path = "{src}"
        [build]
        system = "autotools"
        """)


def omega_recipe(recipes: Path, src: Path, extra: str = "") -> None:
    recipe(recipes, "omega", f"""
        version = "1.0"
        provides = ["program:omega"]
        {extra}
        [[source]]
        path = "{src}"
        [build]
        system = "autotools"
        """)


# -- end to end ----------------------------------------------------------------------------------
@needs_zlib
def test_automagic_zlib_is_refused_before_the_merge(sb, tmp_path):
    pkgs, recipes = tmp_path / "pkgs", tmp_path / "recipes"
    alpha_recipe(pkgs, recipes)
    omega_recipe(recipes, automagic_prog(pkgs))
    sb("alpha", "--recipes", str(recipes))
    before = tree(sb.prefix)
    state_before = sorted(p.name for p in (sb.prefix / ".srcbuild" / "packages").iterdir())

    out = sb("omega", "--recipes", str(recipes), check=1)

    assert tree(sb.prefix) == before
    assert sorted(p.name for p in (sb.prefix / ".srcbuild" / "packages").iterdir()) == \
        state_before
    err = out.stderr
    assert "bin/omega" in err and "libz.so.1" in err, err
    assert "zlib1g" in err, err  # the distribution package (dpkg -S, else the sysdeps map)
    assert 'requires = ["pkgconfig:zlib"]' in err, err  # cure 1
    assert "configure arguments" in err, err  # cure 2
    assert 'allow_undeclared = ["libz.so.1"]' in err, err


@needs_zlib
@pytest.mark.parametrize("extra", ['requires = ["pkgconfig:zlib"]',
                                   'allow_undeclared = ["libz.so.*"]'])
def test_declared_or_allowed_zlib_installs(sb, tmp_path, extra):
    pkgs, recipes = tmp_path / "pkgs", tmp_path / "recipes"
    omega_recipe(recipes, automagic_prog(pkgs), extra)
    events = [json.loads(line) for line in
              sb("omega", "--recipes", str(recipes), "--json").stdout.splitlines()]
    steps = [(e["event"], e["step"]) for e in events if e["event"] in ("step_start", "step_end")]
    assert steps[-6:] == [("step_start", "install"), ("step_end", "install"),
                          ("step_start", "audit"), ("step_end", "audit"),
                          ("step_start", "merge"), ("step_end", "merge")], steps
    audit = next(e for e in events if e["event"] == "step_end" and e["step"] == "audit")
    assert audit["ok"] is True and audit["files"] == 1 and audit["seconds"] >= 0
    run = subprocess.run([sb.prefix / "bin" / "omega"], check=False, capture_output=True, text=True,
                         env=clean_env())
    assert run.stdout.startswith("omega with zlib "), run.stdout + run.stderr
    lines = installed_linkage(sb.prefix.resolve(), "omega", PrefixState(sb.prefix.resolve()))
    libz = [line for line in lines if line.needed == "libz.so.1"]
    assert libz and libz[0].provider.startswith("system "), lines

    shown = sb("info", "omega", "--recipes", str(recipes)).stdout  # with --prefix
    allowed = "libz.so.*" if "allow_undeclared" in extra else "-"
    assert f"allow_undeclared: {allowed}\n" in shown, shown
    assert "\nlinkage:\n  bin/omega\n" in shown, shown
    assert f"    libz.so.1 -> {libz[0].path} ({libz[0].provider})\n" in shown, shown
    data = json.loads(sb("info", "omega", "--recipes", str(recipes), "--json").stdout)
    assert {"file": "bin/omega", "needed": "libz.so.1", "path": libz[0].path,
            "provider": libz[0].provider} in data["linkage"]
    elsewhere = json.loads(sb("info", "omega", "--recipes", str(recipes), "--json",
                              prefix=tmp_path / "empty").stdout)
    assert "linkage" not in elsewhere  # not installed there


@needs_zlib
def test_a_restored_stage_is_audited_before_its_merge(sb, tmp_path):
    """A binary cache entry whose program links zlib undeclared, as a srcbuild without the
    audit would have stored it (written here with bincache, under the build hash the plan
    gives): the restore is refused before the merge, as a build would be."""
    pkgs, recipes = tmp_path / "pkgs", tmp_path / "recipes"
    src = automagic_prog(pkgs)
    omega_recipe(recipes, src)
    key = sb.plan("omega", "--recipes", str(recipes))["steps"][0]["build_hash"]
    stage = tmp_path / "entry"
    (stage / "bin").mkdir(parents=True)
    subprocess.run(["cc", "-DHAVE_ZLIB", "-o", str(stage / "bin" / "omega"), str(src / "main.c"),
                    "-lz"], check=True)
    archive, cache = tmp_path / "entry.tar.gz", tmp_path / "bincache"
    cache.mkdir()
    files = bincache.pack(stage, archive, 0)
    bincache.LocalDirCache(cache).put(key, archive, bincache.manifest(
        "omega", "1.0", key, archive, files, {}, tree_entries(stage)))

    out = sb("omega", "--recipes", str(recipes), "--binary-cache", str(cache), "--json",
             check=1)
    events = [json.loads(line) for line in out.stdout.splitlines()]
    seen = [(e["event"], e.get("step")) for e in events if e.get("recipe") == "omega"]
    assert seen.index(("cache_hit", None)) < seen.index(("step_start", "audit")), seen
    assert ("step_start", "merge") not in seen, seen
    audit = next(e for e in events if e["event"] == "step_end" and e["step"] == "audit")
    assert audit["ok"] is False and audit["files"] == 1
    assert not (sb.prefix / "bin" / "omega").exists()
    assert "libz.so.1" in out.stderr and "the prefix" in out.stderr, out.stderr


def test_prefix_cxx_origin_and_plugin_packages_pass(sb, tmp_path):
    """Four packages that link only what they may: the prefix's alpha, the C++ runtime,
    libraries found through $ORIGIN, and a plugin with no DT_NEEDED on its host."""
    pkgs, recipes = tmp_path / "pkgs", tmp_path / "recipes"
    alpha_recipe(pkgs, recipes)
    user = make_tree(pkgs, "user", {
        "Makefile": "all: user\nuser: main.c\n"
                    "\t$(CC) $(CPPFLAGS) -o $@ main.c $(LDFLAGS) -lalpha\n"
                    "install: user\n\tmkdir -p $(DESTDIR)$(PREFIX)/bin\n"
                    "\tcp user $(DESTDIR)$(PREFIX)/bin/\n",
        "main.c": '#include <stdio.h>\n#include "alpha.h"\n'
                  'int main(void) { printf("user %d\\n", alpha_value()); return 0; }\n'})
    cxx = make_tree(pkgs, "cxx", {
        "Makefile": "all: cxx\ncxx: main.cpp\n\t$(CXX) -o $@ main.cpp $(LDFLAGS)\n"
                    "install: cxx\n\tmkdir -p $(DESTDIR)$(PREFIX)/bin\n"
                    "\tcp cxx $(DESTDIR)$(PREFIX)/bin/\n",
        "main.cpp": "#include <iostream>\n#include <string>\n"
                    'int main() { std::string s("cxx"); std::cout << s << " ok" << std::endl; }\n'})
    # no $(LDFLAGS): the only way to the libraries is $ORIGIN
    origin = make_tree(pkgs, "origin", {
        "Makefile": "all: tool\n"
                    "libinner.so: inner.c\n"
                    "\t$(CC) -fPIC -shared -Wl,-soname,libinner.so.1 -o $@ inner.c\n"
                    "\tln -sf libinner.so libinner.so.1\n"
                    "libouter.so: outer.c libinner.so\n"
                    "\t$(CC) -fPIC -shared -Wl,-soname,libouter.so -o $@ outer.c -L. -linner"
                    " -Wl,-rpath,'$$ORIGIN/..'\n"
                    "tool: main.c libouter.so\n"
                    "\t$(CC) -o $@ main.c -L. -louter -Wl,-rpath-link,."
                    " -Wl,-rpath,'$$ORIGIN/../lib/extra'\n"
                    "install: tool\n"
                    "\tmkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/extra\n"
                    "\tcp libinner.so $(DESTDIR)$(PREFIX)/lib/libinner.so.1\n"
                    "\tcp libouter.so $(DESTDIR)$(PREFIX)/lib/extra/\n"
                    "\tcp tool $(DESTDIR)$(PREFIX)/bin/\n",
        "inner.c": "int inner(void) { return 5; }\n",
        "outer.c": "int inner(void);\nint outer(void) { return inner() + 1; }\n",
        "main.c": '#include <stdio.h>\nint outer(void);\n'
                  'int main(void) { printf("tool %d\\n", outer()); return 0; }\n'})
    plugin = make_tree(pkgs, "plugin", {
        "Makefile": "all: host plugin.so\n"
                    "host: host.c\n\t$(CC) -rdynamic -DDIR='\"$(PREFIX)/lib/host\"' -o $@ host.c"
                    " $(LDFLAGS)\n"
                    "plugin.so: plugin.c\n\t$(CC) -fPIC -shared -o $@ plugin.c\n"
                    "install: all\n"
                    "\tmkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/host\n"
                    "\tcp host $(DESTDIR)$(PREFIX)/bin/\n"
                    "\tcp plugin.so $(DESTDIR)$(PREFIX)/lib/host/\n",
        "host.c": '#include <dlfcn.h>\n#include <stdio.h>\n'
                  "int host_value(void) { return 6; }\n"
                  "int main(void) {\n"
                  '  void *h = dlopen(DIR "/plugin.so", RTLD_NOW);\n'
                  '  if (!h) { puts(dlerror()); return 1; }\n'
                  '  int (*f)(void) = (int (*)(void))dlsym(h, "plugin_value");\n'
                  '  printf("plugin %d\\n", f());\n  return 0;\n}\n',
        "plugin.c": "int host_value(void);\n"
                    "int plugin_value(void) { return host_value() + 1; }\n"})
    for name, src, requires in (("user", user, '["pkgconfig:alpha"]'), ("cxx", cxx, "[]"),
                                ("origin", origin, "[]"), ("plugin", plugin, "[]")):
        recipe(recipes, name, f"""
            version = "1.0"
            requires = {requires}
            [[source]]
            path = "{src}"
            [build]
            system = "make"
            """)

    sb("user", "cxx", "origin", "plugin", "--recipes", str(recipes))

    prefix = sb.prefix.resolve()
    outputs = {name: subprocess.run([prefix / "bin" / name], check=False, capture_output=True,
                                    text=True, env=clean_env()).stdout
               for name in ("user", "cxx", "tool", "host")}
    assert outputs == {"user": "user 42\n", "cxx": "cxx ok\n", "tool": "tool 6\n",
                       "host": "plugin 7\n"}
    state = PrefixState(prefix)
    user_links = {line.needed: line for line in installed_linkage(prefix, "user", state)}
    assert user_links["libalpha.so"].provider == "prefix alpha"
    cxx_needed = {line.needed for line in installed_linkage(prefix, "cxx", state)}
    assert "libstdc++.so.6" in cxx_needed
    origin_links = {(line.file, line.needed): line.path
                    for line in installed_linkage(prefix, "origin", state)}
    assert origin_links[("bin/tool", "libouter.so")] == f"{prefix}/lib/extra/libouter.so"
    assert origin_links[("lib/extra/libouter.so", "libinner.so.1")] == \
        f"{prefix}/lib/libinner.so.1"
    plugin_needed = {line.needed for line in installed_linkage(prefix, "plugin", state)
                     if line.file == "lib/host/plugin.so"}
    assert plugin_needed <= {"libc.so.6"}


def test_a_library_the_loader_cannot_find_is_refused(sb, tmp_path):
    pkgs, recipes = tmp_path / "pkgs", tmp_path / "recipes"
    src = make_tree(pkgs, "lonely", {
        "Makefile": "all: lonely\nlibgone.so: gone.c\n\t$(CC) -fPIC -shared -o $@ gone.c\n"
                    "lonely: main.c libgone.so\n\t$(CC) -o $@ main.c -L. -lgone $(LDFLAGS)\n"
                    "install: lonely\n\tmkdir -p $(DESTDIR)$(PREFIX)/bin\n"
                    "\tcp lonely $(DESTDIR)$(PREFIX)/bin/\n",
        "gone.c": "int gone(void) { return 1; }\n",
        "main.c": "int gone(void);\nint main(void) { return gone() - 1; }\n"})
    recipe(recipes, "lonely", f"""
        version = "1.0"
        [[source]]
        path = "{src}"
        [build]
        system = "make"
        """)
    out = sb("lonely", "--recipes", str(recipes), check=1)
    assert "libgone.so: not found by the loader" in out.stderr, out.stderr
    assert "bin/lonely" in out.stderr
    assert not (sb.prefix / "bin" / "lonely").exists()


# -- the pure rules, with fakes --------------------------------------------------------------
LOADER = Loader((64, True, 62), {"libz.so.1": ("/lib/x86_64-linux-gnu/libz.so.1",)},
                ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"), "lib/x86_64-linux-gnu",
                "x86_64")


def test_expand_and_search_order():
    assert expand("$ORIGIN/../$LIB:${PLATFORM}", "/p/bin", LOADER) == \
        "/p/bin/../lib/x86_64-linux-gnu:x86_64"
    assert expand("$ORIGINAL", "/p/bin", LOADER) == "$ORIGINAL"
    both = Elf((64, True, 62), 3, ("libx.so",), rpath=("/r",), runpath=("/u", "$ORIGIN"))
    # RPATH is ignored when RUNPATH is present
    assert search_path(both, "/p/lib", LOADER) == [("/u", "RUNPATH"), ("/p/lib", "RUNPATH")]
    only = Elf((64, True, 62), 3, ("libx.so",), rpath=("$ORIGIN/../lib",))
    assert search_path(only, "/p/bin", LOADER) == [("/p/lib", "RPATH")]


def test_classify_rules(tmp_path):
    layout = Layout(tmp_path / "prefix", tmp_path / "dest")
    p = str(layout.prefix)
    policy = Policy(frozenset({"glib"}), {"libz": "pkgconfig:zlib"}, ("libjpeg.so.*",),
                    {"lib/libglib-2.0.so.0": "glib", "lib/libold.so.1": "old"})

    def status(needed: str, path: str | None, found: Found) -> str:
        return classify("bin/x", Link(needed, path, found, "RUNPATH"), policy, layout).status

    assert status("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6", "system") == "baseline"
    assert status("libstdc++.so.6", "/usr/lib/x/libstdc++.so.6", "system") == "baseline"
    assert status("ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2", "system") == "baseline"
    assert status("libmine.so.1", f"{p}/lib/libmine.so.1", "stage") == "stage"
    assert status("libglib-2.0.so.0", f"{p}/lib/libglib-2.0.so.0", "prefix") == "prefix"
    assert status("libold.so.1", f"{p}/lib/libold.so.1", "prefix") == "foreign"
    assert status("libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1", "system") == "declared"
    assert status("libjpeg.so.62", "/lib/x86_64-linux-gnu/libjpeg.so.62", "system") == "allowed"
    assert status("libgnutls.so.30", "/lib/x/libgnutls.so.30", "system") == "undeclared"
    assert status("libgone.so", None, "missing") == "unresolved"


def test_stage_symlinks_to_absolute_prefix_paths_resolve_in_the_stage(tmp_path):
    prefix, dest = tmp_path / "prefix", tmp_path / "dest"
    lib = Path(f"{dest}{prefix}/lib")
    lib.mkdir(parents=True)
    (lib / "libq.so.1.0").write_bytes(b"x")
    (lib / "libq.so.1").symlink_to(f"{prefix}/lib/libq.so.1.0")  # absolute, into the prefix
    layout = Layout(prefix, dest)
    assert layout.locate(f"{prefix}/lib/libq.so.1") == ("stage", str(lib / "libq.so.1.0"))
    # a file the previous install of the same package had is gone after the merge
    (prefix / "lib").mkdir(parents=True)
    (prefix / "lib" / "libold.so").write_bytes(b"x")
    assert Layout(prefix, dest, frozenset({"lib/libold.so"})).locate(
        f"{prefix}/lib/libold.so") is None


def test_foreign_machine_and_static_files_are_skipped(tmp_path):
    loader = host_loader()
    stage = tmp_path / "dest" / "p"
    (stage / "bin").mkdir(parents=True)
    host_bin = os.path.realpath(shutil.which("true") or "/bin/true")
    guest = stage / "bin" / "guest"
    data = bytearray(Path(host_bin).read_bytes())
    data[18:20] = (183).to_bytes(2, "little")  # e_machine: EM_AARCH64, as a guest binary
    guest.write_bytes(bytes(data))
    (stage / "bin" / "notes.txt").write_text("not ELF")
    assert elf_header(guest) is not None and read_elf(guest) is not None
    files, verdicts = audit_tree(stage, Layout(tmp_path / "p", tmp_path / "dest"), Policy(),
                                 loader)
    assert (files, verdicts) == (0, [])


def test_parsers():
    dirs, plat = parse_ld_so_help(
        "Shared library search path:\n  (libraries located via /etc/ld.so.cache)\n"
        "  /lib/x86_64-linux-gnu (system search path)\n  /usr/lib (system search path)\n\n"
        "Legacy HWCAP subdirectories under library search path directories:\n"
        "  x86_64 (AT_PLATFORM; supported, searched)\n")
    assert (dirs, plat) == (["/lib/x86_64-linux-gnu", "/usr/lib"], "x86_64")
    assert parse_libs("-L/opt/x/lib -lpng16 -lm -l:libfoo.so.2 /usr/lib/libbar.so") == (
        ["png16", "m", ":libfoo.so.2"], ["/opt/x/lib"], ["/usr/lib/libbar.so"])
    assert parse_dpkg_search(
        "zlib1g:amd64: /lib/x86_64-linux-gnu/libz.so.1\n"
        "diversion by foo from: /bin/x\n"
        "libc6:amd64, libc6:i386: /usr/share/doc/libc6\n") == {
        "/lib/x86_64-linux-gnu/libz.so.1": "zlib1g", "/usr/share/doc/libc6": "libc6"}


def test_declared_sonames_from_a_real_pc_and_a_linker_script(tmp_path):
    """-l names of a system module become sonames: through the library's SONAME, or through
    an ld script (libfoo.so: INPUT(libfoo.so.3 -lbar)) as some distributions ship."""
    from srcbuild.linkage import declared_sonames, sonames_for
    from srcbuild.requirement import Requirement

    loader = host_loader()
    (tmp_path / "libfoo.so").write_text("/* GNU ld script */\nINPUT(libfoo.so.3 -lbar)\n")
    assert sonames_for(["foo"], [str(tmp_path)], [], loader) == {"libfoo", "libfoo.so.3",
                                                                 "libbar"}
    pcdir = tmp_path / "pc"
    pcdir.mkdir()
    (pcdir / "myz.pc").write_text("Name: myz\nDescription: zlib by another name\n"
                                  "Version: 9\nLibs: -lz\nLibs.private: -lm\n")
    env = {**os.environ, "PKG_CONFIG_PATH": str(pcdir)}
    declared = declared_sonames([(Requirement("pkgconfig", "myz"), str(pcdir / "myz.pc"))],
                                loader, env)
    assert declared["libz"] == "pkgconfig:myz" and declared["libm"] == "pkgconfig:myz"
    if "libz.so" in loader.cache:  # zlib1g-dev: the SONAME read from the real file
        assert declared["libz.so.1"] == "pkgconfig:myz"
