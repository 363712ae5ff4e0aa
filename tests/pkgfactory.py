"""Writers of tiny but real packages (autotools-style, meson, cmake, plain make) and recipes."""

from __future__ import annotations

import textwrap
from pathlib import Path


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    path.chmod(mode)
    return path


def autotools_lib(root: Path, name: str = "alpha", version: str = "1.2.0",
                  value: int = 42) -> Path:
    """A library with a hand-written ``configure`` that honours --prefix, out of tree, DESTDIR."""
    src = root / f"{name}-{version}"
    _write(src / "configure", f"""
        #!/bin/sh
        # a minimal autoconf-style configure: --prefix, VPATH build in the current folder
        prefix=/usr/local
        for arg in "$@"; do
          case "$arg" in
            --prefix=*) prefix="${{arg#--prefix=}}" ;;
            --enable-fail) echo "configure: error: asked to fail" >&2; exit 1 ;;
            *) echo "configure: unknown option $arg (ignored)" ;;
          esac
        done
        srcdir=$(cd "$(dirname "$0")" && pwd)
        echo "checking for gcc... ${{CC:-cc}}"
        sed -e "s|@prefix@|$prefix|g" -e "s|@srcdir@|$srcdir|g" "$srcdir/Makefile.in" > Makefile
        sed -e "s|@prefix@|$prefix|g" "$srcdir/{name}.pc.in" > {name}.pc
        echo "configure: created Makefile for prefix $prefix"
        """, 0o755)
    _write(src / "Makefile.in", f"""
        prefix = @prefix@
        srcdir = @srcdir@
        CC ?= cc
        all: lib{name}.so
        lib{name}.so: $(srcdir)/{name}.c $(srcdir)/{name}.h
        \t$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -shared -I$(srcdir) -o $@ $(srcdir)/{name}.c
        install: all
        \tmkdir -p $(DESTDIR)$(prefix)/lib/pkgconfig $(DESTDIR)$(prefix)/include
        \tcp lib{name}.so $(DESTDIR)$(prefix)/lib/
        \tcp $(srcdir)/{name}.h $(DESTDIR)$(prefix)/include/
        \tcp {name}.pc $(DESTDIR)$(prefix)/lib/pkgconfig/
        """)
    _write(src / f"{name}.h", f"int {name}_value(void);\n")
    _write(src / f"{name}.c", f'#include "{name}.h"\nint {name}_value(void) {{ return {value}; }}\n')
    _write(src / f"{name}.pc.in", f"""
        prefix=@prefix@
        libdir=${{prefix}}/lib
        includedir=${{prefix}}/include

        Name: {name}
        Description: test library {name}
        Version: {version}
        Libs: -L${{libdir}} -l{name}
        Cflags: -I${{includedir}}
        """)
    return src


def meson_lib(root: Path, name: str = "beta", version: str = "2.0.1",
              dep: str = "alpha") -> Path:
    """A meson library that finds ``dep`` through pkg-config and ships its own .pc."""
    src = root / f"{name}-{version}"
    _write(src / "meson.build", f"""
        project('{name}', 'c', version: '{version}')
        dep = dependency('{dep}')
        lib = shared_library('{name}', '{name}.c', dependencies: dep, install: true)
        install_headers('{name}.h')
        pkg = import('pkgconfig')
        pkg.generate(lib, name: '{name}', description: 'test library {name}', requires: ['{dep}'])
        """)
    _write(src / f"{name}.h", f"int {name}_value(void);\n")
    _write(src / f"{name}.c", f"""
        #include "{dep}.h"
        #include "{name}.h"
        int {name}_value(void) {{ return {dep}_value() + 1; }}
        """)
    return src


def cmake_app(root: Path, name: str = "gamma", version: str = "3.0", dep: str = "beta") -> Path:
    """A cmake program that finds ``dep`` with pkg_check_modules and prints its value."""
    src = root / f"{name}-{version}"
    _write(src / "CMakeLists.txt", f"""
        cmake_minimum_required(VERSION 3.13)
        project({name} C)
        find_package(PkgConfig REQUIRED)
        pkg_check_modules(DEP REQUIRED IMPORTED_TARGET {dep})
        add_executable({name} main.c)
        target_link_libraries({name} PkgConfig::DEP)
        install(TARGETS {name} RUNTIME DESTINATION bin)
        """)
    _write(src / "main.c", f"""
        #include <stdio.h>
        #include "{dep}.h"
        int main(void) {{ printf("{name} says %d\\n", {dep}_value()); return 0; }}
        """)
    return src


def make_prog(root: Path, name: str = "delta", version: str = "0.5", dep: str = "alpha",
              fail_build: bool = False) -> Path:
    """A plain Makefile program that cannot build out of tree (it writes next to its sources)."""
    src = root / f"{name}-{version}"
    fail = "false # the build fails on purpose" if fail_build else "true"
    _write(src / "Makefile", f"""
        PREFIX ?= /usr/local
        CC ?= cc
        all: {name}
        {name}: main.c
        \t{fail}
        \t$(CC) $(CPPFLAGS) $(CFLAGS) -o {name} main.c $$(pkg-config --cflags --libs {dep}) $(LDFLAGS)
        install: {name}
        \tmkdir -p $(DESTDIR)$(PREFIX)/bin
        \tcp {name} $(DESTDIR)$(PREFIX)/bin/
        """)
    _write(src / "main.c", f"""
        #include <stdio.h>
        #include "{dep}.h"
        int main(void) {{ printf("{name} says %d\\n", {dep}_value()); return 0; }}
        """)
    return src


def script_prog(root: Path, name: str = "tiny", version: str = "1.0") -> Path:
    """A Makefile that installs one shell script, bin/NAME: the fastest real package."""
    src = root / f"{name}-{version}"
    _write(src / name, f"""
        #!/bin/sh
        echo "{name} {version}"
        """, 0o755)
    _write(src / "Makefile", f"""
        PREFIX ?= /usr/local
        all:
        install:
        \tmkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/{name}
        \tcp {name} $(DESTDIR)$(PREFIX)/bin/
        \techo data > $(DESTDIR)$(PREFIX)/share/{name}/data.txt
        """)
    return src


def recipe(recipes: Path, name: str, body: str) -> Path:
    return _write(recipes / f"{name}.toml", body)


def broken(root: Path) -> tuple[Path, Path]:
    """The recipe folder and source of ``broken``: a make program whose build step fails
    (alpha, which it would link, is generated beside it)."""
    recipes = root / "r"
    src = make_prog(root / "pk", "broken", fail_build=True)
    autotools_lib(root / "pk")
    recipe(recipes, "broken", f"""
        version = "1"
        [[source]]
        path = "{src}"
        [build]
        system = "make"
        """)
    return recipes, src


def chain(root: Path) -> Path:
    """alpha (autotools) <- beta (meson) <- gamma (cmake app), plus delta (make) on alpha."""
    pkgs, recipes = root / "pkgs", root / "recipes"
    a, b = autotools_lib(pkgs), meson_lib(pkgs)
    c, d = cmake_app(pkgs), make_prog(pkgs)
    recipe(recipes, "alpha", f"""
        name = "alpha"
        version = "1.2.0"
        summary = "test library (autotools)"
        provides = ["pkgconfig:alpha", "library:libalpha.so"]
        tools = ["program:make"]
        check = ["test -f {{{{ stage }}}}/lib/libalpha.so"]
        [[source]]
        path = "{a}"
        [build]
        system = "autotools"
        """)
    recipe(recipes, "beta", f"""
        version = "2.0.1"
        requires = ["pkgconfig:alpha >= 1.0"]
        tools = ["program:meson", "program:ninja"]
        provides = ["pkgconfig:beta"]
        check = ["pkg-config --modversion beta"]
        [[source]]
        path = "{b}"
        [build]
        system = "meson"
        """)
    recipe(recipes, "gamma", f"""
        version = "3.0"
        requires = ["pkgconfig:beta >= 2"]
        tools = ["program:cmake"]
        provides = ["program:gamma"]
        check = ["gamma"]
        [[source]]
        path = "{c}"
        [build]
        system = "cmake"
        """)
    recipe(recipes, "delta", f"""
        version = "0.5"
        requires = ["pkgconfig:alpha"]
        provides = ["program:delta"]
        check = ["delta"]
        [[source]]
        path = "{d}"
        [build]
        system = "make"
        """)
    return recipes


def delta_recipe(recipes: Path, src: Path) -> Path:
    """delta: the make program of ``make_prog`` (``src``), requiring pkgconfig:alpha."""
    return recipe(recipes, "delta", f"""
        version = "0.5"
        requires = ["pkgconfig:alpha"]
        provides = ["program:delta"]
        [[source]]
        path = "{src}"
        [build]
        system = "make"
        """)


def busy_pkg(root: Path, name: str, log: Path, units: int = 6, seconds: float = 0.4) -> Path:
    """A make package whose configure and each of ``units`` compile jobs record when they run.

    Every work unit appends ``start T NAME`` and ``end T NAME`` lines to ``log``, so a test can
    count how many ran at the same time.
    """
    src = root / f"{name}-1"
    unit = (f'echo "start $$(date +%s.%N) {name}-$@" >> {log}; sleep {seconds}; '
            f'echo "end $$(date +%s.%N) {name}-$@" >> {log}; touch $@')
    targets = " ".join(f"u{i}.o" for i in range(units))
    _write(src / "Makefile", f"""
        PREFIX ?= /usr/local
        .PHONY: all install
        all: {targets}
        	@:
        %.o:
        \t@{unit}
        install: all
        \tmkdir -p $(DESTDIR)$(PREFIX)/share/{name}
        \tcp *.o $(DESTDIR)$(PREFIX)/share/{name}/
        """)
    _write(src / "configure", f"""
        #!/bin/sh
        echo "start $(date +%s.%N) {name}-configure" >> {log}
        sleep {seconds}
        echo "end $(date +%s.%N) {name}-configure" >> {log}
        """, 0o755)
    return src


def max_overlap(log: Path) -> int:
    """The largest number of work units that ran at once, from a busy_pkg log."""
    events = []
    for line in log.read_text().splitlines():
        kind, t, _ = line.split()
        events.append((float(t), 1 if kind == "start" else -1))
    level = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        level += delta
        peak = max(peak, level)
    return peak


def automagic_prog(root: Path, name: str = "omega", version: str = "1.0") -> Path:
    """An autotools-style program whose configure links zlib whenever pkg-config finds it,
    whether or not anyone asked: an "automagic" dependency, as Gentoo calls it."""
    src = root / f"{name}-{version}"
    _write(src / "configure", """
        #!/bin/sh
        prefix=/usr/local
        for arg in "$@"; do
          case "$arg" in --prefix=*) prefix="${arg#--prefix=}" ;; esac
        done
        srcdir=$(cd "$(dirname "$0")" && pwd)
        cflags= libs=
        if pkg-config --exists zlib; then
          echo "checking for zlib... yes (nobody asked, but it is there)"
          cflags="-DHAVE_ZLIB $(pkg-config --cflags zlib)" libs=$(pkg-config --libs zlib)
        else
          echo "checking for zlib... no"
        fi
        sed -e "s|@prefix@|$prefix|g" -e "s|@srcdir@|$srcdir|g" -e "s|@CFLAGS@|$cflags|g" \\
            -e "s|@LIBS@|$libs|g" "$srcdir/Makefile.in" > Makefile
        """, 0o755)
    _write(src / "Makefile.in", f"""
        prefix = @prefix@
        srcdir = @srcdir@
        CC ?= cc
        all: {name}
        {name}: $(srcdir)/main.c
        \t$(CC) $(CPPFLAGS) $(CFLAGS) @CFLAGS@ -o $@ $(srcdir)/main.c $(LDFLAGS) @LIBS@
        install: all
        \tmkdir -p $(DESTDIR)$(prefix)/bin
        \tcp {name} $(DESTDIR)$(prefix)/bin/
        """)
    _write(src / "main.c", f"""
        #include <stdio.h>
        #ifdef HAVE_ZLIB
        #include <zlib.h>
        #endif
        int main(void) {{
        #ifdef HAVE_ZLIB
            printf("{name} with zlib %s\\n", zlibVersion());
        #else
            printf("{name} without zlib\\n");
        #endif
            return 0;
        }}
        """)
    return src


def make_tree(root: Path, name: str, files: dict[str, str], version: str = "1.0") -> Path:
    """A plain-make package from the given files (a Makefile among them; write its recipe
    lines with ``\\t``)."""
    src = root / f"{name}-{version}"
    for rel, text in files.items():
        _write(src / rel, text)
    return src


def with_check_target(src: Path, target: str = "check", passes: bool = True) -> Path:
    """Add a test-suite target to an autotools_lib (Makefile.in) or make_prog (Makefile):
    it prints what it tests and fails on purpose when ``passes`` is False."""
    makefile = src / ("Makefile.in" if (src / "Makefile.in").exists() else "Makefile")
    verdict = "true" if passes else "false"
    with open(makefile, "a") as f:
        f.write(f"{target}: all\n"
                f"\t@echo 'suite: 3 of 3 tests ran'\n"
                f"\t@echo 'suite: {'all passed' if passes else 'FAIL: test_value expected 42'}'\n"
                f"\t@{verdict}\n")
    return src


def cmake_tested(root: Path, name: str = "epsilon", version: str = "1.0",
                 passes: bool = True) -> Path:
    """A cmake program with a ctest suite (enable_testing, add_test) that passes or fails."""
    src = root / f"{name}-{version}"
    _write(src / "CMakeLists.txt", f"""
        cmake_minimum_required(VERSION 3.13)
        project({name} C)
        enable_testing()
        add_executable({name} main.c)
        install(TARGETS {name} RUNTIME DESTINATION bin)
        add_test(NAME answer COMMAND {name} --test)
        """)
    code = 0 if passes else 1
    _write(src / "main.c", f"""
        #include <stdio.h>
        #include <string.h>
        int main(int argc, char **argv) {{
          if (argc > 1 && strcmp(argv[1], "--test") == 0) {{
            printf("{name} self-test: %s\\n", {code} ? "wrong answer 41" : "ok");
            return {code};
          }}
          printf("{name} 42\\n");
          return 0;
        }}
        """)
    return src


def autoreconf_pkg(root: Path, name: str = "zeta", version: str = "0.3") -> Path:
    """A source with configure.ac and Makefile.am but no configure script (like libyaml's
    Debian orig): it builds only through autoreconf."""
    src = root / f"{name}-{version}"
    _write(src / "configure.ac", f"""
        AC_INIT([{name}], [{version}])
        AM_INIT_AUTOMAKE([foreign])
        AC_PROG_CC
        AC_CONFIG_FILES([Makefile])
        AC_OUTPUT
        """)
    _write(src / "Makefile.am", f"bin_PROGRAMS = {name}\n{name}_SOURCES = main.c\n")
    _write(src / "main.c", f'#include <stdio.h>\nint main(void) {{ puts("{name}"); return 0; }}\n')
    return src


def run_log(cache: Path, name: str, phase: str) -> str:
    """The text of package NAME's PHASE log in the cache's last run (CACHE/logs/RUN/NAME)."""
    from srcbuild.runs import last_run, log_dir

    run_id = last_run(cache)
    assert run_id is not None, f"no run in {cache}"
    return (log_dir(cache, run_id, name) / f"{phase}.log").read_text()
