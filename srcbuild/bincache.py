"""The binary cache: checked staged trees stored as reproducible archives, keyed by build hash.

The engine only sees the ``BinaryCache`` protocol; ``open_cache`` turns a ``--binary-cache``
value into an implementation, so an HTTP or S3 cache is one more class here.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import stat
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from srcbuild import __version__
from srcbuild.errors import SrcbuildError, UsageError
from srcbuild.extract import extract_to
from srcbuild.fetch import sha256_file

Manifest = dict[str, Any]


class CorruptEntry(SrcbuildError):
    """A cache entry whose archive does not match its manifest; it has been removed."""


class BinaryCache(Protocol):
    def get(self, key: str) -> Path | None:
        """A local, verified archive for ``key``, or None. Raises CorruptEntry."""
        ...

    def put(self, key: str, archive: Path, manifest: Manifest) -> None: ...

    def manifest(self, key: str) -> Manifest | None: ...

    def describe(self) -> str: ...


def pack(stage: Path, archive: Path, epoch: int) -> list[str]:
    """Write ``stage`` as a tar.gz that depends only on the tree's content; return its files.

    Members are sorted, mtimes clamped to ``epoch`` (SOURCE_DATE_EPOCH), owners 0/0 with
    no names, and the gzip header carries no name and the same mtime.
    """
    entries: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(stage):
        dirnames.sort()
        here = Path(dirpath)
        entries.extend(here / d for d in dirnames)
        entries.extend(here / f for f in filenames)
    entries.sort(key=lambda p: p.relative_to(stage).as_posix())
    files: list[str] = []
    with open(archive, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=epoch, compresslevel=6) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path in entries:
            rel = path.relative_to(stage).as_posix()
            info = tf.gettarinfo(str(path), arcname=rel)
            info.mtime = min(int(info.mtime), epoch)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = stat.S_IMODE(info.mode)
            if info.isreg():
                with open(path, "rb") as f:
                    tf.addfile(info, f)
            else:
                tf.addfile(info)
            if not info.isdir():
                files.append(rel)
    return files


def unpack(archive: Path, stage: Path) -> None:
    """Extract an archive made by ``pack`` as the staged prefix ``stage`` (absent or empty).

    Safely, like a source, into a temporary folder next to ``stage`` that is renamed into
    place, so a refused or damaged entry leaves no partial stage behind.
    """
    extract_to(archive, stage)


def manifest(name: str, version: str, build_hash: str, archive: Path, files: list[str],
             source: dict[str, str]) -> Manifest:
    return {"name": name, "version": version, "build_hash": build_hash,
            "sha256": sha256_file(archive), "size": archive.stat().st_size, "files": files,
            "source": source, "created": round(time.time(), 3), "srcbuild": __version__}


class LocalDirCache:
    """``DIR/BUILDHASH.tar.gz`` plus ``DIR/BUILDHASH.json``; safe for concurrent writers.

    Each file is written under a temporary name and renamed; a per-key lock makes the pair
    change together, and the first valid entry for a key is kept.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self) -> str:
        return str(self.root)

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.tar.gz", self.root / f"{key}.json"

    @contextmanager
    def _locked(self, key: str, exclusive: bool) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / f".{key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def _verify(self, key: str) -> Manifest | None:
        """The manifest when the entry exists and its archive matches; None when absent."""
        archive, meta = self.paths(key)
        if not meta.exists() and not archive.exists():
            return None
        problem = ""
        data: Manifest = {}
        try:
            data = json.loads(meta.read_text())
            if not archive.exists():
                problem = "its archive is missing"
            elif sha256_file(archive) != data.get("sha256"):
                problem = (f"the archive's sha256 is {sha256_file(archive)}, the manifest says "
                           f"{data.get('sha256')} (truncated or damaged)")
        except (OSError, ValueError) as e:
            problem = f"its manifest {meta} is unreadable ({e})"
        if problem:
            raise CorruptEntry(
                f"Binary cache entry {archive} is corrupt: {problem}; it was removed and the "
                "package is rebuilt from source.",
                "If this repeats, check the disk or whatever syncs the cache folder.")
        return data

    def get(self, key: str) -> Path | None:
        archive, meta = self.paths(key)
        if not meta.exists() and not archive.exists():
            return None
        try:
            with self._locked(key, exclusive=False):
                data = self._verify(key)
        except CorruptEntry:
            with self._locked(key, exclusive=True):
                try:
                    self._verify(key)  # a writer may have repaired it meanwhile
                except CorruptEntry:
                    archive.unlink(missing_ok=True)
                    meta.unlink(missing_ok=True)
                    raise
            return self.get(key)
        return archive if data is not None else None

    def manifest(self, key: str) -> Manifest | None:
        _, meta = self.paths(key)
        try:
            data: Manifest = json.loads(meta.read_text())
            return data
        except (OSError, ValueError):
            return None

    def put(self, key: str, archive: Path, manifest: Manifest) -> None:
        final_archive, final_meta = self.paths(key)
        with self._locked(key, exclusive=True):
            try:
                if self._verify(key) is not None:
                    return  # the first valid entry wins; builds are meant to be identical
            except CorruptEntry:
                pass
            tmp_archive = self._copy_to_temp(archive, final_archive.name)
            fd, tmp_meta = tempfile.mkstemp(prefix=f".{final_meta.name}.", dir=self.root)
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump(manifest, f, indent=1, sort_keys=True)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp_archive, final_archive)
                os.replace(tmp_meta, final_meta)
            finally:
                for tmp in (tmp_archive, Path(tmp_meta)):
                    if tmp.exists():
                        tmp.unlink()

    def _copy_to_temp(self, archive: Path, name: str) -> Path:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=self.root)
        with os.fdopen(fd, "wb") as out, open(archive, "rb") as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        return Path(tmp)


def open_cache(spec: str | Path | None) -> BinaryCache | None:
    """A ``--binary-cache`` value (a folder today) as a BinaryCache, or None."""
    if spec is None or str(spec) == "":
        return None
    text = str(spec)
    if "://" in text and not text.startswith("file://"):
        raise UsageError(f"--binary-cache {text}: only local folders are supported so far.",
                            "Give a folder path; sync it with your CI's cache step.")
    return LocalDirCache(Path(text.removeprefix("file://")).expanduser().absolute())
