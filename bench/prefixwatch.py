"""What noticing a build that writes into the live prefix costs: two lstat snapshots of a
prefix of 10,000 files and their comparison (once per package built), beside the merge of a
3000-file package into that prefix, in one run on one filesystem.

    .venv/bin/python bench/prefixwatch.py [FOLDER]    # FOLDER: where the prefix goes (/tmp)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from srcbuild.install import merge, staged_prefix
from srcbuild.prefixwatch import compare, snapshot
from srcbuild.state import Installed, PrefixState

FILES = 10_000


def main() -> None:
    where = sys.argv[1] if len(sys.argv) > 1 else None
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        root = Path(tmp).resolve()
        prefix = root / "prefix"
        for i in range(FILES):
            f = prefix / f"share/d{i % 100:02}/sub{i % 7}/f{i}"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(f"{i}\n")
        stage = staged_prefix(root / "stage", prefix)
        for i in range(3000):
            f = stage / f"lib/p{i % 30}/g{i}"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(f"{i}\n")
        snaps, compares = [], []
        for _ in range(5):
            t = time.perf_counter()
            before = snapshot(prefix)
            snaps.append(time.perf_counter() - t)
            after = snapshot(prefix)
            t = time.perf_counter()
            compare(before, after, set())
            compares.append(time.perf_counter() - t)
        t = time.perf_counter()
        merge(root / "stage", prefix, Installed("p", "1", "h"), PrefixState(prefix))
        merged = time.perf_counter() - t
        snap, comp = statistics.median(snaps), statistics.median(compares)
        watch = 2 * snap + comp
        print(f"prefix of {len(before)} paths ({FILES} files) in {root}")
        print(f"snapshot: median {snap * 1000:.1f} ms (5 runs); compare: "
              f"{comp * 1000:.1f} ms")
        print(f"per package built (2 snapshots + compare): {watch * 1000:.1f} ms")
        print(f"merging a 3000-file package into it: {merged * 1000:.0f} ms "
              f"(the watch costs {watch / merged:.2f}x that)")


if __name__ == "__main__":
    main()
