"""Extraction of real source tarballs: srcbuild's extractor vs the old code vs tar, side by side.

    .venv/bin/python bench/extract.py                      # QEMU and Linux from the shared cache
    .venv/bin/python bench/extract.py --runs 5 A.tar.xz    # any archive
    .venv/bin/python bench/extract.py --work /big/disk     # where the trees are written

Every run is a fresh process extracting into an empty folder on the same disk (removed
afterwards, not timed); the methods are interleaved run by run so that a busy machine
slows them alike. Printed: median wall time, median CPU time (user + system of the process
and its children, so tar's xz counts), and the ratio to the old code. "sha256" is the cost
of re-verifying the archive against the recipe before an extraction.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path("/work/shared-cache/sources")
DEFAULTS = [
    SHARED / "91aca71520040edc40b8d437aa3004dae614f58e286cf653ee8996c07af2962f"
    / "qemu_7.2+dfsg.orig.tar.xz",
    SHARED / "9aad4025973feea3f0d978e82ab7db97d8d5ce3f59fcc6b1f316153d66e3a504"
    / "linux_6.1.176.orig.tar.xz",
]

# main before srcbuild/extract.py: a lexical check of every member, then tarfile's own
# extraction with the "tar" filter where this Python has one (3.11.4 and later)
OLD = """
import sys, tarfile
with tarfile.open(sys.argv[1]) as tf:
    members = tf.getmembers()
    kw = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
    tf.extractall(sys.argv[2], members=members, **kw)
"""
NEW = """
import sys
from pathlib import Path
from srcbuild.extract import extract
extract(Path(sys.argv[1]), Path(sys.argv[2]))
"""
SHA = """
import sys
from pathlib import Path
from srcbuild.fetch import sha256_file
sha256_file(Path(sys.argv[1]))
"""
METHODS = {
    "old (tarfile.extractall)": [sys.executable, "-c", OLD],
    "new (srcbuild.extract)": [sys.executable, "-c", NEW],
    "tar -xf": ["tar", "-xf"],
    "sha256 of the archive": [sys.executable, "-c", SHA],
}


def once(argv: list[str], archive: Path, dest: Path) -> tuple[float, float]:
    dest.mkdir()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    if argv[0] == "tar":
        cmd = [*argv, str(archive), "-C", str(dest)]
    else:
        cmd = [*argv, str(archive), str(dest)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    shutil.rmtree(dest)
    return wall, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("archives", nargs="*", type=Path, default=DEFAULTS)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--work", type=Path, default=None)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-extract-", dir=args.work))
    try:
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load "
              f"{os.getloadavg()[0]:.1f}, {args.runs} runs each, medians")
        for archive in args.archives:
            times: dict[str, list[tuple[float, float]]] = {m: [] for m in METHODS}
            for _ in range(args.runs):
                for name, argv in METHODS.items():
                    times[name].append(once(argv, archive, work / "tree"))
            size = archive.stat().st_size / 1e6
            print(f"\n{archive.name} ({size:.0f} MB)")
            print(f"  {'method':<26} {'wall':>8} {'cpu':>8}  {'wall/old':>8} {'cpu/old':>8}")
            old_wall = statistics.median(w for w, _ in times["old (tarfile.extractall)"])
            old_cpu = statistics.median(c for _, c in times["old (tarfile.extractall)"])
            for name, runs in times.items():
                wall = statistics.median(w for w, _ in runs)
                cpu = statistics.median(c for _, c in runs)
                print(f"  {name:<26} {wall:7.2f}s {cpu:7.2f}s  {wall / old_wall:8.2f} "
                      f"{cpu / old_cpu:8.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
