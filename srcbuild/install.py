"""DESTDIR staging, the merge into the prefix, and uninstall."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

from srcbuild.errors import InstallError
from srcbuild.state import STATE_DIR, Installed, PrefixState


def staged_prefix(destdir: Path, prefix: Path) -> Path:
    """The prefix inside a staging DESTDIR (``DESTDIR/PREFIX``: where ``make install
    DESTDIR=...`` puts the files), the "stage" of docs/glossary.md."""
    return Path(str(destdir) + str(prefix))


def staged_files(destdir: Path, prefix: Path, name: str) -> list[str]:
    """Files (and symlinks) the install step put under the staged prefix, relative to it.

    Anything staged outside the prefix (``/etc``, ``/usr``) is an error naming the file.
    """
    stage = staged_prefix(destdir, prefix)
    outside: list[str] = []
    files: list[str] = []
    for dirpath, dirnames, filenames in os.walk(destdir):
        here = Path(dirpath)
        entries = filenames + [d for d in dirnames if (here / d).is_symlink()]
        for f in entries:
            full = here / f
            try:
                files.append(full.relative_to(stage).as_posix())
            except ValueError:
                outside.append("/" + full.relative_to(destdir).as_posix())
    if outside:
        raise InstallError(
            f"{name} installed {len(outside)} file(s) outside the prefix {prefix}, "
            f"e.g. {', '.join(sorted(outside)[:3])}.",
            "Pass the package's own option for that folder (for example --sysconfdir="
            "{{ prefix }}/etc) in the recipe's configure_args.")
    return sorted(files)


def merge(destdir: Path, prefix: Path, installed: Installed, state: PrefixState) -> Installed:
    """Move a checked staged install into the prefix, all or nothing, and record it."""
    files = staged_files(destdir, prefix, installed.name)
    previous = state.get(installed.name)
    mine = set(previous.files) if previous else set()
    _refuse_clashes(prefix, files, installed.name, state, mine)
    temps = _copy_beside(staged_prefix(destdir, prefix), prefix, files, installed.name)
    for tmp, target in temps:
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(tmp, target)
    for rel in sorted(mine - set(files), reverse=True):
        _remove(prefix, rel)
    record = dataclasses.replace(installed, files=tuple(files))
    state.record(record)
    return record


def _refuse_clashes(prefix: Path, files: list[str], name: str, state: PrefixState,
                    mine: set[str]) -> None:
    """A file of another package, or one srcbuild did not install, is never overwritten."""
    owners = state.owner_of()
    clashes = []
    for rel in files:
        if rel.startswith(STATE_DIR + "/"):
            raise InstallError(f"{name} tried to install {rel}, inside srcbuild's "
                               "own state folder.")
        target = prefix / rel
        owner = owners.get(rel)
        if owner and owner != name:
            clashes.append(f"{rel} (installed by {owner})")
        elif not owner and rel not in mine and (target.exists() or target.is_symlink()) \
                and not target.is_dir():
            clashes.append(f"{rel} (not installed by srcbuild)")
    if clashes:
        raise InstallError(
            f"Installing {name} into {prefix} would overwrite "
            f"{len(clashes)} file(s): {', '.join(clashes[:5])}.",
            "Uninstall the other package first, remove the stray files, or use another --prefix.")


def _copy_beside(stage: Path, prefix: Path, files: list[str], name: str
                 ) -> list[tuple[Path, Path]]:
    """Copy every staged file next to its target under a temporary name (the renames that
    follow cannot fail half-way for lack of space); on an error, undo and raise."""
    created_dirs: list[Path] = []
    temps: list[tuple[Path, Path]] = []
    try:
        for rel in files:
            src, target = stage / rel, prefix / rel
            parent = target.parent
            missing = []
            while not parent.exists():
                missing.append(parent)
                parent = parent.parent
            for d in reversed(missing):
                d.mkdir()
                created_dirs.append(d)
            tmp = target.with_name(f".{target.name}.srcbuild-new")
            if tmp.exists() or tmp.is_symlink():
                tmp.unlink()
            if src.is_symlink():
                os.symlink(os.readlink(src), tmp)
            else:
                shutil.copy2(src, tmp)
            temps.append((tmp, target))
    except OSError as e:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        for d in reversed(created_dirs):
            try:
                d.rmdir()
            except OSError:
                pass
        raise InstallError(f"Merging {name} into {prefix} failed: {e}; the prefix "
                           "was left as it was.", "Check free space and permissions.") from None
    return temps


def _remove(prefix: Path, rel: str) -> None:
    target = prefix / rel
    if target.is_symlink() or target.exists():
        target.unlink()
    parent = target.parent
    while parent != prefix and parent.is_dir():
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


def uninstall(prefix: Path, name: str, state: PrefixState) -> list[str]:
    """Remove exactly the files ``name`` installed, then its record; return them."""
    pkg = state.get(name)
    if pkg is None:
        installed = ", ".join(sorted(state.packages())) or "nothing"
        raise InstallError(f"{name} is not installed in {prefix} (installed: {installed}).")
    for rel in sorted(pkg.files, reverse=True):
        _remove(prefix, rel)
    state.forget(name)
    return list(pkg.files)
