"""What shell completion costs: shtab's static bash script against what argcomplete would
start on every TAB, and what a normal run pays for either. Medians of N runs, the cases
alternating; CPU time (user + system of the child) beside wall time, the steadier figure on a
loaded machine.

    .venv/bin/python bench/completion.py [N]     (argcomplete must be installed to measure it)
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    env = {**os.environ, "PATH": f"{Path(PY).parent}:{os.environ['PATH']}"}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "srcbuild.bash"
        script.write_text(subprocess.run([PY, "-m", "srcbuild", "completion", "bash"],
                                         capture_output=True, text=True, check=True).stdout)

        def tab(*words: str) -> list[str]:
            line = " ".join(words)
            return ["bash", "-c", (f"source {script}; COMP_WORDS=({line}); "
                    f"COMP_CWORD={len(words) - 1}; COMP_LINE='{line}'; COMP_POINT={len(line)}; "
                    f"_shtab_srcbuild srcbuild {words[-1]} {words[-2]}")]

        cases = [
            ("python -c pass", [PY, "-c", "pass"]),
            ("srcbuild --version", [PY, "-m", "srcbuild", "--version"]),
            ("shtab: subcommand TAB (srcbuild pla)", tab("srcbuild", "pla")),
            ("shtab: recipe-name TAB (srcbuild plan lib)", tab("srcbuild", "plan", "lib")),
            ("srcbuild list --names (what that TAB runs)",
             [PY, "-m", "srcbuild", "list", "--names"]),
            ("srcbuild.cli + the whole parser",
             [PY, "-c", "from srcbuild.cli import parser; parser(every=True)"]),
            ("argcomplete: any TAB, lower bound (+ import argcomplete)",
             [PY, "-c", ("import argcomplete; from srcbuild.cli import parser; "
                        "parser(every=True)")]),
        ]
        wall: dict[str, list[float]] = {name: [] for name, _ in cases}
        cpu: dict[str, list[float]] = {name: [] for name, _ in cases}
        for _ in range(n):
            for name, argv in cases:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run(argv, capture_output=True, env=env, check=False)
                wall[name].append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[name].append(after.ru_utime - before.ru_utime
                                 + after.ru_stime - before.ru_stime)
    print(f"medians of {n}; load average {os.getloadavg()[0]:.1f}")
    for name, _ in cases:
        print(f"{statistics.median(wall[name]) * 1000:8.1f} ms wall "
              f"{statistics.median(cpu[name]) * 1000:7.1f} ms CPU  {name}")


if __name__ == "__main__":
    main()
