"""A no-op rerun with the system programs' ``--version`` started before the recipes load
(probes.SystemProbe.expect, what srcbuild does) against started when the resolver asks
(expect replaced by a no-op in the same interpreter start), alternating, medians of wall
and CPU time.

    .venv/bin/python bench/early_probes.py PREFIX TARGET [ROUNDS]

Example: bench/early_probes.py /opt/lab16-lab4 lab-x86 9
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time

LATE = ("import sys; from srcbuild import probes; "
        "probes.SystemProbe.expect = lambda self, programs: None; "
        "from srcbuild.cli import main; sys.exit(main())")
EARLY = "import sys; from srcbuild.cli import main; sys.exit(main())"


def run(code: str, args: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    cp = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                        check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cp.returncode != 0 or "Nothing to do" not in cp.stderr:
        raise SystemExit(f"not a no-op rerun: {cp.stderr[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    prefix, target = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 9
    args = [target, "--prefix", prefix]
    run(EARLY, args)  # warm the page cache
    early, late = [], []
    for _ in range(rounds):
        late.append(run(LATE, args))
        early.append(run(EARLY, args))
    for label, xs in (("started when asked", late), ("started early", early)):
        print(f"{label:20s} wall {statistics.median(w for w, _ in xs):.3f} s  "
              f"cpu {statistics.median(c for _, c in xs):.3f} s")
    ratio = statistics.median(w for w, _ in early) / statistics.median(w for w, _ in late)
    print(f"early / when asked: wall x{ratio:.2f}  ({rounds} rounds each, alternating)")


if __name__ == "__main__":
    main()
