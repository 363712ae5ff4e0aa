"""What a run owns in a cache folder, and the cleanup of what killed runs left behind.

A work folder (``CACHE/work/NAME-HASH``) belongs to the run that holds the flock on its
``.srcbuild-lock`` file; the kernel drops the lock when that run dies, however it dies.
While the package builds, ``.srcbuild-running`` exists and ``.srcbuild-sessions`` lists the
sessions of its commands (sessions.SessionLog). A run that ends in any way but a kill
removes the ``running`` mark, and the folder stays for inspection (a failed build, or
--keep-build). So a folder with the mark and no lock is a killed run's: the next run that
uses the cache kills the survivors of its sessions and removes it.

Temporaries (``.part-*``: downloads, copies, binary-cache entries being written) are
locked by their writer in the same way (owned_temp) and swept when their lock is free. A
run's events file (CACHE/runs/RUN.jsonl) is one such temporary renamed into place, locked
until the run ends (runs.Recorder): held() tells a running run's from a finished one's.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from srcbuild.errors import BuildError
from srcbuild.sessions import kill_survivors

LOCK = ".srcbuild-lock"
RUNNING = ".srcbuild-running"
SESSIONS = ".srcbuild-sessions"
TEMP_PREFIX = ".part-"
CLAIMS = ".claims.lock"  # in CACHE/work: one claim or sweep at a time


def _try_lock(path: Path) -> int | None:
    """An fd holding the exclusive flock of ``path`` (created if missing), or None when
    another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EAGAIN, errno.EACCES):
            return None
        raise
    return fd


@contextmanager
def _claims_lock(work_root: Path) -> Iterator[None]:
    work_root.mkdir(parents=True, exist_ok=True)
    fd = os.open(work_root / CLAIMS, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _remove_stale(folder: Path) -> list[int]:
    """Kill the survivors a dead run's folder lists, then remove the folder; their pids."""
    killed = kill_survivors(folder / SESSIONS)
    shutil.rmtree(folder, ignore_errors=True)
    return killed


@contextmanager
def claim(folder: Path) -> Iterator[Path]:
    """Own a fresh, empty work folder for one package's build: a previous one is removed
    (after killing what its dead run left running); the folder's sessions file is yielded.

    Raises BuildError when a live run holds the folder.
    """
    with _claims_lock(folder.parent):
        if folder.is_dir() and not folder.is_symlink():
            held = _try_lock(folder / LOCK)
            if held is None:
                raise BuildError(f"Another srcbuild run is building in {folder}.",
                                 "Wait for it to finish; two runs never share a work folder.")
            try:
                _remove_stale(folder)
            finally:
                os.close(held)
        elif folder.exists() or folder.is_symlink():
            folder.unlink()
        folder.mkdir(parents=True)
        fd = _try_lock(folder / LOCK)
        assert fd is not None  # the folder is new and the claims lock is held
        os.write(fd, f"{os.getpid()}\n".encode())
        (folder / RUNNING).touch()
    try:
        yield folder / SESSIONS
    finally:
        try:
            (folder / RUNNING).unlink(missing_ok=True)
        finally:
            os.close(fd)


def sweep_work(cache_dir: Path) -> list[tuple[Path, list[int]]]:
    """Remove the work folders of killed runs (marked running, lock free), after killing the
    survivors of their sessions; (folder, pids killed) for each."""
    root = cache_dir / "work"
    if not root.is_dir():
        return []
    removed = []
    with _claims_lock(root):
        for folder in sorted(root.iterdir()):
            if not folder.is_dir() or not (folder / RUNNING).exists():
                continue
            held = _try_lock(folder / LOCK)
            if held is None:
                continue  # a live run's
            try:
                removed.append((folder, _remove_stale(folder)))
            finally:
                os.close(held)
    return removed


def idle_work(cache_dir: Path) -> list[tuple[Path, bool]]:
    """The work folders no live run holds, for `srcbuild clean`: (folder, True) for a killed
    run's, (folder, False) for one a finished run kept (a failed build, --keep-build)."""
    root = cache_dir / "work"
    if not root.is_dir():
        return []
    idle = []
    with _claims_lock(root):
        for folder in sorted(root.iterdir()):
            if not folder.is_dir() or folder.is_symlink():
                continue
            held = _try_lock(folder / LOCK)
            if held is not None:
                os.close(held)
                idle.append((folder, (folder / RUNNING).exists()))
    return idle


def remove_idle(folder: Path) -> list[int] | None:
    """Remove a work folder that idle_work named, after killing what its dead run left
    running (the pids); None when a run has claimed it since."""
    with _claims_lock(folder.parent):
        if not folder.is_dir():
            return []
        held = _try_lock(folder / LOCK)
        if held is None:
            return None
        try:
            return _remove_stale(folder)
        finally:
            os.close(held)


@contextmanager
def owned_temp(folder: Path, name: str = "") -> Iterator[Path]:
    """A new empty temporary file in ``folder`` (``.part-NAME...``), locked by this process
    until the block ends (write it by its path, rename it into place inside the block): a
    sweep removes it only once its writer is gone."""
    fd, path = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{name}", dir=folder)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield Path(path)
    finally:
        os.close(fd)


def held(path: Path) -> bool:
    """True while a live process holds the flock of ``path`` (a running run's events file);
    False when the file is free or gone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True  # EAGAIN: another process holds it (any other error: cannot tell)
    finally:
        os.close(fd)
    return False


def sweep_temporaries(folder: Path) -> list[Path]:
    """Remove the ``.part-*`` files of ``folder`` whose writer is gone; those removed."""
    removed = []
    try:
        entries = list(folder.glob(f"{TEMP_PREFIX}*"))
    except OSError:
        return []
    for path in entries:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # still the same file under that name (not renamed into place meanwhile)
            if os.path.samestat(os.fstat(fd), os.lstat(path)):
                path.unlink()
                removed.append(path)
        except OSError:
            pass  # its writer holds it, or it went away
        finally:
            os.close(fd)
    return removed
