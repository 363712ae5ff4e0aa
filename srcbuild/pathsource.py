"""A ``path`` source's digest: names, modes and contents, refusing what cannot be read safely.

A FIFO would block the read forever (``plan`` hung), a socket fails, a device may never
end: a path source may hold only regular files, folders and symbolic links.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from srcbuild.errors import RecipeError

_SPECIAL = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket",
            stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}


def _refuse(recipe: Path, root: Path, rel: str, problem: str) -> RecipeError:
    where = f"the path source {root}" + (f" holds {rel!r}, which" if rel else "")
    return RecipeError(
        f"Recipe {recipe}: {where} {problem}; a path source may contain only regular files, "
        "folders and symbolic links.",
        "Remove it from that folder, or point `path` at a folder without it.")


def tree_digest(root: Path, recipe: Path) -> str:
    """sha256 over the names, modes and contents of a local source folder (or one file).

    Raises RecipeError (naming ``recipe``) for a FIFO, socket or device, or a file that
    cannot be read. The digest of a folder without such files is the one srcbuild always
    computed, so build hashes do not change.
    """
    h = hashlib.sha256()
    try:
        mode = root.stat().st_mode
    except FileNotFoundError:
        return "missing"
    except OSError as e:
        raise _refuse(recipe, root, "", f"cannot be read ({e.strerror})") from None
    if stat.S_IFMT(mode) in _SPECIAL:
        raise _refuse(recipe, root, "", f"is {_SPECIAL[stat.S_IFMT(mode)]}")
    if stat.S_ISREG(mode):
        h.update(_read(root, recipe, root, ""))
        return h.hexdigest()
    if not stat.S_ISDIR(mode):
        return "missing"
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fname in sorted(filenames):
            full = Path(dirpath, fname)
            rel = full.relative_to(root).as_posix()
            h.update(rel.encode() + b"\0")
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode):
                h.update(b"L" + os.readlink(full).encode())
            elif stat.S_ISREG(mode):
                h.update(b"X" if os.access(full, os.X_OK) else b"F")
                h.update(_read(full, recipe, root, rel))
            else:
                kind = _SPECIAL.get(stat.S_IFMT(mode), "not a regular file")
                raise _refuse(recipe, root, rel, f"is {kind}")
    return h.hexdigest()


def _read(path: Path, recipe: Path, root: Path, rel: str) -> bytes:
    # O_NONBLOCK: should a FIFO appear between the lstat and the open, no hang
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise _refuse(recipe, root, rel, "is not a regular file")
            return f.read()
    except OSError as e:
        raise _refuse(recipe, root, rel, f"cannot be read ({e.strerror})") from None
