"""Tar extraction that cannot write outside its folder, whatever the archive and the Python.

Sources and binary-cache restores both come through here. Members are created one by one
relative to directory file descriptors opened with ``O_DIRECTORY | O_NOFOLLOW``, one path
component at a time, and files with ``O_CREAT | O_EXCL | O_NOFOLLOW``: a name the archive
made a symbolic link is never followed, so no chain of links (CVE-2007-4559, the PATH_MAX
trick of CVE-2025-4517) can move a write elsewhere. Symbolic links are created as links; their
targets are resolved through the archive's own links in a record of the tree (no filesystem
access, no realpath), when created and again at the end, and must stay inside. Hard links
point only at regular files extracted before them.
We do not use ``TarFile.extractall`` or its ``filter=`` (absent before 3.11.4 and the very
thing CVE-2025-4517 bypassed): its safety rests on ``os.path.realpath`` of strings.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from srcbuild.errors import FetchError

CHUNK = 1 << 20
MAX_LINK_HOPS = 40  # the kernel's own limit for following symbolic links in one lookup
_OPEN_DIRS = 64  # directory descriptors kept open between members (archives are grouped)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

UNSAFE_HINT = ("The archive is damaged or malicious; check where it came from and its sha256. "
               "Nothing was extracted.")
DAMAGED_HINT = "The file is damaged: delete it from the cache and fetch again."


class UnsafeArchive(FetchError):
    """A member that would write outside the folder, or is not a file, folder or link."""


class _Refused(Exception):
    """Internal: why one member is refused (turned into UnsafeArchive with the names)."""

    def __init__(self, why: str, member: str = "") -> None:
        super().__init__(why)
        self.member = member  # set when the member is not the one being extracted


@dataclass
class _Tree:
    """What this extraction created, by normalized name, and the descriptors it holds."""

    root_fd: int
    kinds: dict[str, str] = field(default_factory=dict)  # name -> "d" | "f" | "l"
    links: dict[str, str] = field(default_factory=dict)  # name -> target, for kind "l"
    dir_meta: dict[str, tuple[int, float]] = field(default_factory=dict)  # mode, mtime
    fds: OrderedDict[str, int] = field(default_factory=OrderedDict)

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    # -- walking: one component at a time, never through a link -------------------------
    def dir_fd(self, parts: tuple[str, ...]) -> int:
        """The directory ``parts`` (created when missing); refused when any part is not one."""
        if not parts:
            return self.root_fd
        key = "/".join(parts)
        fd = self.fds.get(key)
        if fd is not None:
            self.fds.move_to_end(key)
            return fd
        parent = self.dir_fd(parts[:-1])
        name = parts[-1]
        kind = self.kinds.get(key)
        if kind is None:  # an implicit folder (its member is missing or comes later)
            os.mkdir(name, 0o755, dir_fd=parent)
            self.kinds[key] = "d"
        elif kind != "d":
            what = "a symbolic link" if kind == "l" else "a regular file"
            raise _Refused(f"its folder {key!r} is {what} in this archive; srcbuild never "
                           "writes through a link or into a file")
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError as e:  # the record says folder: something else changed the tree
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _Refused(f"its folder {key!r} is not a folder on disk") from None
            raise
        self.fds[key] = fd
        if len(self.fds) > _OPEN_DIRS:
            os.close(self.fds.popitem(last=False)[1])
        return fd

    def clear_leaf(self, name: str, parent: int, key: str, new: str) -> None:
        """Make room for a new entry ``key``: an old file or link goes, a folder is refused."""
        old = self.kinds.get(key)
        if old == "d":
            raise _Refused(f"it would replace the folder {key!r} with a {new}")
        if new == "folder" and old is not None:
            what = "symbolic link" if old == "l" else "file"
            raise _Refused(f"it would replace the {what} {key!r} with a folder")
        if old is not None:
            os.unlink(name, dir_fd=parent)
            self.kinds.pop(key)
            self.links.pop(key, None)

    # -- link targets, resolved in the record of this tree ------------------------------
    def resolve(self, start: list[str], target: str, hops: int = 0) -> tuple[list[str], int]:
        """Where ``target`` (relative to folder ``start``) leads, following this tree's links.

        The stack only ever holds real folders (every link met is expanded), so ``..`` is
        exact. Past a missing name the rest is taken lexically, which is stricter than the
        kernel (it would stop there).
        """
        stack = list(start)
        for comp in target.split("/"):
            if comp in ("", "."):
                continue
            if comp == "..":
                if not stack:
                    raise _Refused("the target climbs above the extraction folder")
                stack.pop()
                continue
            stack.append(comp)
            key = "/".join(stack)
            if self.kinds.get(key) == "l":
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise _Refused("the chain of symbolic links is too long (a loop?)")
                inner = self.links[key]
                if inner.startswith("/"):
                    raise _Refused(f"the target passes through {key!r}, a link to an absolute path")
                stack.pop()
                stack, hops = self.resolve(stack, inner, hops)
        return stack, hops


def _split(name: str) -> tuple[str, ...]:
    """A member name as components; refused when absolute or when any component is ``..``."""
    if name.startswith("/"):
        raise _Refused("its path is absolute, so it leaves the extraction folder")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise _Refused("its path contains '..', so it leaves the extraction folder")
    return parts


def _file_mode(mode: int) -> int:
    # no setuid, setgid or sticky bit, and nobody else may rewrite what we built
    return stat.S_IMODE(mode) & 0o775


def _dir_mode(mode: int) -> int:
    return _file_mode(mode) | 0o700  # the owner must be able to fill (and later remove) it


def _member(tf: tarfile.TarFile, m: tarfile.TarInfo, tree: _Tree) -> None:
    parts = _split(m.name)
    key = "/".join(parts)
    if not parts:
        if m.isdir():
            return  # "./": the extraction folder itself, whose mode stays ours
        raise _Refused("it has no name")
    if m.ischr() or m.isblk():
        raise _Refused("it is a device file")
    if m.isfifo():
        raise _Refused("it is a FIFO (named pipe)")
    if not (m.isreg() or m.isdir() or m.issym() or m.islnk()):
        raise _Refused(f"its type {m.type!r} is not a file, folder or link")
    parent = tree.dir_fd(parts[:-1])
    name = parts[-1]
    if m.isdir():
        if tree.kinds.get(key) != "d":
            tree.clear_leaf(name, parent, key, "folder")
            os.mkdir(name, 0o700, dir_fd=parent)
            tree.kinds[key] = "d"
        tree.dir_meta[key] = (_dir_mode(m.mode), m.mtime)
    elif m.isreg():
        tree.clear_leaf(name, parent, key, "file")
        fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=parent)
        try:
            src = tf.extractfile(m)
            if src is not None:
                with src:
                    while chunk := src.read(CHUNK):
                        _write_all(fd, chunk)
            os.fchmod(fd, _file_mode(m.mode))
            os.utime(fd, (m.mtime, m.mtime))
        finally:
            os.close(fd)
        tree.kinds[key] = "f"
    elif m.issym():
        target = m.linkname
        if target.startswith("/"):
            raise _Refused(f"it is a symbolic link to the absolute path {target!r}")
        # refuse what leaves the tree as it is now (an early, clear message); the final
        # check in _finish sees links that later members add to the chain
        try:
            tree.resolve(list(parts[:-1]), target)
        except _Refused as e:
            raise _Refused(f"it is a symbolic link to {target!r}, and {e}") from None
        tree.clear_leaf(name, parent, key, "symbolic link")
        os.symlink(target, name, dir_fd=parent)
        os.utime(name, (m.mtime, m.mtime), dir_fd=parent, follow_symlinks=False)
        tree.kinds[key] = "l"
        tree.links[key] = target
    else:
        _hard_link(m, parts, tree)


def _hard_link(m: tarfile.TarInfo, parts: tuple[str, ...], tree: _Tree) -> None:
    try:
        src = _split(m.linkname)
    except _Refused as e:
        raise _Refused(f"it is a hard link to {m.linkname!r}: {e}") from None
    if not src:
        raise _Refused(f"it is a hard link to {m.linkname!r}, which names no file")
    src_key, key = "/".join(src), "/".join(parts)
    for i in range(1, len(src) + 1):
        kind = tree.kinds.get("/".join(src[:i]))
        if kind is None or (kind != "d" and i < len(src)) or (kind != "f" and i == len(src)):
            what = {None: "not a file extracted before it", "l": "a symbolic link",
                    "d": "a folder", "f": "a file"}[kind]
            raise _Refused(f"it is a hard link to {m.linkname!r}, and {'/'.join(src[:i])!r} "
                           f"is {what}; hard links may only point at regular files extracted "
                           "before them")
    if src_key == key:
        return  # a link to itself: the file is already there
    src_fd = os.dup(tree.dir_fd(src[:-1]))  # dup: the next lookup may close a cached one
    try:
        if not stat.S_ISREG(os.stat(src[-1], dir_fd=src_fd, follow_symlinks=False).st_mode):
            raise _Refused(f"it is a hard link to {m.linkname!r}, which is not a regular file")
        parent = tree.dir_fd(parts[:-1])
        tree.clear_leaf(parts[-1], parent, key, "hard link")
        os.link(src[-1], parts[-1], src_dir_fd=src_fd, dst_dir_fd=parent, follow_symlinks=False)
    finally:
        os.close(src_fd)
    tree.kinds[key] = "f"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _finish(tree: _Tree) -> None:
    """Check every link against the final tree, then give folders their modes and times."""
    for key, target in tree.links.items():
        parts = key.split("/")
        try:
            tree.resolve(parts[:-1], target)
        except _Refused as e:
            raise _Refused(f"it is a symbolic link to {target!r}, and {e}", key) from None
    for key, (mode, mtime) in sorted(tree.dir_meta.items(), key=lambda kv: -kv[0].count("/")):
        fd = tree.dir_fd(tuple(key.split("/")))
        os.fchmod(fd, mode)
        os.utime(fd, (mtime, mtime))


@contextmanager
def _open(archive: Path) -> Iterator[tarfile.TarFile]:
    """The archive as a tar stream, decompressed by the format its first bytes name."""
    with ExitStack() as stack:
        raw = stack.enter_context(open(archive, "rb"))
        magic = raw.read(6)
        raw.seek(0)
        if magic.startswith(_ZSTD_MAGIC):
            raise FetchError(f"Cannot extract {archive}: it is zstd-compressed, and Python's "
                             "tarfile reads zstd only from Python 3.14.",
                             "Use a .tar.gz/.tar.xz/.tar.bz2 source, or unpack it with zstd -d "
                             "into a .tar next to the recipe.")
        stream: io.BufferedIOBase = raw
        if magic.startswith(b"\x1f\x8b"):
            stream = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
        elif magic.startswith(b"BZh"):
            stream = stack.enter_context(bz2.BZ2File(raw))
        elif magic.startswith(b"\xfd7zXZ\x00"):
            stream = stack.enter_context(lzma.LZMAFile(raw))
        elif magic.startswith(b"\x5d\x00"):  # legacy .lzma, whatever its dictionary size
            stream = stack.enter_context(lzma.LZMAFile(raw, format=lzma.FORMAT_ALONE))
        # streaming mode: one forward pass of decompression, never a seek back
        yield stack.enter_context(tarfile.open(fileobj=stream, mode="r|"))


def extract(archive: Path, dest: Path) -> int:
    """Extract ``archive`` into the existing, empty folder ``dest``; the newest member's mtime.

    Raises UnsafeArchive (naming the archive, the member and why) or FetchError for a damaged
    archive. On error ``dest`` holds a partial tree: callers extract into a temporary folder
    and rename it (``extract_to`` does both).
    """
    newest = 0
    current = ""
    root_fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    tree = _Tree(root_fd)
    try:
        with _open(archive) as tf:
            for m in tf:
                current = m.name
                newest = max(newest, int(m.mtime))
                _member(tf, m, tree)
            current = ""
            _finish(tree)
    except _Refused as e:
        member = f"member {e.member or current!r}"
        raise UnsafeArchive(f"Refusing to extract {archive}: {member} is unsafe: {e}.",
                            UNSAFE_HINT) from None
    except (tarfile.TarError, EOFError, OSError, OverflowError, ValueError, lzma.LZMAError) as e:
        member = f" at member {current!r}" if current else ""
        raise FetchError(f"Cannot extract {archive}{member}: {e}.", DAMAGED_HINT) from None
    finally:
        tree.close()
        os.close(root_fd)
    return newest


@contextmanager
def tree_beside(target: Path, archive: Path, what: str, tag: str) -> Iterator[Path]:
    """A temporary folder next to ``target`` for the body to fill; when the body succeeds it
    is renamed to ``target`` (absent or an empty folder), an OSError on the way becoming a
    FetchError that names ``what`` (extracted, restored) ``archive``. On any error nothing is
    left behind. Shared by extract_to and the binary cache's verified restore."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{tag}-", dir=target.parent))
    try:
        try:
            yield tmp
            if target.is_dir() and not target.is_symlink():
                target.rmdir()  # an empty placeholder; a full one raises ENOTEMPTY below
            os.rename(tmp, target)
        except OSError as e:
            raise FetchError(f"Cannot put the {what} {archive} in place at {target}: {e}.",
                             f"Remove {target} and run again.") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def extract_to(archive: Path, target: Path) -> int:
    """Extract into a temporary folder next to ``target``, then rename it to ``target``.

    ``target`` must not exist or be an empty folder. On any error nothing is left behind.
    """
    with tree_beside(target, archive, "extracted", "extract") as tmp:
        epoch = extract(archive, tmp)
    return epoch
