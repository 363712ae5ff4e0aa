"""The paths a run touches that the machine may refuse (the prefix, the cache, an output file,
a recipe folder): an OSError on one of them becomes one paragraph that names the path, what
it is for and the cure; and a look ahead, for plan and doctor, at whether a prefix can be
written at all.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srcbuild.errors import EXIT_USAGE, PathError


@dataclass(frozen=True)
class Place:
    """A path given (or defaulted) on the command line, and how to pick another."""

    path: Path
    what: str  # "the prefix", "the source cache", ...
    option: str  # "--prefix DIR", ...


def places(args: Any) -> list[Place]:
    """The paths of a parsed command line, defaults included (the library's own)."""
    out = []

    def given(name: str) -> Any:
        return getattr(args, name, None)

    if hasattr(args, "prefix"):
        from srcbuild.api import default_prefix

        out.append(Place(given("prefix") or default_prefix(), "the prefix",
                         "--prefix DIR (or SRCBUILD_PREFIX)"))
    if hasattr(args, "cache_dir"):
        from srcbuild.api import default_cache_dir

        out.append(Place(given("cache_dir") or default_cache_dir(), "the cache",
                         "--cache-dir DIR (or SRCBUILD_CACHE)"))
    if given("output") is not None:
        out.append(Place(given("output"), "the output file", "-O FILE"))
    if given("dir") is not None:
        out.append(Place(given("dir"), "the folder DIR", "another DIR"))
    if given("locked") is not None:
        out.append(Place(given("locked"), "the lock file", "--locked FILE"))
    out += [Place(d, "a recipe folder", "--recipes DIR") for d in given("recipe_dirs") or []]
    out += [Place(d, "a mirror", "--mirror DIR") for d in given("mirrors") or []]
    return out


def _within(path: Path, folder: Path) -> bool:
    try:
        path.absolute().relative_to(folder.absolute())
    except ValueError:
        return False
    return True


def explain(e: OSError, args: Any) -> PathError:
    """The error a user reads for an OSError of a run with these arguments."""
    return explain_in(e, places(args))


def explain_in(e: OSError, known: Iterable[Place]) -> PathError:
    """Name the path, the place it belongs to (the deepest one) and the cure for its errno."""
    filename = e.filename if e.filename is not None else e.filename2
    path = Path(os.fsdecode(filename)) if filename is not None else None
    place = None
    if path is not None:
        matching = [p for p in known if _within(path, p.path)]
        place = max(matching, key=lambda p: len(p.path.absolute().parts), default=None)
    reason = e.strerror or str(e)
    where = f"{path}" if path is not None else "a file"
    if place is not None:
        where += f" ({place.what}, {place.path})" if path != place.path else f" ({place.what})"
    error = PathError(f"Cannot use {where}: {reason}.", _cure(e.errno, place, path))
    if place is not None and place.what == "a recipe folder":
        error.exit_code = EXIT_USAGE
    return error


def _cure(code: int | None, place: Place | None, path: Path | None) -> str:
    other = f"choose another with {place.option}" if place else "choose another path"
    if code in (errno.EACCES, errno.EPERM):
        owner = ""
        if path is not None:
            existing = nearest_existing(path)
            owner = f" (it is {existing}, owned by uid {existing.stat().st_uid})" if \
                existing is not None else ""
        return (f"You (uid {os.geteuid()}) may not write there{owner}: {other}, or give "
                "yourself write access to it.")
    if code == errno.EROFS:
        return f"It is on a read-only file system: {other} on a writable one."
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"The file system is full: free some space (`srcbuild clean`), or {other}."
    if code == errno.ENOENT:
        return f"A folder on the way does not exist: create it, or {other}."
    if code in (errno.ENOTDIR, errno.EISDIR, errno.EEXIST):
        return f"Something of the wrong kind is in the way (a file for a folder, or the " \
               f"reverse): move it, or {other}."
    return f"Fix that path, or {other}."


def nearest_existing(path: Path) -> Path | None:
    """The path itself or its nearest ancestor that exists."""
    for candidate in (path, *path.absolute().parents):
        if candidate.exists():
            return candidate
    return None


def not_writable(folder: Path) -> str:
    """Why a folder (that may not exist yet) cannot be written by this user, or ''."""
    existing = nearest_existing(folder)
    if existing is None:
        return ""
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        try:
            readonly = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
        except OSError:
            readonly = False
        if readonly:
            return f"{existing} is on a read-only file system"
        return f"you (uid {os.geteuid()}) may not write to {existing} " \
               f"(owned by uid {existing.stat().st_uid}, mode {existing.stat().st_mode & 0o777:o})"
    return ""
