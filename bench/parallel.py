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
N = 8
# (configure probes, C files) per package: a balanced mix, and a configure-heavy one like
# most small autotools packages, whose configure takes longer than their compile
MIXES = ((24, 12), (48, 6))


def write_package(root: Path, name: str, probes: int, files: int) -> Path:
    src = root / f"{name}-1"
    src.mkdir(parents=True)
    probe = 'printf "#include <stdio.h>\\nint main(void){return %d;}\\n" "$i" > conftest.c && ' \
            "${CC:-cc} -O2 -o conftest conftest.c"
    (src / "configure").write_text(textwrap.dedent(f"""\
        #!/bin/sh
        # like autoconf: one compiler probe after the other
        i=0
        while [ $i -lt {probes} ]; do
          echo "checking feature $i..."; {probe} || exit 1; i=$((i+1))
        done
        rm -f conftest conftest.c
        srcdir=$(dirname "$0")
        sed "s|@srcdir@|$srcdir|" "$srcdir/Makefile.in" > Makefile
        """))
    (src / "configure").chmod(0o755)
    objs = " ".join(f"f{i}.o" for i in range(files))
    for i in range(files):
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


def measure(root: Path, probes: int, files: int) -> None:
    recipes = root / "recipes"
    recipes.mkdir()
    names = [f"pkg{i}" for i in range(N)]
    for name in names:
        src = write_package(root / "src", name, probes, files)
        (recipes / f"{name}.toml").write_text(
            f'version = "1"\n[[source]]\npath = "{src}"\n[build]\nsystem = "autotools"\n'
            'make_args = ["PREFIX={{ prefix }}"]\n')
    (recipes / "all8.toml").write_text(
        'kind = "group"\nrequires = [' + ", ".join(f'"recipe:{n}"' for n in names) + "]\n")

    def srcbuild(prefix: str, *args: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "srcbuild", "install", "all8", *args,
                        "--recipes", str(recipes), "--prefix", str(root / prefix),
                        "--cache-dir", str(root / f"cache-{prefix}"), "-j", "2", "--quiet"],
                       check=True, cwd=ROOT, capture_output=True)
        return time.perf_counter() - t0

    serial = srcbuild("serial", "--max-packages", "1")  # one at a time, each with -j2
    load_before = os.getloadavg()[0]
    parallel = srcbuild("parallel")
    print(f"{N} packages x ({probes} configure probes, {files} C files), -j2 on "
          f"{os.cpu_count()} cores: one at a time {serial:.2f}s, parallel {parallel:.2f}s, "
          f"speed-up {serial / parallel:.2f}x (load {load_before:.2f} -> "
          f"{os.getloadavg()[0]:.2f})")


def main() -> None:
    for probes, files in MIXES:
        with tempfile.TemporaryDirectory() as tmp:
            measure(Path(tmp), probes, files)


if __name__ == "__main__":
    main()
