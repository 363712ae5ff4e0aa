"""The per-prefix record of what srcbuild installed: one JSON manifest per package, and the lock."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from srcbuild.durable import atomic_write, fsync_dir
from srcbuild.errors import InstallError

STATE_DIR = ".srcbuild"


@dataclass(frozen=True)
class Installed:
    """What one package put into the prefix, and the build hash it was built with."""

    name: str
    version: str
    build_hash: str
    files: tuple[str, ...] = ()  # relative to the prefix, sorted
    provides: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()  # recipe names it was built against
    options: dict[str, str] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)
    installed_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["files"] = list(self.files)
        d["provides"] = list(self.provides)
        d["requires"] = list(self.requires)
        return d


class PrefixState:
    """Reads and writes ``PREFIX/.srcbuild/packages/NAME.json``."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.dir = prefix / STATE_DIR / "packages"
        self._loaded: dict[str, Installed] | None = None

    def packages(self) -> dict[str, Installed]:
        if self._loaded is None:
            found: dict[str, Installed] = {}
            if self.dir.is_dir():
                for p in sorted(self.dir.glob("*.json")):
                    try:
                        d = json.loads(p.read_text())
                        found[d["name"]] = Installed(
                            name=d["name"], version=d["version"], build_hash=d["build_hash"],
                            files=tuple(d.get("files", ())), provides=tuple(d.get("provides", ())),
                            requires=tuple(d.get("requires", ())), options=d.get("options", {}),
                            source=d.get("source", {}), installed_at=d.get("installed_at", 0.0))
                    except (OSError, ValueError, KeyError) as e:
                        raise InstallError(
                            f"The state record {p} of prefix {self.prefix} is unreadable ({e}).",
                            "Remove that file and reinstall the package it names.") from None
            self._loaded = found
        return self._loaded

    def get(self, name: str) -> Installed | None:
        return self.packages().get(name)

    def owner_of(self) -> dict[str, str]:
        """relative file path -> package name, over every installed package."""
        return {f: pkg.name for pkg in self.packages().values() for f in pkg.files}

    def record(self, pkg: Installed) -> None:
        """Write the record of ``pkg`` durably (fsynced, then renamed)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.dir / f"{pkg.name}.json",
                     json.dumps(pkg.to_json(), indent=1, sort_keys=True))
        self.packages()[pkg.name] = pkg

    def forget(self, name: str) -> None:
        try:
            (self.dir / f"{name}.json").unlink()
        except FileNotFoundError:
            pass
        else:
            fsync_dir(self.dir)
        self.packages().pop(name, None)

    def reload(self) -> None:
        """Read the records again (a recovery changed them)."""
        self._loaded = None

    def missing_files(self, name: str) -> list[str]:
        """The recorded files of ``name`` that are not in the prefix (an lstat each)."""
        pkg = self.get(name)
        return [] if pkg is None else [
            f for f in pkg.files if not os.path.lexists(self.prefix / f)]


class PrefixBusy(InstallError):
    """Another run holds the prefix's lock (raised when asked not to wait)."""


@contextmanager
def prefix_lock(prefix: Path, on_wait: Callable[[str], None] | None = None,
                wait: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on the prefix; a second run waits (or stops) with a clear message."""
    lockdir = prefix / STATE_DIR
    lockdir.mkdir(parents=True, exist_ok=True)
    path = lockdir / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            message = (f"Another srcbuild run (pid {holder}) holds the prefix {prefix}; "
                       "waiting for it to finish.")
            if not wait:
                raise PrefixBusy(
                    f"Another srcbuild run (pid {holder}) is installing into {prefix}.",
                    "Wait for it to finish, or use another --prefix.") from None
            if on_wait:
                on_wait(message)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {time.time():.0f}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
