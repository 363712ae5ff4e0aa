"""QEMU's dependency set from source (pcre2, meson, glib, pixman, libslirp, dtc), one
package at a time vs in parallel, both under -j2, in one run, with the load average.

    .venv/bin/python bench/qemu_deps.py          # about 10 minutes on 2 cores; by hand
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPS = ["glib", "pixman", "libslirp", "dtc"]


def main() -> None:
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(5):
            samples.append(os.getloadavg()[0])

    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        rows = {}
        for label, extra in (("one at a time", ["--max-packages", "1"]), ("parallel", [])):
            samples.clear()
            stop.clear()
            t = threading.Thread(target=sample)
            t.start()
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "srcbuild", "install", *DEPS, "--from-source",
                            "all", "--prefix", f"{tmp}/{label.replace(' ', '-')}", "-j", "2",
                            "--quiet", "--cache-dir", str(ROOT / "cache"), *extra],
                           check=True, cwd=ROOT, env={**os.environ, "CCACHE_DISABLE": "1"})
            rows[label] = (time.perf_counter() - t0, max(samples, default=0.0))
            stop.set()
            t.join()
        for label, (seconds, load) in rows.items():
            print(f"{label:<14} {seconds:7.1f}s   peak 1-minute load average {load:.2f}")
        print(f"speed-up {rows['one at a time'][0] / rows['parallel'][0]:.2f}x on "
              f"{os.cpu_count()} cores")


if __name__ == "__main__":
    main()
