"""Time a no-op rerun and a plan over a graph of 50 generated recipes.

    .venv/bin/python bench/noop_rerun.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N = 50


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        recipes, src = root / "recipes", root / "src"
        recipes.mkdir()
        for i in range(N):
            d = src / f"p{i}"
            d.mkdir(parents=True)
            (d / "data.txt").write_text(f"package {i}\n")
            deps = [f'"recipe:p{j}"' for j in (i - 1, i // 2) if 0 <= j < i]
            (recipes / f"p{i}.toml").write_text(
                f'version = "1.{i}"\nrequires = [{", ".join(sorted(set(deps)))}]\n'
                f'provides = ["program:p{i}-tool"]\n'
                f'[[source]]\npath = "{d}"\n[build]\nsystem = "custom"\n'
                f'install = [["install", "-D", "-m", "755", "{{{{ source_dir }}}}/data.txt", '
                f'"{{{{ stage }}}}/share/p{i}/data.txt"]]\n')
        base = [sys.executable, "-m", "srcbuild"]
        where = ["--recipes", str(recipes), "--prefix", str(root / "prefix")]
        install = ["install", f"p{N - 1}", *where, "--cache-dir", str(root / "cache"), "--quiet"]
        t0 = time.perf_counter()
        subprocess.run(base + install, check=True, capture_output=True)
        first = time.perf_counter() - t0

        def timed(args: list[str]) -> float:
            t = time.perf_counter()
            cp = subprocess.run(base + args, check=False, capture_output=True, text=True)
            assert cp.returncode == 0, cp.stderr
            return time.perf_counter() - t

        noop = [timed(install) for _ in range(5)]
        plan = [timed(["plan", f"p{N - 1}", *where]) for _ in range(5)]
        t = time.perf_counter()
        for _ in range(5):
            subprocess.run(base + ["--version"], check=True, capture_output=True)
        startup = (time.perf_counter() - t) / 5
        print(f"graph of {N} recipes: first install {first:.2f}s")
        print(f"no-op rerun: median {statistics.median(noop):.3f}s (5 runs)")
        print(f"plan:        median {statistics.median(plan):.3f}s (5 runs)")
        print(f"`srcbuild --version` (interpreter start-up alone): {startup:.3f}s")


if __name__ == "__main__":
    main()
