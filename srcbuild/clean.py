"""What `srcbuild clean` may remove from a cache, and what the cache holds.

Removable: work folders (CACHE/work/NAME-HASH) that no live run holds (workdirs.py: a killed
run's, or one a finished run kept: a failed build, --keep-build), and extracted source trees
(CACHE/src/KEY) that no recipe's current sha256 uses. Never the verified archives
(CACHE/sources), the private Debian index (CACHE/apt), nor the logs and run records (their
pruning belongs with per-run records).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from srcbuild.recipe import Recipe
from srcbuild.workdirs import idle_work, remove_idle

# an extraction that was stopped leaves a hidden temporary folder; one this old is stale
STALE_TEMP_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Removable:
    path: Path
    size: int
    why: str
    work: bool = False  # a work folder: removed through its lock (workdirs.remove_idle)


def tree_size(path: Path) -> int:
    """Bytes under ``path`` (its entries' own sizes, links not followed)."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames + dirnames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def stale_work(cache: Path) -> list[Removable]:
    """Work folders no live run holds (a running build's folder is never among them)."""
    return [Removable(folder, tree_size(folder),
                      "left by a killed run" if killed else
                      "kept by a finished run (a failed build, or --keep-build)", work=True)
            for folder, killed in idle_work(cache)]


def unused_trees(cache: Path, recipes: Iterable[Recipe]) -> list[Removable]:
    """Extracted trees whose archive's sha256 no recipe lists now (they are made again from
    the archive if it comes back)."""
    used = {s.sha256[:20] for r in recipes for s in r.sources if s.sha256}
    out = []
    src = cache / "src"
    now = time.time()
    for tree in sorted(src.iterdir()) if src.is_dir() else []:
        if tree.name.startswith("."):
            if now - tree.stat().st_mtime > STALE_TEMP_SECONDS:
                out.append(Removable(tree, tree_size(tree), "an extraction that was stopped"))
            continue
        key = tree.name.split("-")[0]
        if key not in used:
            out.append(Removable(tree, tree_size(tree), f"no recipe uses sha256 {key}..."))
    return out


def remove(items: Iterable[Removable]) -> list[Removable]:
    """Remove them; those left alone (a run claimed the work folder meanwhile)."""
    kept = []
    for item in items:
        if not item.work:
            shutil.rmtree(item.path, ignore_errors=True)
        elif remove_idle(item.path) is None:
            kept.append(item)
    return kept


def usage(cache: Path) -> list[tuple[str, int]]:
    """(folder, bytes) for each top-level folder of the cache."""
    if not cache.is_dir():
        return []
    return [(p.name, tree_size(p) if p.is_dir() else p.stat().st_size)
            for p in sorted(cache.iterdir()) if not p.name.startswith(".")]
