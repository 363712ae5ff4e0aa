"""What checking a binary cache entry file by file costs: extraction alone (what a restore did
before) against extraction plus the per-file check (``entrycheck.restore``), side by side on
the same archive.

    .venv/bin/python bench/restore_check.py            # 3000 files, 64 MB
    .venv/bin/python bench/restore_check.py 300 600    # FILES MEGABYTES

The tree is synthetic (random bytes do not compress, so gzip costs what it costs on binaries);
each side runs 3 times, alternating, and the best time of each is shown.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from srcbuild import bincache
from srcbuild.entrycheck import Wanted, restore, tree_entries


def make_tree(root: Path, files: int, megabytes: int) -> None:
    size = megabytes * (1 << 20) // files
    for i in range(files):
        path = root / f"d{i % 40:02d}" / f"f{i:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))


def main() -> None:
    files, megabytes = (int(a) for a in (sys.argv[1:] or ["3000", "64"]))
    with tempfile.TemporaryDirectory(prefix="srcbuild-bench-") as tmp:
        root = Path(tmp)
        stage = root / "stage"
        make_tree(stage, files, megabytes)
        archive = root / "entry.tar.gz"
        names = bincache.pack(stage, archive, 0)
        manifest = bincache.manifest("bench", "1", "k" * 64, archive, names, {},
                                     tree_entries(stage))
        wanted = Wanted("k" * 64, "bench", "1")
        labels = ("extract only", "extract + check")
        best = dict.fromkeys(labels, float("inf"))
        for _ in range(3):
            for label in labels:
                target = root / "restored"
                t0 = time.perf_counter()
                if label == "extract only":
                    bincache.unpack(archive, target)
                else:
                    restore(archive, manifest, wanted, target)
                best[label] = min(best[label], time.perf_counter() - t0)
                shutil.rmtree(target)
        print(f"{files} files, {megabytes} MB, archive {archive.stat().st_size >> 20} MB")
        for label, seconds in best.items():
            print(f"  {label:16} {seconds:6.2f} s")
        print(f"  ratio            {best['extract + check'] / best['extract only']:6.2f}x")


if __name__ == "__main__":
    main()
