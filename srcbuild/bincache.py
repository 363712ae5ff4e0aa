"""The binary cache: checked staged trees stored as reproducible archives, keyed by build hash.

The engine only sees the ``BinaryCache`` protocol; ``open_cache`` turns the ``--binary-cache``
values (folders, ``file://`` URLs, ``oci://`` registries) into one ``CacheChain`` that reads
from each in order and stores into the first writable one. The registry cache is
``ocicache.py`` (entries and signatures) over ``oci.py`` (manifests and blobs) over
``ocitransport.py`` (HTTP, auth, retries). ``CacheChain.restore`` is the one way entries
reach a stage: checked by ``entrycheck.py`` first, refused ones quarantined (``quarantine``).
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import os
import stat
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from srcbuild import __version__
from srcbuild.entrycheck import ENTRY_FORMAT, Entries, Wanted, restore
from srcbuild.errors import (
    CacheMiss,
    CacheUnavailable,
    CorruptEntry,
    NotStored,
    SrcbuildError,
    TamperedEntry,
    UsageError,
)
from srcbuild.extract import extract_to
from srcbuild.fetch import sha256_file
from srcbuild.kinds import EventKind
from srcbuild.workdirs import owned_temp

if TYPE_CHECKING:
    from srcbuild.signing import SigningKey, Trust

Manifest = dict[str, Any]


class BinaryCache(Protocol):
    def get(self, key: str) -> Path | None:
        """A local, verified archive for ``key``, or None. Raises CorruptEntry."""
        ...

    def put(self, key: str, archive: Path, manifest: Manifest) -> None: ...

    def manifest(self, key: str) -> Manifest | None: ...

    def describe(self) -> str: ...

    def quarantine(self, key: str, why: str) -> str:
        """Make sure the entry just refused (``why``) is not tried again, as far as this
        cache allows; say what was done, e.g. "moved to DIR"."""
        ...


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
    """Extract an archive made by ``pack`` as the staged prefix ``stage`` (absent or empty),
    without checking it against a manifest (restores go through ``CacheChain.restore``).

    Safely, like a source, into a temporary folder next to ``stage`` that is renamed into
    place, so a refused or damaged entry leaves no partial stage behind.
    """
    extract_to(archive, stage)


def manifest(name: str, version: str, build_hash: str, archive: Path, files: list[str],
             source: dict[str, str], entries: Entries | None = None) -> Manifest:
    """An entry's manifest; ``entries`` (``entrycheck.tree_entries`` of the stage) is what a
    restore checks file by file: an entry without it is refused on restore."""
    data: Manifest = {"name": name, "version": version, "build_hash": build_hash,
                      "sha256": sha256_file(archive), "size": archive.stat().st_size,
                      "files": files, "source": source, "created": round(time.time(), 3),
                      "srcbuild": __version__}
    if entries is not None:
        data.update(format=ENTRY_FORMAT, entries=entries)
    return data


class LocalDirCache:
    """``DIR/BUILDHASH.tar.gz`` plus ``DIR/BUILDHASH.json`` (and ``BUILDHASH.sig`` when
    signed); safe for concurrent writers.

    Each file is written under a temporary name and renamed; a per-key lock makes the set
    change together, and the first valid entry for a key is kept (except that a writer with a
    signing key replaces an entry its key has not signed, as on a registry). A refused entry
    is moved to ``DIR/quarantine/`` so that no run tries it again.
    """

    def __init__(self, root: Path, signing_key: SigningKey | None = None,
                 trust: Trust | None = None) -> None:
        self.root = root
        self.signing_key = signing_key
        self.trust = trust
        # key -> (dev, inode) of the manifest get() verified, and its content: what a
        # restore checks against is what was verified, whatever happens to the file after
        self._got: dict[str, tuple[tuple[int, int], Manifest]] = {}

    def describe(self) -> str:
        return str(self.root)

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.tar.gz", self.root / f"{key}.json"

    def signature_path(self, key: str) -> Path:
        return self.root / f"{key}.sig"

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
        """The manifest when the entry exists, its archive matches and its signature is
        accepted; None when absent. CorruptEntry (or TamperedEntry) names what is wrong."""
        archive, meta = self.paths(key)
        if not meta.exists() and not archive.exists():
            return None
        problem = ""
        data: Manifest = {}
        raw = b""
        try:
            raw = meta.read_bytes()
            loaded = json.loads(raw)
            if not isinstance(loaded, dict):
                raise TypeError("not a JSON object")
            data = loaded
            if not archive.exists():
                problem = "its archive is missing"
            elif sha256_file(archive) != data.get("sha256"):
                problem = (f"the archive's sha256 is {sha256_file(archive)}, the manifest says "
                           f"{data.get('sha256')} (truncated or damaged)")
        except (OSError, ValueError, TypeError) as e:
            problem = f"its manifest {meta} is unreadable ({e})"
        if problem:
            raise CorruptEntry(f"Binary cache entry {archive} is corrupt: {problem}.")
        if self.trust is not None:
            from srcbuild.signing import judge

            judge(self.trust, key, self._digest(raw), self._signatures(key),
                  f"Binary cache entry {archive}")
        return data

    @staticmethod
    def _digest(raw: bytes) -> str:
        return "sha256:" + hashlib.sha256(raw).hexdigest()

    def _signatures(self, key: str) -> list[dict[str, Any]]:
        try:
            data = json.loads(self.signature_path(key).read_bytes())
        except (OSError, ValueError):
            return []
        sigs = data.get("signatures") if isinstance(data, dict) else None
        return [s for s in sigs[:16] if isinstance(s, dict)] if isinstance(sigs, list) else []

    def get(self, key: str) -> Path | None:
        archive, meta = self.paths(key)
        if not meta.exists() and not archive.exists():
            return None
        try:
            with self._locked(key, exclusive=False):
                data = self._verify(key)
                st = meta.stat() if data is not None else None
        except TamperedEntry as e:
            raise TamperedEntry(f"{e.message} It was {self._quarantine_now(key, e.message)}.",
                                e.hint) from None
        except CorruptEntry as e:
            if type(e) is not CorruptEntry:
                raise  # unsigned or unknown key: skipped, not ours to move
            with self._locked(key, exclusive=True):
                try:
                    self._verify(key)  # a writer may have repaired it meanwhile
                except CorruptEntry as again:
                    where = self._move_aside(key, again.message)
                    raise CorruptEntry(f"{again.message.removesuffix('.')}; {where}, and the "
                                       "package is rebuilt from source.",
                                       "If this repeats, check the disk or whatever syncs the "
                                       "cache folder.") from None
            return self.get(key)
        if st is None or data is None:
            return None
        self._got[key] = ((st.st_dev, st.st_ino), data)
        return archive

    def manifest(self, key: str) -> Manifest | None:
        if key in self._got:
            return self._got[key][1]
        _, meta = self.paths(key)
        try:
            data = json.loads(meta.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def quarantine(self, key: str, why: str) -> str:
        """Move the entry aside, unless it was replaced since ``get`` returned it."""
        with self._locked(key, exclusive=True):
            try:
                st = self.paths(key)[1].stat()
            except OSError:
                return "already gone from the cache"
            got = self._got.get(key)
            if got is None or got[0] != (st.st_dev, st.st_ino):
                return "left in place: another run has just replaced it"
            return self._move_aside(key, why)

    def _quarantine_now(self, key: str, why: str) -> str:
        with self._locked(key, exclusive=True):
            return self._move_aside(key, why)

    def _move_aside(self, key: str, why: str) -> str:
        """Move every file of the entry into ``quarantine/KEY-TIME/`` with a ``why.txt``;
        the caller holds the key's exclusive lock."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        folder = self.root / "quarantine" / f"{key}-{stamp}-{os.getpid()}"
        folder.mkdir(parents=True, exist_ok=True)
        for path in (*self.paths(key), self.signature_path(key)):
            try:
                os.replace(path, folder / path.name)
            except FileNotFoundError:
                pass
        (folder / "why.txt").write_text(why + "\n")
        self._got.pop(key, None)
        return f"moved to {folder}"

    def put(self, key: str, archive: Path, manifest: Manifest) -> None:
        final_archive, final_meta = self.paths(key)
        final_sig = self.signature_path(key)
        with self._locked(key, exclusive=True):
            if self._keeps_existing(key):
                return
            raw = json.dumps(manifest, indent=1, sort_keys=True).encode()
            # .part-* temporaries, locked while written: the next run sweeps a killed one's
            with owned_temp(self.root, final_archive.name) as tmp_archive, \
                    owned_temp(self.root, final_meta.name) as tmp_meta, \
                    owned_temp(self.root, final_sig.name) as tmp_sig:
                try:
                    self._copy_to(archive, tmp_archive)
                    self._write(tmp_meta, raw)
                    if self.signing_key is not None:
                        from srcbuild.signing import payload

                        sig = {"key_id": self.signing_key.key_id, "build_hash": key,
                               "manifest_digest": self._digest(raw),
                               "signature": self.signing_key.sign(
                                   payload(key, self._digest(raw)))}
                        self._write(tmp_sig, json.dumps({"signatures": [sig]}, indent=1)
                                    .encode())
                        os.replace(tmp_sig, final_sig)
                    else:
                        final_sig.unlink(missing_ok=True)  # it signed another manifest
                    os.replace(tmp_archive, final_archive)
                    os.replace(tmp_meta, final_meta)
                finally:
                    for tmp in (tmp_archive, tmp_meta, tmp_sig):
                        tmp.unlink(missing_ok=True)

    def _keeps_existing(self, key: str) -> bool:
        """Whether a valid entry is there and stays: the first valid one wins, but a writer
        with a signing key replaces one its key has not signed."""
        try:
            if self._verify(key) is None:
                return False
        except CorruptEntry:
            return False
        if self.signing_key is None:
            return True
        from srcbuild.signing import payload

        ours = self.signing_key.public()
        digest = self._digest(self.paths(key)[1].read_bytes())
        return any(s.get("key_id") == ours.key_id
                   and ours.verify(payload(key, digest), str(s.get("signature", "")))
                   for s in self._signatures(key))

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

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

    def quarantine(self, key: str, why: str) -> str:
        cache = self._hits.pop(key, None)
        return cache.quarantine(key, why) if cache is not None else "not found in any cache"

    def restore(self, wanted: Wanted, stage: Path,
                refused: Callable[[str, str], None]) -> tuple[Path, Manifest] | None:
        """Put the first entry for ``wanted`` that passes every check at ``stage``; its
        archive and manifest, or None (build from source). Each refused entry is told to
        ``refused(where, one_line)`` and quarantined in its cache; with --binary-cache-only,
        nothing restorable is CacheMiss."""
        key, reasons = wanted.build_hash, []
        for i, cache in enumerate(self.caches):
            if i in self._down:
                continue
            try:
                archive = cache.get(key)
            except CacheUnavailable as e:
                self._unavailable(i, e)
                continue
            except CorruptEntry as e:  # named and dealt with by the cache itself
                refused(cache.describe(), str(e))
                reasons.append(e.message)
                continue
            if archive is None:
                continue
            manifest = cache.manifest(key)
            try:
                restore(archive, manifest, wanted, stage)
            except CorruptEntry as e:
                what = cache.quarantine(key, e.message)
                then = "" if self.only else f" {wanted.name} is built from source."
                line = (f"Binary cache entry {key[:16]} in {cache.describe()} is refused: "
                        f"{e.message}; {what}.{then}")
                refused(cache.describe(), line)
                reasons.append(line)
                continue
            self._hits[key] = cache
            return archive, manifest or {}
        if self.only:
            where = self.describe() or "none given"
            if reasons:
                raise CacheMiss(f"{wanted.name}: no binary cache has a usable entry for build "
                                f"hash {key} ({where}), and --binary-cache-only forbids "
                                f"building it. Refused: {' '.join(reasons)}",
                                "Run once without --binary-cache-only to build it and store a "
                                "good entry.")
            raise CacheMiss(f"No binary cache has build hash {key} ({where}), and "
                            "--binary-cache-only forbids building it.",
                            "Run once without --binary-cache-only on a machine that pushes "
                            "(same prefix path, same recipes and options).")
        return None

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
            caches.append(LocalDirCache(Path(text.removeprefix("file://")).expanduser()
                                        .absolute(), signing_key, trust))
    return CacheChain(caches, report, options.only)


def _trust(options: CacheOptions) -> Trust | None:
    if options.require_signed and options.trusted_keys is None:
        raise UsageError("--require-signed needs --trusted-keys DIR: the keys whose "
                         "signatures are accepted.",
                         "Copy the .pub files written by `srcbuild keys generate` into DIR.")
    if options.trusted_keys is None:
        return None
    from srcbuild.signing import Trust, load_trusted_keys

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
