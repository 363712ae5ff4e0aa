"""Eight independent packages: one at a time vs all under one -j 2 budget, in one run.

    .venv/bin/python bench/parallel.py

Each package has an autoconf-like configure (a chain of single-threaded compiler probes) and
a parallel compile of a dozen C files: the shape of most small autotools packages, whose
configure leaves all but one core idle.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
N, PROBES, FILES = 8, 24, 12


def write_package(root: Path, name: str) -> Path:
    src = root / f"{name}-1"
    src.mkdir(parents=True)
    probe = 'printf "#include <stdio.h>\\nint main(void){return %d;}\\n" "$i" > conftest.c && ' \
            "${CC:-cc} -O2 -o conftest conftest.c"
    (src / "configure").write_text(textwrap.dedent(f"""\
        #!/bin/sh
        # like autoconf: one compiler probe after the other
        i=0
        while [ $i -lt {PROBES} ]; do
          echo "checking feature $i..."; {probe} || exit 1; i=$((i+1))
        done
        rm -f conftest conftest.c
        srcdir=$(dirname "$0")
        sed "s|@srcdir@|$srcdir|" "$srcdir/Makefile.in" > Makefile
        """))
    (src / "configure").chmod(0o755)
    objs = " ".join(f"f{i}.o" for i in range(FILES))
    for i in range(FILES):
        # enough code that -O2 takes a moment, as a real translation unit does
        body = "\n".join(f"static double g{k}(double x) {{ return x * {k}.5 + {i}; }}"
                         for k in range(150))
        calls = " + ".join(f"g{k}(x)" for k in range(150))
        (src / f"f{i}.c").write_text(f"{body}\ndouble f{i}(double x) {{ return {calls}; }}\n")
    (src / "Makefile.in").write_text(
        f"srcdir = @srcdir@\nall: lib{name}.a\n"
        f"%.o: $(srcdir)/%.c\n\t$(CC) -O2 -c $< -o $@\n"
        f"lib{name}.a: {objs}\n\tar rcs $@ $^\n"
        f"install: all\n\tmkdir -p $(DESTDIR)$(PREFIX)/lib\n\tcp lib{name}.a $(DESTDIR)$(PREFIX)/lib/\n")
    return src


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        recipes = root / "recipes"
        recipes.mkdir()
        names = [f"pkg{i}" for i in range(N)]
        for name in names:
            src = write_package(root / "src", name)
            (recipes / f"{name}.toml").write_text(
                f'version = "1"\n[[source]]\npath = "{src}"\n[build]\nsystem = "autotools"\n'
                'make_args = ["PREFIX={{ prefix }}"]\n')
        (recipes / "all8.toml").write_text(
            'kind = "group"\nrequires = [' + ", ".join(f'"recipe:{n}"' for n in names) + "]\n")

        def srcbuild(prefix: str, *targets: str) -> None:
            subprocess.run([sys.executable, "-m", "srcbuild", "install", *targets, "--recipes",
                            str(recipes), "--prefix", str(root / prefix), "--cache-dir",
                            str(root / f"cache-{prefix}"), "-j", "2", "--quiet"],
                           check=True, cwd=ROOT, capture_output=True)

        t0 = time.perf_counter()
        srcbuild("serial", "all8", "--max-packages", "1")  # one at a time, each with -j2
        serial = time.perf_counter() - t0
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        srcbuild("parallel", "all8")
        parallel = time.perf_counter() - t0
        print(f"{N} packages ({PROBES} configure probes, {FILES} files each), -j2 on "
              f"{os.cpu_count()} cores")
        print(f"one at a time: {serial:6.2f}s")
        print(f"parallel:      {parallel:6.2f}s")
        print(f"speed-up: {serial / parallel:.2f}x   (1-minute load average: "
              f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after the parallel run)")


if __name__ == "__main__":
    main()
