"""Cold build vs binary-cache restore of one graph, side by side in one run.

    .venv/bin/python bench/bincache.py libpng --from-source libpng --from-source zlib
    .venv/bin/python bench/bincache.py qemu        # the QEMU graph: run by hand, ~10 min

Both runs install into the same prefix path (the build hash includes it), with the same
source cache, so the only difference is building versus restoring.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def install(args: list[str], prefix: Path, cache: Path, bincache: Path) -> tuple[float, dict]:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "srcbuild", "install", *args, "--prefix", str(prefix),
                    "--cache-dir", str(cache), "--binary-cache", str(bincache), "--quiet"],
                   check=True, cwd=ROOT, capture_output=True)
    seconds = time.perf_counter() - t0
    events = [json.loads(line) for line in (cache / "runs" / "last").read_text().splitlines()]
    per = {e["recipe"]: (e["status"], e["seconds"]) for e in events
           if e["event"] == "package_end"}
    return seconds, per


def main() -> None:
    args = sys.argv[1:] or ["libpng", "--from-source", "libpng", "--from-source", "zlib"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        prefix, cache, bincache = root / "prefix", ROOT / "cache", root / "bincache"
        cold, cold_per = install(args, prefix, cache, bincache)
        shutil.rmtree(prefix)
        warm, warm_per = install(args, prefix, cache, bincache)
        for name, (status, seconds) in cold_per.items():
            w = warm_per.get(name, ("-", 0.0))
            print(f"{name:<16} {status:<8} {seconds:8.2f}s   {w[0]:<8} {w[1]:7.2f}s")
        print(f"{' '.join(args)}: cold build {cold:.2f}s, restore from the binary cache "
              f"{warm:.2f}s, ratio {cold / warm:.1f}x")


if __name__ == "__main__":
    main()
