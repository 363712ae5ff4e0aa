"""Sources: url / debian / path, a cache keyed by sha256, verification and extraction."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from srcbuild.errors import FetchError
from srcbuild.extract import extract
from srcbuild.kinds import SourceKind
from srcbuild.recipe import Recipe, Source
from srcbuild.workdirs import owned_temp

CHUNK = 1 << 20
META = ".srcbuild-source.json"  # in an extracted tree: its top folder and epoch
@dataclass(frozen=True)
class Fetched:
    """A verified source: the archive in the cache (None for a local folder) and its tree."""

    source: Source
    sha256: str
    archive: Path | None
    source_dir: Path
    epoch: int  # SOURCE_DATE_EPOCH: the recipe's, else the newest member of the archive


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def copy_verified(src: Path, target: Path, sha256: str) -> Path:
    """Copy ``src`` to ``target`` under a temporary name, check the sha256, then rename:
    never half a file, never a wrong one. A target that is already right is kept."""
    if target.is_file() and sha256_file(target) == sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with owned_temp(target.parent) as tmp:  # swept by the next run if this one is killed
        try:
            with open(tmp, "wb") as out, open(src, "rb") as f:
                shutil.copyfileobj(f, out, CHUNK)
            actual = sha256_file(tmp)
            if actual != sha256:
                raise FetchError(f"Copying {src} to {target} gave sha256 {actual}, expected "
                                 f"{sha256}; nothing was kept.",
                                 f"Delete {src} and fetch it again.")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return target


class KeyedLocks:
    """One lock per key (a sha256, an extracted tree), made on first use."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def __call__(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


class SourceCache:
    """``CACHE/sources/SHA256/FILE`` for archives and ``CACHE/src/KEY/`` for extracted trees."""

    def __init__(self, root: Path, mirrors: list[Path] | None = None, offline: bool = False,
                 log: Callable[[str], None] | None = None,
                 note: Callable[[str], None] | None = None) -> None:
        self.root = root
        self.mirrors = mirrors or []
        self.offline = offline
        self.log = log or (lambda message: None)  # progress: what is being downloaded
        self.note = note or self.log  # what stays on screen: a source that failed
        # the packages of a parallel run share one cache: one download per file and one
        # extraction per tree, however many ask at once; different trees go in parallel
        self._locks = KeyedLocks()

    def cached(self, sha256: str) -> Path | None:
        for base in [self.root / "sources"] + self.mirrors:
            d = base / sha256
            if d.is_dir():
                for f in sorted(d.iterdir()):
                    if f.is_file() and not f.name.startswith("."):
                        return f
        return None

    # -- fetching ------------------------------------------------------------------------
    def fetch(self, recipe: Recipe, verify: bool = True,
              log: Callable[[str], None] | None = None) -> tuple[Source, Path | None, str]:
        """The first of the recipe's sources that is here already (a local path, or a
        verified copy in the cache or a mirror, whichever source it belongs to); else the
        first that downloads and verifies, in order. A source that failed before another
        worked is said once, in one line (``note``); it is not tried again while the copy
        that worked stays cached. ``log`` hears the progress (per package, in a build).

        With ``verify`` a file already in the cache is hashed again (``srcbuild fetch``, and
        ``prepare`` before every extraction); one that no longer matches the recipe is
        deleted and fetched again.
        """
        log = log or self.log
        changed: dict[str, str] = {}  # sha256 -> why the cached copy was deleted
        for source in recipe.sources:
            if source.kind == SourceKind.PATH:
                p = Path(source.location)
                if p.exists():
                    return source, (p if p.is_file() else None), ""
                continue
            with self._locks(f"sha256:{source.sha256}"):
                hit, why = self._local(source, log, verify)
            if why:
                changed[source.sha256] = why
            if hit is not None:
                return source, hit, source.sha256
        errors = []
        for source in recipe.sources:
            try:
                if source.kind == SourceKind.PATH:
                    raise FetchError(f"the local path {source.location} does not exist")
                if self.offline:
                    reason = changed.get(source.sha256)
                    raise FetchError(f"{reason}; it was deleted, and --offline forbids fetching "
                                     "it again" if reason else
                                     "not in the cache or a mirror, and --offline forbids "
                                     "the network")
                with self._locks(f"sha256:{source.sha256}"):
                    # another package of the run may have fetched it meanwhile
                    path = self._local(source, log, False)[0] \
                        or self._download_source(source, log, recipe.version)
            except FetchError as e:
                errors.append(f"{source.describe()}: {e.message}")
                continue
            if errors:
                self.note(f"{recipe.name}: {'; '.join(errors)}; used {source.describe()} "
                          "instead")
            return source, path, source.sha256
        tried = "; ".join(errors) or "the recipe has no [[source]]"
        hint = ("Put the file in a mirror folder (srcbuild mirror) and pass --mirror DIR."
                if self.offline else
                "Check the network, or fetch the file by hand and place it in "
                f"{self.root / 'sources'}/SHA256/.")
        raise FetchError(f"No source of {recipe.name} ({recipe.path}) could be fetched: {tried}.",
                         hint)

    def _local(self, source: Source, log: Callable[[str], None], verify: bool
               ) -> tuple[Path | None, str]:
        """The verified copy of a source in the cache, copied in from a mirror if it is only
        there; None when neither has it. With ``verify`` the cache's copy is hashed again
        and deleted when it changed (then also why)."""
        hit = self.cached(source.sha256)
        changed = ""
        if verify and hit is not None and hit.parent.parent == self.root / "sources":
            changed = self._discard_if_changed(hit, source.sha256, log)
            if changed:
                hit = self.cached(source.sha256)  # a mirror may still have it
        if hit is not None and hit.parent.parent != self.root / "sources":  # from a mirror
            log(f"copying {hit} from a mirror")
            hit = copy_verified(hit, self.root / "sources" / source.sha256 / hit.name,
                                source.sha256)
        return hit, changed

    def _discard_if_changed(self, path: Path, sha256: str, log: Callable[[str], None]) -> str:
        """Hash a cached file again; when it no longer matches, delete it and say why."""
        actual = sha256_file(path)
        if actual == sha256:
            return ""
        why = (f"{path} has sha256 {actual}, the recipe expects {sha256} (it changed in the "
               "cache after it was fetched)")
        log(f"{why}: deleted it and fetching it again")
        path.unlink()
        if not any(path.parent.iterdir()):
            path.parent.rmdir()
        return why

    def _download_source(self, source: Source, log: Callable[[str], None], version: str = ""
                         ) -> Path:
        if source.kind == SourceKind.URL:
            return self._download_any((source.location,) + source.mirrors, source, log)
        if source.kind == SourceKind.PYPI:
            return self._download_pypi(source, log)
        return self._download_debian(source, log, version)

    def _download_any(self, urls: tuple[str, ...], source: Source,
                      log: Callable[[str], None]) -> Path:
        errors = []
        for url in urls:
            name = source.filename or os.path.basename(url.split("?")[0]) or "source"
            try:
                return self._download(url, source.sha256, name, log=log)
            except FetchError as e:
                errors.append(f"{url}: {e.message}" if len(urls) > 1 else e.message)
        raise FetchError("; ".join(errors))

    def _download(self, url: str, sha256: str, filename: str, label: str = "",
                  log: Callable[[str], None] | None = None) -> Path:
        import urllib.error  # only when something is downloaded: it costs start-up time
        import urllib.request

        (log or self.log)(f"downloading {label or url}")
        dest_dir = self.root / "sources" / sha256
        dest_dir.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        try:
            with owned_temp(dest_dir) as tmp:  # swept by the next run if this one is killed
                try:
                    with open(tmp, "wb") as out:
                        try:
                            with urllib.request.urlopen(url, timeout=60) as resp:
                                while chunk := resp.read(CHUNK):
                                    h.update(chunk)
                                    out.write(chunk)
                        except (urllib.error.URLError, OSError, ValueError) as e:
                            raise FetchError("download failed "
                                             f"({getattr(e, 'reason', None) or e})") from None
                    actual = h.hexdigest()
                    if actual != sha256:
                        raise FetchError(f"checksum mismatch for {label or url}: expected "
                                         f"sha256 {sha256}, got {actual}; the file was not "
                                         "kept")
                    final = dest_dir / filename
                    os.replace(tmp, final)
                    return final
                finally:
                    tmp.unlink(missing_ok=True)
        finally:
            if not any(dest_dir.iterdir()):
                dest_dir.rmdir()

    def debian_orig(self, package: str, log: Callable[[str], None] | None = None
                    ) -> tuple[str, str, str]:
        """(url, filename, sha256) of the ``.orig`` tarball of a Debian source package, as
        the distribution's signed index lists it (also for a binary package's name): through
        the machine's deb-src lines, else srcbuild's private source index (made once in the
        cache from the machine's deb lines, /etc untouched)."""
        apt_get = shutil.which("apt-get")
        if apt_get is None:
            raise FetchError("apt-get is not on PATH, so Debian sources cannot be fetched")
        cp = self._apt([apt_get, "source", "--print-uris", "-qq", package])
        orig = debian_orig(cp.stdout)
        if orig is None and self._private_deb_src(apt_get, log or self.log):
            # the system has no deb-src lines: ask again through srcbuild's own apt lists
            cp = self._apt([apt_get, *self._apt_options(), "source", "--print-uris", "-qq",
                            package])
            orig = debian_orig(cp.stdout)
        if orig is None:
            err = (cp.stderr.strip().splitlines() or ["no .orig tarball listed"])[-1]
            raise FetchError(
                f"apt-get source --print-uris {package} gave no .orig tarball ({err}); "
                "a deb-src line for the distribution and `apt-get update` are needed")
        return orig

    def _download_debian(self, source: Source, log: Callable[[str], None], version: str = ""
                         ) -> Path:
        url, filename, listed = self.debian_orig(source.location, log)
        if listed and listed != source.sha256:
            upstream = orig_version(filename)
            moved = ""
            if version and upstream and not same_version(upstream_version(upstream), version):
                moved = (f" (the Debian package moved to another upstream version: {upstream}, "
                         f"the recipe says {version})")
            raise FetchError(
                f"the archive's {filename} has sha256 {listed}, the recipe expects "
                f"{source.sha256}{moved}; if that file is the one you want, put "
                f"sha256 = \"{listed}\" in the recipe (the hash comes from Debian's signed "
                "index)")
        return self._download(url, source.sha256, filename,
                              f"{filename} (Debian source package {source.location})", log)

    def download_new(self, url: str, filename: str = "") -> tuple[Path, str]:
        """Download a file whose sha256 is not known yet (`srcbuild create`): into the
        cache under the hash it turns out to have. Trust on first use: the caller says so."""
        import urllib.error
        import urllib.request

        self.log(f"downloading {url}")
        name = filename or os.path.basename(url.split("?")[0]) or "source"
        tmp_dir = self.root / "sources"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".part-", dir=tmp_dir)
        h = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    with urllib.request.urlopen(url, timeout=60) as resp:
                        while chunk := resp.read(CHUNK):
                            h.update(chunk)
                            out.write(chunk)
                except (urllib.error.URLError, OSError, ValueError) as e:
                    raise FetchError(f"download of {url} failed ({e})") from None
            sha = h.hexdigest()
            final = tmp_dir / sha / name
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, final)
            return final, sha
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def _download_pypi(self, source: Source, log: Callable[[str], None]) -> Path:
        """A source distribution from the Python package index, through pip download."""
        self.root.mkdir(parents=True, exist_ok=True)  # a fresh --cache-dir may not exist yet
        with tempfile.TemporaryDirectory(dir=self.root) as tmp:
            cp = self._apt([sys.executable, "-m", "pip", "download", "--no-deps",
                            "--no-binary", ":all:", "-q", "-d", tmp,
                            source.location])
            files = list(Path(tmp).iterdir())
            if cp.returncode != 0 or len(files) != 1:
                raise FetchError(f"pip download {source.location} failed "
                                 f"({(cp.stderr.strip().splitlines() or ['no file'])[-1]})")
            return self._download(files[0].as_uri(), source.sha256, files[0].name,
                                  f"{files[0].name} (PyPI)", log)

    def _apt(self, argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(argv, check=False, capture_output=True, text=True,
                                  timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise FetchError(f"{' '.join(argv[:2])} failed ({e})") from None

    def _apt_options(self) -> list[str]:
        base = self.root / "apt"
        return ["-o", f"Dir::Etc::SourceList={base / 'sources.list'}",
                "-o", f"Dir::Etc::SourceParts={base / 'sources.list.d'}",
                "-o", f"Dir::State::Lists={base / 'lists'}",
                "-o", f"Dir::Cache={base / 'cache'}"]

    def _private_deb_src(self, apt_get: str, log: Callable[[str], None]) -> bool:
        """deb-src twins of the system's deb lines in srcbuild's cache, and their index.

        Nothing under /etc changes; the index is fetched once and reused.
        """
        with self._locks("apt-index"):
            return self._make_deb_src_index(apt_get, log)

    def _make_deb_src_index(self, apt_get: str, log: Callable[[str], None]) -> bool:
        base = self.root / "apt"
        if (base / "lists" / ".srcbuild-updated").exists():
            return True
        parts = base / "sources.list.d"
        (base / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (base / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        parts.mkdir(parents=True, exist_ok=True)
        found = False
        lines = []
        legacy = Path("/etc/apt/sources.list")
        if legacy.is_file():
            for line in legacy.read_text().splitlines():
                if line.strip().startswith("deb "):
                    lines.append("deb-src " + line.strip()[4:])
        (base / "sources.list").write_text("\n".join(lines) + "\n")
        found = bool(lines)
        for f in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
            text = re.sub(r"(?m)^Types:.*$", "Types: deb-src", f.read_text())
            (parts / f.name).write_text(text)
            found = True
        if not found:
            return False
        log("indexing Debian source packages (once, in srcbuild's cache)")
        cp = self._apt([apt_get, *self._apt_options(), "update", "-qq"])
        if cp.returncode != 0:
            return False
        (base / "lists" / ".srcbuild-updated").write_text("")
        return True

    # -- extraction ------------------------------------------------------------------------
    def prepare(self, recipe: Recipe, apply_patches: Callable[[Path], None],
                log: Callable[[str], None] | None = None) -> Fetched:
        """Fetch, verify, extract (once, cached) and patch; return the source tree.

        The archive is hashed again right before it is extracted, so bytes that changed in
        the cache since the fetch are fetched again, never built.
        """
        source, archive, sha = self.fetch(recipe, verify=False, log=log)
        if archive is None:
            return _folder(recipe, source)
        key = self._tree_key(recipe, archive, sha)
        if sha and not (self.root / "src" / key / META).exists():
            source, archive, sha = self.fetch(recipe, verify=True, log=log)
            if archive is None:  # the archive could not be fetched again; a later source
                return _folder(recipe, source)
            key = self._tree_key(recipe, archive, sha)
        dest = self.root / "src" / key
        meta = dest / META
        with self._locks(f"tree:{key}"):  # one extraction of a tree, however many ask
            if not meta.exists():
                self._extract(archive, dest, key, apply_patches)
        info = json.loads(meta.read_text())
        tree = project_dir(recipe, source, dest / info["top"] if info["top"] else dest)
        return Fetched(source, sha, archive, tree, recipe.source_date_epoch or int(info["epoch"]))

    @staticmethod
    def _tree_key(recipe: Recipe, archive: Path, sha: str) -> str:
        key = (sha or sha256_file(archive))[:20]
        if recipe.patches:
            key += "-" + hashlib.sha256(b"".join(p.read_bytes() for p in recipe.patches)
                                        ).hexdigest()[:10]
        return key

    @staticmethod
    def _extract(archive: Path, dest: Path, key: str,
                 apply_patches: Callable[[Path], None]) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=dest.parent))
        try:
            epoch = extract(archive, tmp)
            top = single_top(tmp)
            apply_patches(top)
            (tmp / META).write_text(json.dumps(
                {"top": top.name if top != tmp else "", "epoch": epoch,
                 "archive": str(archive)}))
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(tmp, dest)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def _folder(recipe: Recipe, source: Source) -> Fetched:
    """A local folder source: used in place (builds are out of tree)."""
    tree = project_dir(recipe, source, Path(source.location))
    return Fetched(source, "", None, tree, recipe.source_date_epoch or newest_mtime(tree))


def project_dir(recipe: Recipe, source: Source, top: Path) -> Path:
    """The folder the build starts from: the extracted tree's top, or its ``subdir``."""
    if not source.subdir:
        return top
    tree = top / source.subdir
    if not tree.is_dir():
        found = sorted(p.name for p in top.iterdir() if p.is_dir()) if top.is_dir() else []
        raise FetchError(
            f"{recipe.name} ({recipe.path}): the source {source.describe()} has no folder "
            f"subdir = {source.subdir!r} (under {top}).",
            f"Its folders: {', '.join(found) or 'none'}.")
    return tree


def orig_version(filename: str) -> str:
    """The version in a Debian ``PKG_VERSION.orig.tar.*`` name ('' when there is none)."""
    m = re.match(r"[^_]+_(.+)\.orig\.tar\.[a-z0-9]+$", filename)
    return m[1] if m else ""


def upstream_version(debian: str) -> str:
    """A Debian orig version without its repack suffix: 1.5.4+dfsg2 -> 1.5.4,
    1.2.13.dfsg -> 1.2.13."""
    return re.split(r"[+~.](?:dfsg|ds|repack)", debian, maxsplit=1)[0]


def same_version(a: str, b: str) -> bool:
    """7.2 and 7.2.0 are one version (a recipe often writes the zeros Debian leaves out)."""
    def norm(v: str) -> str:
        return re.sub(r"(\.0)+$", "", v)
    return norm(a) == norm(b)


def debian_orig(print_uris: str) -> tuple[str, str, str] | None:
    """(url, filename, sha256) of the main ``.orig.tar.*`` in ``apt-get source --print-uris``."""
    for line in print_uris.splitlines():
        m = re.match(r"'([^']+)'\s+(\S+)\s+\d+\s+(?:SHA256:([0-9a-f]{64}))?", line)
        if m and re.search(r"\.orig\.tar\.(gz|xz|bz2|lzma|zst)$", m[2]):
            return m[1], m[2], m[3] or ""
    return None



def single_top(tree: Path) -> Path:
    entries = [p for p in tree.iterdir() if not p.name.startswith(".srcbuild")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else tree


def newest_mtime(tree: Path) -> int:
    newest = 0
    for dirpath, _, filenames in os.walk(tree):
        for f in filenames:
            try:
                newest = max(newest, int(os.lstat(os.path.join(dirpath, f)).st_mtime))
            except OSError:
                pass
    return newest
