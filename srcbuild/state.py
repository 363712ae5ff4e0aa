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
from srcbuild.safety import is_valid_name

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
    run: str = ""  # the run that built it (runs.py): its events are CACHE/runs/RUN.jsonl
    logs: str = ""  # the folder of its phase logs, CACHE/logs/RUN/NAME
    # what the system provided it ({requirement key: version and files}, graph.Node.system);
    # None in a record written before srcbuild kept it
    system: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["files"] = list(self.files)
        d["provides"] = list(self.provides)
        d["requires"] = list(self.requires)
        return d


# field -> what its JSON value must be; a record without an optional field gets its default
_REQUIRED = ("name", "version", "build_hash")
_STRINGS = ("name", "version", "build_hash", "run", "logs")
_LISTS = ("files", "provides", "requires")
_TABLES = ("options", "source")


class DamagedRecord(ValueError):
    """What is wrong with a state record, in a few words."""


def installed_from_json(d: Any, stem: str) -> Installed:
    """The Installed of a state record ``stem``.json; DamagedRecord names the first field
    that is missing or of the wrong type (a record edited by hand, or written half)."""
    if not isinstance(d, dict):
        raise DamagedRecord(f"it holds a JSON {type(d).__name__}, not an object")
    for key in _REQUIRED:
        if key not in d:
            raise DamagedRecord(f"the field {key!r} is missing")
    for key in _STRINGS:
        if not isinstance(d.get(key, ""), str):
            raise DamagedRecord(f"the field {key!r} is a {type(d[key]).__name__}, not a string")
    for key in _LISTS:
        value = d.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DamagedRecord(f"the field {key!r} is not a list of strings")
    for key in _TABLES:
        value = d.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise DamagedRecord(f"the field {key!r} is not an object of strings")
    at = d.get("installed_at", 0.0)
    if not isinstance(at, (int, float)) or isinstance(at, bool):
        raise DamagedRecord("the field 'installed_at' is not a number")
    system = d.get("system")
    if system is not None and (not isinstance(system, dict)
                               or not all(isinstance(v, dict) for v in system.values())):
        raise DamagedRecord("the field 'system' is not an object of objects")
    if d["name"] != stem or not is_valid_name(d["name"]):
        raise DamagedRecord(f"its name {d['name']!r} is not the file's name {stem!r}")
    return Installed(
        name=d["name"], version=d["version"], build_hash=d["build_hash"],
        files=tuple(d.get("files", ())), provides=tuple(d.get("provides", ())),
        requires=tuple(d.get("requires", ())), options=dict(d.get("options", {})),
        source=dict(d.get("source", {})), installed_at=float(at), run=d.get("run", ""),
        logs=d.get("logs", ""), system=system)


def damaged_record(path: Path, prefix: Path, problem: str) -> InstallError:
    """The error for a state record that cannot be read: what is wrong and the ways out."""
    return InstallError(
        f"The state record {path} of prefix {prefix} is damaged: {problem}. srcbuild cannot "
        "tell which files of the prefix that package owns.",
        to_resolve=[f"Restore {path.name} from a backup of the prefix, if there is one.",
                    (f"Or move it aside (mv {path} {path}.damaged): srcbuild forgets "
                     f"{path.stem}, whose files stay in the prefix unowned; remove them by "
                     "hand before installing it again, or install into a fresh --prefix.")])


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
                        pkg = installed_from_json(json.loads(p.read_text()), p.stem)
                    except (OSError, ValueError) as e:
                        raise damaged_record(p, self.prefix, str(e)) from None
                    found[pkg.name] = pkg
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
