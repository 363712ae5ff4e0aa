"""Notice a build that writes into the live prefix instead of the stage: an lstat snapshot of
the prefix (mode, inode, size, mtime, ctime per path) when a package's first step starts,
compared before its merge or when a step fails. Changes that the merges of this run made
meanwhile are theirs, not the package's; Python's ``__pycache__`` files are nobody's bug."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from srcbuild.state import STATE_DIR

Entry = tuple[int, int, int, int, int]  # st_mode, st_ino, st_size, st_mtime_ns, st_ctime_ns
SHOWN = 5  # paths listed per kind of change


def snapshot(prefix: Path) -> dict[str, Entry]:
    """Every path under the prefix (srcbuild's state folder excepted) with its lstat."""
    out: dict[str, Entry] = {}
    todo = [""]
    while todo:
        rel = todo.pop()
        try:
            entries = os.scandir(prefix / rel if rel else prefix)
        except OSError:  # gone meanwhile, or not readable: nothing to compare there
            continue
        with entries:
            for e in entries:
                path = f"{rel}/{e.name}" if rel else e.name
                if path == STATE_DIR:
                    continue
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                out[path] = (st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns,
                             st.st_ctime_ns)
                if stat.S_ISDIR(st.st_mode):
                    todo.append(path)
    return out


@dataclass(frozen=True)
class Changes:
    """Paths created, modified and deleted in the prefix, relative to it."""

    created: list[str]
    modified: list[str]
    deleted: list[str]

    def __bool__(self) -> bool:
        return bool(self.created or self.modified or self.deleted)

    def describe(self, owner: Callable[[str], str | None]) -> str:
        """'created bin/x; modified lib/liba.so (installed by alpha)'."""
        parts = []
        for verb, paths in (("created", self.created), ("modified", self.modified),
                            ("deleted", self.deleted)):
            if paths:
                shown = [p + (f" (installed by {o})" if (o := owner(p)) else "")
                         for p in paths[:SHOWN]]
                more = f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else ""
                parts.append(f"{verb} {', '.join(shown)}{more}")
        return "; ".join(parts)


def compare(before: dict[str, Entry], after: dict[str, Entry], explained: Collection[str]
            ) -> Changes:
    """What changed, less the ``explained`` paths; a created or deleted folder is named only
    when nothing beneath it is."""
    def reported(path: str) -> bool:
        return path not in explained and "__pycache__" not in path.split("/")

    created = sorted(p for p in after if p not in before and reported(p))
    deleted = sorted(p for p in before if p not in after and reported(p))
    modified = sorted(p for p in after if p in before and after[p] != before[p]
                      and not (stat.S_ISDIR(after[p][0]) and stat.S_ISDIR(before[p][0]))
                      and reported(p))

    def leaves(paths: list[str]) -> list[str]:
        above = {p.rsplit("/", k)[0] for p in paths for k in range(1, p.count("/") + 1)}
        return [p for p in paths if p not in above]

    return Changes(leaves(created), modified, leaves(deleted))


@dataclass
class PrefixWatch:
    """A snapshot of the prefix, and how many merges of this run had happened when it was
    taken (``merged`` is the run's list of what each merge touched)."""

    prefix: Path
    merged: list[frozenset[str]]
    start: int
    before: dict[str, Entry]

    @classmethod
    def begin(cls, prefix: Path, merged: list[frozenset[str]]) -> PrefixWatch:
        start = len(merged)  # before the snapshot: a merge during it is then explained
        return cls(prefix, merged, start, snapshot(prefix))

    def changes(self) -> Changes:
        explained = set().union(*self.merged[self.start:])
        return compare(self.before, snapshot(self.prefix), explained)
