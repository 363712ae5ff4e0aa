"""What putting every recipe's ``files/NAME/`` folder into its build hash costs at plan time:
loading every shipped recipe (what `srcbuild plan` does once, for the provider index) with and
without the digest of those folders, in one process, alternating, medians of 20.

    .venv/bin/python bench/files_digest.py

On the 2-core machine the feature was written on (load average about 13): 34 recipes,
10 files/ folders of 176 KiB; loading all recipes took about 40 ms either way, the digests
8 ms. `srcbuild plan lab-x86` medians of 7 alternating runs: 2.42 s wall / 0.37 s CPU
before, 2.59 s / 0.36 s after; the same CPU, so no mtime cache was needed.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from srcbuild import recipe as recipes_module
from srcbuild.recipe import builtin_recipe_dir, files_dir, tree_digest

ROUNDS = 20


def load_all(paths: list[Path]) -> None:
    for p in paths:
        recipes_module.load(p)


def digests(paths: list[Path]) -> None:
    for p in paths:
        folder = files_dir(p.parent, p.stem)
        if folder.is_dir():
            tree_digest(folder, p)


def main() -> None:
    paths = sorted(builtin_recipe_dir().glob("*.toml"))
    with_digest, digest_only = [], []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        load_all(paths)  # load() includes the files/ digest
        t1 = time.perf_counter()
        digests(paths)
        t2 = time.perf_counter()
        with_digest.append(t1 - t0)
        digest_only.append(t2 - t1)
    load_ms = statistics.median(with_digest) * 1000
    files_ms = statistics.median(digest_only) * 1000
    folders = [files_dir(p.parent, p.stem) for p in paths]
    size = sum(f.stat().st_size for d in folders if d.is_dir() for f in d.rglob("*")
               if f.is_file())
    print(f"{len(paths)} recipes, {sum(d.is_dir() for d in folders)} files/ folders, "
          f"{size / 1024:.0f} KiB")
    print(f"load every recipe (with the files/ digests): {load_ms:.1f} ms")
    print(f"of which the files/ digests alone:          {files_ms:.1f} ms "
          f"({files_ms / load_ms:.0%})")


if __name__ == "__main__":
    main()
