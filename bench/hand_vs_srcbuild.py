"""One real package (libpng 1.6.39, Debian's .orig) built by srcbuild and by hand, in one run.

    .venv/bin/python bench/hand_vs_srcbuild.py

"By hand" is what an expert types: extract, configure out of tree with --prefix, make -jN,
make install DESTDIR=..., copy into the prefix. Both use the same cached tarball and -j.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOBS = os.cpu_count() or 1
ROUNDS = 4


def sh(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=env)


def by_hand(tarball: Path, work: Path) -> float:
    prefix, stage = work / "prefix", work / "stage"
    t0 = time.perf_counter()
    (work / "src").mkdir()
    sh(["tar", "-xf", str(tarball), "-C", str(work / "src")], work)
    src = next((work / "src").iterdir())
    build = work / "build"
    build.mkdir()
    sh([str(src / "configure"), f"--prefix={prefix}", "--disable-static"], build)
    sh(["make", f"-j{JOBS}"], build)
    sh(["make", "install", f"DESTDIR={stage}"], build)
    shutil.copytree(Path(str(stage) + str(prefix)), prefix, symlinks=True)
    return time.perf_counter() - t0


def with_srcbuild(work: Path, cache: Path) -> float:
    shutil.rmtree(cache / "src", ignore_errors=True)  # like for like: extract again, as by hand
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "srcbuild", "libpng", "--from-source", "libpng",
                    "--prefix", str(work / "prefix"), "--cache-dir", str(cache), "-j",
                    str(JOBS), "--quiet"], check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        subprocess.run([sys.executable, "-m", "srcbuild", "fetch", "libpng", "--from-source",
                        "libpng", "--cache-dir", str(cache), "--prefix", f"{tmp}/p0"],
                       check=True, cwd=ROOT, capture_output=True)
        tarball = next((cache / "sources").rglob("*.tar.*"))
        rows = []
        for round_ in range(ROUNDS):  # alternate, so neither side always runs with a warm cache
            for name in ("hand", "srcbuild"):
                work = Path(tmp) / f"{name}{round_}"
                work.mkdir()
                rows.append((name, by_hand(tarball, work) if name == "hand"
                             else with_srcbuild(work, cache)))
        hand = statistics.median(s for n, s in rows if n == "hand")
        tool = statistics.median(s for n, s in rows if n == "srcbuild")
        for n, s in rows:
            print(f"{n:<9} {s:6.2f}s")
        print(f"libpng 1.6.39, -j{JOBS}: by hand {hand:.2f}s, srcbuild {tool:.2f}s "
              f"(medians of {ROUNDS}), ratio srcbuild/hand = {tool / hand:.3f}")


if __name__ == "__main__":
    main()
