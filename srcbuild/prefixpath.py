"""Paths inside a prefix: a recorded path is checked before anything acts on it, and each
path is resolved component by component (lstat and readlink, never realpath), so that no
write or removal follows a symlink out of the prefix; and the filesystem a path is on, for
the message of a full disk."""

from __future__ import annotations

import os
import stat
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path

from srcbuild.state import STATE_DIR

MAX_LINKS = 40  # symlinks followed for one path, as the kernel's ELOOP limit


def bad_path(rel: str) -> str:
    """Why ``rel`` cannot be a prefix-relative path srcbuild acts on, or ''."""
    if not isinstance(rel, str) or not rel:
        return "not a path"
    if "\0" in rel:
        return "contains a NUL byte"
    if rel.startswith("/"):
        return "an absolute path"
    parts = rel.split("/")
    if ".." in parts:
        return "climbs out with .."
    if any(p in ("", ".") for p in parts):
        return "not a normalised path"
    if parts[0] == STATE_DIR:
        return "inside srcbuild's own state folder"
    return ""


@dataclass(frozen=True)
class Where:
    """Where a prefix-relative path really is, once its parent symlinks are followed."""

    rel: str  # the path, its parent folders resolved, relative to the prefix
    missing: str = ""  # the first parent folder that does not exist yet (created by a merge)
    outside: str = ""  # "share/x -> /etc": the symlink that leads out of the prefix
    not_a_folder: str = ""  # a parent that exists and is a file, or a link to one
    via: tuple[str, ...] = ()  # the symlinks followed, relative to the prefix


def locate(prefix: Path, rel: str, absent: Container[str] = (),
           folders: dict[str, Where] | None = None) -> Where:
    """Resolve the parent folders of ``rel`` inside ``prefix`` (the final component is not
    followed: that is what a merge replaces or an uninstall removes). Paths in ``absent``
    count as missing (a merge sets them aside before it creates folders). ``folders``
    keeps each folder's resolution for the next path in it (a merge locates thousands)."""
    folder, _, name = rel.rpartition("/")
    found = folders.get(folder) if folders is not None else None
    if found is None:
        found = _folder(prefix, folder, absent)
        if folders is not None:
            folders[folder] = found
    if found.outside or found.not_a_folder:
        return Where(rel, outside=found.outside, not_a_folder=found.not_a_folder,
                     via=found.via)
    return Where(f"{found.rel}/{name}" if found.rel else name, missing=found.missing,
                 via=found.via)


def _folder(prefix: Path, folder: str, absent: Container[str]) -> Where:
    """Where ``folder`` really is, following every symlink on the way."""
    root = str(prefix)  # strings, not Paths: a merge resolves thousands of paths
    todo = folder.split("/")[::-1] if folder else []
    done: list[str] = []
    via: list[str] = []
    missing = ""
    while todo:
        comp = todo.pop()
        if comp in ("", "."):
            continue
        if comp == "..":
            if not done:
                return Where(folder, outside=via[-1] if via else folder, via=tuple(via))
            done.pop()
            continue
        here = "/".join(done + [comp])
        if missing or here in absent:
            missing = missing or here
            done.append(comp)
            continue
        try:
            st = os.lstat(f"{root}/{here}")
        except FileNotFoundError:
            missing = here
            done.append(comp)
            continue
        if stat.S_ISDIR(st.st_mode):
            done.append(comp)
        elif stat.S_ISLNK(st.st_mode):
            target = os.readlink(f"{root}/{here}")
            via.append(f"{here} -> {target}")
            if len(via) > MAX_LINKS:
                return Where(folder, outside=via[-1], via=tuple(via))
            if target.startswith("/"):
                inside = _inside(prefix, target)
                if inside is None:
                    return Where(folder, outside=via[-1], via=tuple(via))
                done = []
                target = inside
            todo.extend(reversed(target.split("/")))
        else:
            return Where(folder, not_a_folder=here, via=tuple(via))
    return Where("/".join(done), missing=missing, via=tuple(via))


def _inside(prefix: Path, target: str) -> str | None:
    """An absolute symlink target relative to the prefix, or None when it is outside."""
    norm = os.path.normpath(target)
    root = str(prefix)
    if norm == root:
        return "."
    if norm.startswith(root.rstrip("/") + "/"):
        return norm[len(root.rstrip("/")) + 1:]
    return None


def filesystem(path: Path) -> str:
    """'the filesystem mounted at /mnt/p (0 bytes free of 4194304)': where ``path`` is
    stored, for the message of a full disk."""
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        dev = p.stat().st_dev
        while p != p.parent and p.parent.stat().st_dev == dev:
            p = p.parent
        vfs = os.statvfs(p)
    except OSError:
        return f"the filesystem of {path}"
    free, size = vfs.f_bavail * vfs.f_frsize, vfs.f_blocks * vfs.f_frsize
    return f"the filesystem mounted at {p} ({free} bytes free of {size})"
