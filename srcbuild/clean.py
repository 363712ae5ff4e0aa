"""What `srcbuild clean` may remove from a cache, and what the cache holds.

Removable: work folders (CACHE/work/NAME-HASH) that no live run holds (workdirs.py: a killed
run's, or one a finished run kept: a failed build, --keep-build), and extracted source trees
(CACHE/src/KEY) that no recipe's current sha256 uses, and old runs (their events, logs and
report page; runindex.prunable says which: never the last run that built something, nor one
an install record points at). Never the verified archives (CACHE/sources) nor the private
Debian index (CACHE/apt).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from srcbuild.recipe import Recipe
from srcbuild.runindex import old_layout, prunable, remove_run
from srcbuild.runs import report_page
from srcbuild.workdirs import idle_work, remove_idle

# an extraction that was stopped leaves a hidden temporary folder; one this old is stale
STALE_TEMP_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Removable:
    path: Path  # a run's: its events file
    size: int
    why: str
    kind: str = "tree"  # tree; work (removed through its lock: workdirs.remove_idle); run

    def label(self, cache: Path) -> str:
        if self.kind == "run":
            return f"run {self.path.name.removesuffix('.jsonl')}"
        return str(self.path.relative_to(cache))


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
                      "kept by a finished run (a failed build, or --keep-build)", kind="work")
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


def old_runs(cache: Path, keep_days: float, also: tuple[Path, ...] = ()
             ) -> tuple[list[Removable], dict[str, str]]:
    """Runs to prune (runindex.prunable) and what srcbuild kept before run ids, with what
    keeps each other run (run id -> why)."""
    found, kept = prunable(cache, keep_days, also)
    out = [Removable(p.info.events, _file_size(p.info.events)
                     + _file_size(report_page(cache, p.info.run_id)) + tree_size(p.info.logs),
                     p.why, kind="run") for p in found]
    out += [Removable(p, tree_size(p) if p.is_dir() else _file_size(p),
                      f"from before run ids; older than {keep_days:g} days")
            for p in old_layout(cache, keep_days)]
    return out, kept


def _file_size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


def remove(cache: Path, items: Iterable[Removable]) -> list[Removable]:
    """Remove them; those left alone (a run claimed the work folder meanwhile)."""
    kept = []
    for item in items:
        if item.kind == "run":
            remove_run(cache, item.path.name.removesuffix(".jsonl"))
        elif item.kind == "work":
            if remove_idle(item.path) is None:
                kept.append(item)
        elif item.path.is_dir() and not item.path.is_symlink():
            shutil.rmtree(item.path, ignore_errors=True)
        else:
            item.path.unlink(missing_ok=True)
    return kept


def usage(cache: Path) -> list[tuple[str, int]]:
    """(folder, bytes) for each top-level folder of the cache."""
    if not cache.is_dir():
        return []
    return [(p.name, tree_size(p) if p.is_dir() else p.stat().st_size)
            for p in sorted(cache.iterdir()) if not p.name.startswith(".")]
