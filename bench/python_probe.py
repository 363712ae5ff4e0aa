"""The python: probe: N modules in one start of the build's python3 against one start each,
and a probe start against the `python3 --version` it replaces for program:python3.

    .venv/bin/python bench/python_probe.py [ROUNDS]

Prints medians of wall and child CPU time and their ratios (a loaded machine moves the
absolute figures, much less the ratios).
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from srcbuild.pyprobe import probe_modules

MODULES = ["json", "csv", "decimal", "sqlite3", "xml.dom.minidom", "srcbuild_bench_nosuch"]


def measure(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    python3 = shutil.which("python3")
    if python3 is None:
        print("SKIP: no python3 on PATH")
        return
    env = dict(os.environ)
    rows = {
        "one start, all modules": lambda: probe_modules(python3, MODULES, env),
        "one start per module": lambda: [probe_modules(python3, [m], env) for m in MODULES],
        "python3 --version": lambda: subprocess.run([python3, "--version"], check=False,
                                                    capture_output=True),
    }
    print(f"{python3}, {len(MODULES)} modules, median of {rounds}")
    got = {name: measure(fn, rounds) for name, fn in rows.items()}
    for name, (wall, cpu) in got.items():
        print(f"  {name:<24} wall {wall:6.3f} s   cpu {cpu:6.3f} s")
    one, each, version = (got[n] for n in rows)
    print(f"  per-module starts / one start: wall x{each[0] / one[0]:.1f}, "
          f"cpu x{each[1] / one[1]:.1f}")
    print(f"  one probe start / --version: wall x{one[0] / version[0]:.1f}, "
          f"cpu x{one[1] / max(version[1], 1e-3):.1f}")


if __name__ == "__main__":
    main()
