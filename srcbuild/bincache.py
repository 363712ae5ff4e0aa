"""The binary cache: checked staged trees stored as reproducible archives, keyed by build hash.

The engine only sees the ``BinaryCache`` protocol; ``open_cache`` turns the ``--binary-cache``
values (folders, ``file://`` URLs, ``oci://`` registries) into one ``CacheChain`` that reads
from each in order and stores into the first writable one. The registry cache is
``ocicache.py`` (entries and signatures) over ``oci.py`` (manifests and blobs) over
``ocitransport.py`` (HTTP, auth, retries).
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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from srcbuild import __version__
from srcbuild.errors import (
    CacheMiss,
    CacheUnavailable,
    CorruptEntry,
    NotStored,
    SrcbuildError,
    UsageError,
)
from srcbuild.extract import extract_to
from srcbuild.fetch import sha256_file
from srcbuild.kinds import EventKind
from srcbuild.workdirs import owned_temp

if TYPE_CHECKING:
    from srcbuild.ocicache import Trust
    from srcbuild.signing import SigningKey

Manifest = dict[str, Any]


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
            # .part-* temporaries, locked while written: the next run sweeps a killed one's
            with owned_temp(self.root, final_archive.name) as tmp_archive, \
                    owned_temp(self.root, final_meta.name) as tmp_meta:
                try:
                    self._copy_to(archive, tmp_archive)
                    with open(tmp_meta, "w") as f:
                        json.dump(manifest, f, indent=1, sort_keys=True)
                        f.flush()
                        os.fsync(f.fileno())
                    os.replace(tmp_archive, final_archive)
                    os.replace(tmp_meta, final_meta)
                finally:
                    for tmp in (tmp_archive, tmp_meta):
                        tmp.unlink(missing_ok=True)

    @staticmethod
    def _copy_to(archive: Path, tmp: Path) -> None:
        with open(tmp, "wb") as out, open(archive, "rb") as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())


class Report(Protocol):
    """Where a chain says what happened to its caches: a run's ``Events.emit``."""

    def __call__(self, kind: EventKind, **data: Any) -> None: ...


def _silent(kind: EventKind, **data: Any) -> None:
    pass


@dataclass(frozen=True)
class CacheOptions:
    """What the command line says about binary caches besides where they are."""

    signing_key: Path | None = None  # sign entries pushed to a registry
    trusted_keys: Path | None = None  # a folder of .pub files
    require_signed: bool = False  # refuse entries without a valid trusted signature
    only: bool = False  # --binary-cache-only: a miss is an error, nothing is compiled
    offline: bool = False


class CacheChain:
    """Several caches as one: read from each in order, store into the first writable one.

    A cache that fails (registry down, 401, 429 or 5xx after retries) is reported in one
    line and left alone for the rest of the run; one that refuses a push stays readable.
    """

    def __init__(self, caches: list[BinaryCache], report: Report | None = None,
                 only: bool = False) -> None:
        self.caches = caches
        self.report: Report = report or _silent
        self.only = only
        self._down: set[int] = set()
        self._read_only: set[int] = set()
        self._hits: dict[str, BinaryCache] = {}

    def describe(self) -> str:
        return ", ".join(c.describe() for c in self.caches)

    def _unavailable(self, i: int, error: SrcbuildError, read_only: bool = False) -> None:
        if i in self._down or (read_only and i in self._read_only):
            return
        (self._read_only if read_only else self._down).add(i)
        what = ("Nothing more is stored into it for the rest of this run." if read_only else
                "It is not used for the rest of this run; what it would restore is built from "
                "source.")
        self.report(EventKind.CACHE_UNAVAILABLE, where=self.caches[i].describe(),
                    text=str(error), read_only=read_only)
        self.report(EventKind.MESSAGE, text=f"{error.message} {what} {error.hint}".rstrip())

    def get(self, key: str) -> Path | None:
        for i, cache in enumerate(self.caches):
            if i in self._down:
                continue
            try:
                archive = cache.get(key)
            except CacheUnavailable as e:
                self._unavailable(i, e)
                continue
            except CorruptEntry as e:
                if self.only:
                    raise CacheMiss(f"{e.message}", "--binary-cache-only forbids building it; "
                                    "run without it once to push a good entry.") from None
                raise
            if archive is not None:
                self._hits[key] = cache
                return archive
        if self.only:
            raise CacheMiss(f"No binary cache has build hash {key} "
                            f"({self.describe() or 'none given'}), and --binary-cache-only "
                            "forbids building it.",
                            "Run once without --binary-cache-only on a machine that pushes "
                            "(same prefix path, same recipes and options).")
        return None

    def manifest(self, key: str) -> Manifest | None:
        cache = self._hits.get(key)
        return cache.manifest(key) if cache is not None else None

    def put(self, key: str, archive: Path, manifest: Manifest) -> None:
        for i, cache in enumerate(self.caches):
            if i in self._down or i in self._read_only:
                continue
            try:
                cache.put(key, archive, manifest)
                return
            except CacheUnavailable as e:
                self._unavailable(i, e, e.read_only)
            except OSError as e:
                self._unavailable(i, SrcbuildError(f"Binary cache {cache.describe()} cannot "
                                                   f"store ({e})."), read_only=True)
        raise NotStored(f"no writable binary cache among {self.describe()}")


def open_cache(spec: str | Path | list[str] | None, options: CacheOptions | None = None,
               cache_dir: Path | None = None, report: Report | None = None,
               environ: dict[str, str] | None = None) -> BinaryCache | None:
    """``--binary-cache`` values (a folder, ``file://PATH``, ``oci://HOST/REPO``; a list
    reads in order) as one BinaryCache, or None when there are none."""
    specs = [str(s) for s in (spec if isinstance(spec, list) else [spec]) if s]
    options = options or CacheOptions()
    if not specs:
        if options.only:
            raise UsageError("--binary-cache-only needs a binary cache to restore from.",
                             "Add --binary-cache DIR or --binary-cache oci://HOST/REPOSITORY "
                             "(or set SRCBUILD_BINARY_CACHE).")
        return None
    environ = dict(os.environ) if environ is None else environ
    report = report or _silent
    trust = _trust(options)
    signing_key = None
    if options.signing_key is not None:
        from srcbuild.signing import load_signing_key

        signing_key = load_signing_key(options.signing_key)
    caches: list[BinaryCache] = []
    for text in specs:
        if text.startswith("oci://"):
            if options.offline:
                report(EventKind.MESSAGE,
                       text=f"binary cache {text}: not used with --offline.")
                continue
            caches.append(_open_oci(text, signing_key, trust, cache_dir, environ))
        elif "://" in text and not text.startswith("file://"):
            raise UsageError(f"--binary-cache {text}: srcbuild knows folders, file:// and "
                             "oci:// caches.", "For example --binary-cache DIR or "
                             "--binary-cache oci://HOST/REPOSITORY.")
        else:
            if options.require_signed:
                raise UsageError(f"--require-signed: the folder cache {text} carries no "
                                 "signatures, so every entry of it would be refused.",
                                 "Use only oci:// caches with --require-signed.")
            caches.append(LocalDirCache(Path(text.removeprefix("file://")).expanduser()
                                        .absolute()))
    return CacheChain(caches, report, options.only)


def _trust(options: CacheOptions) -> Trust | None:
    if options.require_signed and options.trusted_keys is None:
        raise UsageError("--require-signed needs --trusted-keys DIR: the keys whose "
                         "signatures are accepted.",
                         "Copy the .pub files written by `srcbuild keys generate` into DIR.")
    if options.trusted_keys is None:
        return None
    from srcbuild.ocicache import Trust
    from srcbuild.signing import load_trusted_keys

    return Trust(load_trusted_keys(options.trusted_keys), options.trusted_keys,
                 options.require_signed)


def _open_oci(text: str, signing_key: SigningKey | None, trust: Trust | None,
              cache_dir: Path | None,
              environ: dict[str, str]) -> BinaryCache:
    from srcbuild import ocicreds
    from srcbuild.oci import Registry
    from srcbuild.ocicache import OciCache, downloads_dir
    from srcbuild.ocitransport import parse_reference

    ref = parse_reference(text)
    registry = Registry(ref, ocicreds.find(ref.host, environ))
    downloads = downloads_dir(cache_dir or Path(tempfile.gettempdir()) / "srcbuild")
    return OciCache(registry, downloads, signing_key, trust)
