"""`srcbuild doctor` on a real prefix with its ELF facts remembered (elfcache) against read
anew (the facts file removed before the run; every other cached verdict kept), alternating,
medians of wall and CPU time.

    .venv/bin/python bench/doctor_elf_facts.py PREFIX TARGET [ROUNDS]

Example: bench/doctor_elf_facts.py /opt/toolchain-proof lab-arm64-kvm 7
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile


def run(argv: list[str], cache: str) -> tuple[float, float]:
    import time

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, env={**os.environ, "SRCBUILD_CACHE": cache}, capture_output=True,
                   check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    prefix, target = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    argv = [sys.executable, "-m", "srcbuild", "doctor", target, "--prefix", prefix]
    warm_dir = tempfile.mkdtemp(prefix="bench-doctor-")
    run(argv, warm_dir)  # fills the facts once
    cold, warm = [], []
    for i in range(rounds):
        os.unlink(os.path.join(warm_dir, "elf-facts.json"))
        cold.append(run(argv, warm_dir))
        warm.append(run(argv, warm_dir))
    for name, xs in (("read anew", cold), ("remembered", warm)):
        print(f"{name:11} wall {statistics.median(w for w, _ in xs):.3f} s"
              f"   cpu {statistics.median(c for _, c in xs):.3f} s")
    print(f"remembered / read anew: wall x{statistics.median(w for w, _ in warm) / statistics.median(w for w, _ in cold):.2f}"
          f", cpu x{statistics.median(c for _, c in warm) / statistics.median(c for _, c in cold):.2f}")


if __name__ == "__main__":
    main()
