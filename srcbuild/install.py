"""DESTDIR staging, the merge into the prefix, and uninstall: each a transaction on the prefix
(journal.py), planned and checked before anything moves (mergeplan.py)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from srcbuild.errors import InstallError
from srcbuild.journal import Change, Step, Transaction, recover
from srcbuild.kinds import ChangeKind
from srcbuild.mergeplan import plan_merge, recorded
from srcbuild.state import Installed, PrefixState


def staged_prefix(destdir: Path, prefix: Path) -> Path:
    """The prefix inside a staging DESTDIR (``DESTDIR/PREFIX``: where ``make install
    DESTDIR=...`` puts the files), the "stage" of docs/glossary.md."""
    return Path(str(destdir) + str(prefix))


def staged_files(destdir: Path, prefix: Path, name: str) -> list[str]:
    """Files (and symlinks) the install step put under the staged prefix, relative to it.

    Anything staged outside the prefix (``/etc``, ``/usr``) is an error naming the file.
    """
    stage = str(staged_prefix(destdir, prefix))
    outside: list[str] = []
    files: list[str] = []
    for dirpath, dirnames, filenames in os.walk(destdir):
        entries = filenames + [d for d in dirnames if os.path.islink(f"{dirpath}/{d}")]
        for f in entries:
            full = f"{dirpath}/{f}"
            if full.startswith(stage + "/"):
                files.append(full[len(stage) + 1:])
            else:
                outside.append(full[len(str(destdir)):])
    if outside:
        raise InstallError(
            f"{name} installed {len(outside)} file(s) outside the prefix {prefix}, "
            f"e.g. {', '.join(sorted(outside)[:3])}.",
            "Pass the package's own option for that folder (for example --sysconfdir="
            "{{ prefix }}/etc) in the recipe's configure_args.")
    return sorted(files)


def merge(destdir: Path, prefix: Path, installed: Installed, state: PrefixState,
          on_step: Step | None = None, touched: set[str] | None = None) -> Installed:
    """Move a checked staged install into the prefix as one transaction (journal.py) and
    record it; anything that must not move is refused before anything does (mergeplan.py).

    ``touched`` receives, before anything moves, every path the merge may create, replace or
    remove, and the folders above them: what explains those changes (even when the merge
    fails and rolls back) to the PrefixWatch of a package building meanwhile."""
    _recover(prefix, state)
    stage = staged_prefix(destdir, prefix)
    try:
        plan = plan_merge(prefix, stage, staged_files(destdir, prefix, installed.name),
                          installed.name, state)
    except OSError as e:
        raise InstallError(f"Looking at {prefix} before merging {installed.name} failed: "
                           f"{e}. Nothing was changed.",
                           "Check the permissions of that path.") from None
    change = plan.change
    # replace(): every field of the record (run, logs, ...) comes from the caller
    record = dataclasses.replace(installed, files=tuple(sorted(change.place)))
    change.record = record.to_json()
    if touched is not None:
        paths = change.place + change.remove + change.dirs_created
        paths += [d for d, _ in change.dirs_removed]
        touched.update(paths, (p.as_posix() for rel in paths for p in Path(rel).parents))
    Transaction(prefix, state, on_step).merge(stage, plan.sources, change, record, plan.size)
    return record


def uninstall(prefix: Path, name: str, state: PrefixState, on_step: Step | None = None
              ) -> list[str]:
    """Remove exactly the files ``name`` installed, then its record, as one transaction;
    every recorded path is checked first. The recorded paths are returned."""
    _recover(prefix, state)
    pkg = state.get(name)
    if pkg is None:
        installed = ", ".join(sorted(state.packages())) or "nothing"
        raise InstallError(f"{name} is not installed in {prefix} (installed: {installed}).")
    try:
        paths = recorded(prefix, state, name)
    except OSError as e:
        raise InstallError(f"Looking at the files of {name} in {prefix} failed: {e}. Nothing "
                           "was removed.", "Check the permissions of that path.") from None
    change = Change(ChangeKind.UNINSTALL, name, remove=paths[::-1], previous=pkg.to_json())
    Transaction(prefix, state, on_step).uninstall(change)
    return list(pkg.files)


def _recover(prefix: Path, state: PrefixState) -> None:
    """The caller (api) has usually recovered already, and reported it; this is for the
    other callers of merge and uninstall."""
    if recover(prefix):
        state.reload()
