"""A change to the prefix (a merge, an uninstall) as a transaction, the promise dpkg and Nix
keep: before anything in the prefix moves, PREFIX/.srcbuild/txn/journal.json (fsynced) says
what will move and what it replaces. New files wait in that folder, and replaced or removed
ones are set aside there, on the prefix's own filesystem, so undoing is a rename back.

The package's state record is the commit point: it is written after every file is in
place. After a kill at any instant, ``recover`` (run by every srcbuild command that opens
the prefix) goes one way or the other, and says so:
- a transaction folder without a journal: the kill came while the new files were copied
  into it, before anything in the prefix moved: the folder is removed (back);
- a merge whose new record is on disk: every file was in place: finish it (forward),
  deleting what was set aside;
- a merge without its new record: undo every move the journal lists (back), so that old
  and new files are never mixed and the previous version (or nothing) is installed. Forward
  would be possible too (the new files are all in the folder), but back restores the last
  state a command reported, and needs no space;
- an uninstall: finish it (forward): its journal is written once the uninstall was checked
  (nothing depends on the package) and finishing needs neither space nor data.
An error inside the running process (ENOSPC, EACCES, EIO) always rolls back.

For a crash of the machine (not only of srcbuild), the new files' data is made durable
(durable.sync_files) before the journal is written, and the journal and the record are
fsynced with their folders, so that a journal or a record on disk never names files
whose content was lost.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from srcbuild.durable import atomic_write, sync_files
from srcbuild.errors import InstallError
from srcbuild.kinds import ChangeKind
from srcbuild.prefixpath import bad_path, filesystem, locate
from srcbuild.state import STATE_DIR, Installed, PrefixState

TXN_DIR = "txn"
JOURNAL = "journal.json"

# A hook called after each step of a transaction, with the step's name and index (the kill
# tests pass one that SIGKILLs the process there; see tests/test_merge.py).
Step = Callable[[str, int], None]


def _no_step(name: str, index: int) -> None:
    pass


@dataclass
class Change:
    """What one transaction does to the prefix: the content of journal.json."""

    kind: ChangeKind
    package: str
    place: list[str] = field(default_factory=list)  # txn/new/I becomes PREFIX/place[I]
    replaces: list[bool] = field(default_factory=list)  # place[I] exists and is set aside
    remove: list[str] = field(default_factory=list)  # PREFIX/remove[J] goes to txn/gone/J
    dirs_removed: list[tuple[str, int]] = field(default_factory=list)  # (folder, mode),
    # deepest first: folders in the way of a new file, empty once `remove` is set aside
    dirs_created: list[str] = field(default_factory=list)  # shallowest first
    record: dict[str, Any] | None = None  # the package's record once committed (a merge)
    previous: dict[str, Any] | None = None  # its record before

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # asdict copies deeply

    @classmethod
    def from_json(cls, d: dict[str, Any], prefix: Path) -> Change:
        """The journal's change, every path checked: inside the prefix, no ``..``, not
        through a symlink out of it."""
        c = cls(ChangeKind(d["kind"]), str(d["package"]), list(d["place"]),
                [bool(r) for r in d["replaces"]], list(d["remove"]),
                [(str(rel), int(mode)) for rel, mode in d["dirs_removed"]],
                list(d["dirs_created"]), d["record"], d["previous"])
        paths = c.place + c.remove + c.dirs_created + [rel for rel, _ in c.dirs_removed]
        for rel in paths:
            why = bad_path(rel) or ("it leads out of the prefix"
                                    if locate(prefix, rel).outside else "")
            if why:
                raise ValueError(f"{rel!r}: {why}")
        if len(c.replaces) != len(c.place):
            raise ValueError("place and replaces differ in length")
        return c


class Transaction:
    """One change to ``prefix``, all or nothing; the caller holds the prefix lock."""

    def __init__(self, prefix: Path, state: PrefixState, on_step: Step | None = None
                 ) -> None:
        self.prefix = prefix
        self.state = state
        self.dir = prefix / STATE_DIR / TXN_DIR
        self.on_step = on_step or _no_step
        self.doing = ""

    @property
    def journal(self) -> Path:
        return self.dir / JOURNAL

    def merge(self, stage: Path, sources: list[str], change: Change, record: Installed,
              needed: int = 0) -> None:
        """Copy ``stage/sources[I]`` into the transaction folder, write the journal, move
        everything into place, write ``record``; on an error, roll back and raise (naming
        the ``needed`` bytes when the disk is full)."""
        self._refuse_unfinished()
        try:
            self._prepare(stage, sources)
            self.doing = "writing the journal"
            atomic_write(self.journal, json.dumps(change.to_json()))
            self.on_step("journal", 0)
        except OSError as e:
            where = self._full(e)
            shutil.rmtree(self.dir, ignore_errors=True)
            raise self._error(change, e, where, needed, None) from None
        self._run(change, record)

    def uninstall(self, change: Change) -> None:
        """Set aside every file of ``change.remove``, remove the record, then the files."""
        self._refuse_unfinished()
        try:
            self.doing = "writing the journal"
            for sub in ("new", "old", "gone"):
                (self.dir / sub).mkdir(parents=True)
            atomic_write(self.journal, json.dumps(change.to_json()))
            self.on_step("journal", 0)
        except OSError as e:
            where = self._full(e)
            shutil.rmtree(self.dir, ignore_errors=True)
            raise self._error(change, e, where, 0, None) from None
        self._run(change, None)

    # -- the steps ---------------------------------------------------------------------------
    def _prepare(self, stage: Path, sources: list[str]) -> None:
        """The new files, copied beside the prefix's own: the renames that follow need no
        space, so they cannot fail half-way for lack of it."""
        new = self.dir / "new"
        for sub in ("new", "old", "gone"):
            (self.dir / sub).mkdir(parents=True)
        # hard links of the stage stay hard links (binutils' ld = ld.bfd = TARGET-ld, GCC's
        # drivers): one copy, linked, and the renames keep the inode; not 2-4 copies
        copied: dict[tuple[int, int], str] = {}
        for i, rel in enumerate(sources):
            self.doing = f"copying {rel} into {new}"
            src, dst = f"{stage}/{rel}", f"{new}/{i}"
            st = os.lstat(src)
            first = copied.get((st.st_dev, st.st_ino)) if st.st_nlink > 1 else None
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)
            elif first is not None:
                os.link(first, dst)
            else:
                shutil.copy2(src, dst)
                if st.st_nlink > 1:
                    copied[(st.st_dev, st.st_ino)] = dst
            self.on_step("copy", i)
        self.doing = "writing the copied files to disk"
        sync_files(new, len(sources))

    def _run(self, change: Change, record: Installed | None) -> None:
        """Apply and commit; an error rolls back (the record first, then the files)."""
        try:
            self._apply(change)
            if record is not None:
                self.doing = "writing the state record"
                self.state.record(record)
            else:
                self.doing = "removing the state record"
                self.state.forget(change.package)
            self.on_step("record", 0)
        except OSError as e:
            where, doing = self._full(e), self.doing
            try:
                self.rollback(change)
                failed = None
            except OSError as again:
                failed = again
            self.doing = doing
            raise self._error(change, e, where, 0, failed) from None
        self.finish(change)

    def _apply(self, c: Change) -> None:
        p, txn = str(self.prefix), str(self.dir)  # strings: thousands of paths
        for j, rel in enumerate(c.remove):
            self.doing = f"setting {rel} aside"
            if os.path.lexists(f"{p}/{rel}"):
                os.rename(f"{p}/{rel}", f"{txn}/gone/{j}")
            self.on_step("gone", j)
        for rel, _ in c.dirs_removed:
            self.doing = f"removing the empty folder {rel}"
            os.rmdir(f"{p}/{rel}")
        for rel in c.dirs_created:
            self.doing = f"creating the folder {rel}"
            try:
                os.mkdir(f"{p}/{rel}")
            except FileExistsError:
                if not os.path.isdir(f"{p}/{rel}"):
                    raise
        for i, rel in enumerate(c.place):
            self.doing = f"moving {rel} into place"
            target = f"{p}/{rel}"
            if os.path.lexists(target) != c.replaces[i]:
                # the journal's undo depends on it: the prefix changed since the plan
                raise OSError(errno.ENOENT if c.replaces[i] else errno.EEXIST,
                              "appeared or vanished while merging", target)
            if c.replaces[i]:
                _set_aside(target, f"{txn}/old/{i}")
                self.on_step("aside", i)
            os.rename(f"{txn}/new/{i}", target)
            self.on_step("placed", i)

    def rollback(self, c: Change) -> None:
        """Undo every move ``c`` made, from what is in the transaction folder: the record
        first (so that a kill during the rollback is still a rollback), then the files.
        Each undo checks what is there, so running it twice is harmless."""
        p, txn = str(self.prefix), str(self.dir)
        self.doing = "rolling back"
        on_disk = read_record(self.state, c.package)
        if on_disk != c.previous:
            if c.previous is None:
                self.state.forget(c.package)
            else:
                atomic_write(self.state.dir / f"{c.package}.json",
                             json.dumps(c.previous, indent=1, sort_keys=True))
        self.state.reload()
        for i in reversed(range(len(c.place))):
            target, new, old = f"{p}/{c.place[i]}", f"{txn}/new/{i}", f"{txn}/old/{i}"
            if os.path.lexists(new):  # not moved in: the old entry is there, or set aside
                if os.path.lexists(old) and not os.path.lexists(target):
                    os.rename(old, target)
            elif os.path.lexists(old):
                os.rename(old, target)
            elif not c.replaces[i] and os.path.lexists(target):
                os.unlink(target)
        for rel in reversed(c.dirs_created):
            try:
                os.rmdir(f"{p}/{rel}")
            except OSError:  # not empty (not ours alone) or already gone
                pass
        for rel, mode in reversed(c.dirs_removed):
            if not os.path.lexists(f"{p}/{rel}"):
                os.mkdir(f"{p}/{rel}")
                os.chmod(f"{p}/{rel}", mode)
        for j in reversed(range(len(c.remove))):
            gone = f"{txn}/gone/{j}"
            if os.path.lexists(gone):
                os.rename(gone, f"{p}/{c.remove[j]}")
        self._drop()

    def finish(self, c: Change) -> None:
        """After the commit: folders left empty are removed, then the journal, then what was
        set aside. An error here only leaves the folder for the next recover to finish."""
        try:
            for rel in c.remove:
                _prune(self.prefix, rel)
            self.on_step("pruned", 0)
            self._drop()
        except OSError:
            pass

    def _drop(self) -> None:
        """The journal first: without it, what is left of the folder is only removed."""
        self.journal.unlink(missing_ok=True)
        self.on_step("forgotten", 0)
        shutil.rmtree(self.dir, ignore_errors=True)  # the next recover removes the rest

    # -- errors --------------------------------------------------------------------------------
    def _refuse_unfinished(self) -> None:
        if self.dir.exists():  # recover() was not run: never overwrite another's journal
            raise InstallError(f"{self.dir} holds an unfinished change to {self.prefix}.",
                               "Any srcbuild command on that prefix (plan, install) finishes "
                               "it first; run one.")

    def _full(self, e: OSError) -> str:
        """For a full disk: the prefix's filesystem (a transaction writes nowhere else) and
        its free bytes, measured before the rollback gives the space back."""
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            return filesystem(self.dir if self.dir.exists() else self.prefix)
        return ""

    def _error(self, c: Change, e: OSError, full: str, needed: int,
               rollback_failed: OSError | None) -> InstallError:
        what = (f"Merging {c.package} into" if c.kind == ChangeKind.MERGE
                else f"Uninstalling {c.package} from")
        msg = f"{what} {self.prefix} failed while {self.doing}: {e.strerror or e}"
        # a copy's error names the source first and the file it wrote second
        filename = getattr(e, "filename2", None) or e.filename
        msg += f" ({filename})." if filename else "."
        if full:
            msg += f" The disk is full: {full}" + (
                f"; the package needs about {needed} bytes." if needed else ".")
        if rollback_failed is None:
            msg += " The change was rolled back: the prefix is as it was."
        else:
            msg += (f" Rolling it back failed too ({rollback_failed}): the journal "
                    f"{self.journal} is kept, and the next srcbuild command on this prefix "
                    "finishes the rollback.")
        hint = ("Free space on that filesystem (or use a --prefix on another one), then run "
                "the same command again." if full else
                "Check the permissions and the health of that filesystem, then run the same "
                "command again.")
        return InstallError(msg, hint)


def _set_aside(target: str, aside: str) -> None:
    """Keep the entry being replaced: a hard link (so that the path never disappears, the
    new entry is renamed over it), or a rename where links are not possible."""
    try:
        os.link(target, aside, follow_symlinks=False)
    except OSError:
        os.rename(target, aside)


def _prune(prefix: Path, rel: str) -> None:
    """Remove the folders above ``rel`` that its removal left empty."""
    parent = (prefix / rel).parent
    while parent != prefix and prefix in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


def read_record(state: PrefixState, name: str) -> dict[str, Any] | None:
    """The record of ``name`` as it is on disk (not as ``state`` cached it), or None."""
    try:
        data: dict[str, Any] = json.loads((state.dir / f"{name}.json").read_text())
        return data
    except FileNotFoundError:
        return None
    except ValueError:
        return {}  # damaged: never equal to a journal's record, so a merge rolls back


def pending(prefix: Path) -> bool:
    """Whether a killed run left something for ``recover`` (two stats: cheap)."""
    state_dir = prefix / STATE_DIR
    return (state_dir / TXN_DIR).exists() or any(
        (state_dir / "packages").glob(".*.json.tmp"))


def recover(prefix: Path) -> list[str]:
    """Finish or undo what a killed srcbuild left in ``prefix`` (see the module docstring);
    what was done, one sentence each. The caller holds the prefix lock."""
    txn = prefix / STATE_DIR / TXN_DIR
    journal = txn / JOURNAL
    try:
        for tmp in (prefix / STATE_DIR / "packages").glob(".*.json.tmp"):
            tmp.unlink()  # a record write killed before its rename
        if not txn.exists():
            return []
        if not journal.exists():
            shutil.rmtree(txn)
            return [f"Removed {txn}, left by a merge killed before it changed the prefix."]
        text = journal.read_text()
    except OSError as e:
        raise InstallError(f"Cleaning up after a killed srcbuild in {prefix} failed: {e}.",
                           f"Fix that, then run any srcbuild command on {prefix} again.") \
            from None
    try:
        change = Change.from_json(json.loads(text), prefix)
    except (ValueError, KeyError, TypeError) as e:
        raise InstallError(
            f"The journal {journal} of an interrupted change to {prefix} is damaged ({e}).",
            f"Look at the files it lists, then remove {txn} and reinstall the package it "
            "names (`srcbuild uninstall NAME` cleans up what is recorded).") from None
    state = PrefixState(prefix)
    try:
        return [_recover(Transaction(prefix, state), change,
                         read_record(state, change.package))]
    except OSError as e:
        raise InstallError(
            f"Recovering the interrupted {change.kind} of {change.package} in {prefix} "
            f"failed: {e}.", f"Fix that, then run any srcbuild command on {prefix} again: "
            f"the journal {journal} is kept.") from None


def _recover(t: Transaction, c: Change, on_disk: dict[str, Any] | None) -> str:
    name = c.package
    if c.kind == ChangeKind.UNINSTALL:
        for j, rel in enumerate(c.remove):
            if not os.path.lexists(t.dir / "gone" / str(j)) and os.path.lexists(t.prefix / rel):
                os.unlink(t.prefix / rel)
        t.state.forget(name)
        t.finish(c)
        return f"Finished the uninstall of {name} that was interrupted: its files are removed."
    version = (c.record or {}).get("version", "")
    if c.record is not None and on_disk == c.record and c.record != c.previous:
        t.finish(c)
        return (f"Finished the merge of {name} {version} that was interrupted after it was "
                "recorded.")
    t.rollback(c)
    before = (f"{name} {c.previous.get('version', '')} is installed as before"
              if c.previous else f"{name} is not installed")
    return f"Rolled back the merge of {name} {version} that was interrupted: {before}."
