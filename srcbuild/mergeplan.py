"""What a merge will do, decided before anything moves: where each staged entry lands (its
parent symlinks resolved inside the prefix), what it replaces and what it leaves behind;
and every refusal, naming both packages: a file of another package, a file (or symlink)
over a folder, a folder over a file, a path a symlink leads out of the prefix, a folder on
another filesystem."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from srcbuild.errors import InstallError
from srcbuild.journal import Change
from srcbuild.kinds import ChangeKind
from srcbuild.prefixpath import Where, bad_path, locate
from srcbuild.state import STATE_DIR, PrefixState

SHOWN = 5  # refusals listed in one message


@dataclass
class MergePlan:
    """The journal's change of a merge, and the staged path of each entry it places."""

    sources: list[str]  # relative to the stage; sources[I] lands at change.place[I]
    change: Change
    size: int  # bytes the staged files take on the prefix's filesystem (whole blocks)


class _Owners:
    """Who installed a path: another package, this one, or nobody."""

    def __init__(self, state: PrefixState, name: str, mine: set[str]) -> None:
        self.by_path = state.owner_of()
        self.name = name
        self.mine = mine

    def of(self, rel: str) -> str:
        if rel in self.mine:
            return f"of {self.name} itself"
        owner = self.by_path.get(rel)
        return f"installed by {owner}" if owner else "not installed by srcbuild"


def plan_merge(prefix: Path, stage: Path, staged: list[str], name: str, state: PrefixState
               ) -> MergePlan:
    """Where each staged entry goes; raise InstallError for anything that must not move."""
    previous = state.get(name)
    mine = set(recorded(prefix, state, name))
    owners = _Owners(state, name, mine)
    absent = mine - set(staged)  # set aside before any folder is created
    refusals: list[str] = []
    sources, place, created, missing = [], [], [], []
    seen: dict[str, str] = {}
    folders: dict[str, Where] = {}
    size, block = 0, os.statvfs(prefix).f_frsize
    for rel in staged:
        if rel.split("/")[0] == STATE_DIR:
            raise InstallError(f"{name} tried to install {rel}, inside srcbuild's "
                               "own state folder.")
        where = locate(prefix, rel, absent, folders)
        link = where.outside.split(" -> ")[0]
        st = os.lstat(f"{stage}/{rel}")
        if stat.S_ISREG(st.st_mode):
            size += -(-st.st_size // block) * block
        why = (_special(rel, st.st_mode) or
               (where.outside and f"{rel}: it would be written through the symlink "
                f"{where.outside} ({owners.of(link)}), which leads out of the prefix") or
               (where.not_a_folder and f"{rel}: {name} needs the folder "
                f"{where.not_a_folder}, but that is a file {owners.of(where.not_a_folder)}") or
               (where.rel in seen and f"{rel} and {seen[where.rel]} are one path in the "
                f"prefix (through {', '.join(where.via)})"))
        if why:
            refusals.append(why)
            continue
        seen[where.rel] = rel
        sources.append(rel)
        place.append(where.rel)
        missing.append(bool(where.missing))
        if where.missing:
            parts = where.rel.split("/")[:-1]
            first = where.missing.count("/") + 1
            created += ["/".join(parts[:k]) for k in range(first, len(parts) + 1)]
    stale = mine - set(place)
    change = Change(ChangeKind.MERGE, name, place=place, remove=sorted(stale, reverse=True),
                    previous=previous.to_json() if previous else None)
    clashes: list[str] = []
    for src, target, new_folder in zip(sources, place, missing):
        if new_folder:  # in a folder the merge creates: nothing there yet
            change.replaces.append(False)
        else:
            _check_target(prefix, stage, src, target, change, owners, stale, refusals,
                          clashes)
    refusals += _other_filesystems(prefix, place, set(created))
    _refuse(prefix, name, refusals, clashes)
    change.dirs_created = sorted(set(created), key=lambda d: (d.count("/"), d))
    return MergePlan(sources, change, size)


def recorded(prefix: Path, state: PrefixState, name: str) -> list[str]:
    """Where the recorded files of ``name`` really are (parent symlinks resolved), every
    path checked first: relative, no ``..``, not through a symlink out of the prefix."""
    pkg = state.get(name)
    if pkg is None:
        return []
    bad = [f"{rel!r} ({why})" for rel in pkg.files if (why := bad_path(rel))]
    folders: dict[str, Where] = {}
    out = {rel: locate(prefix, rel, (), folders) for rel in pkg.files if not bad_path(rel)}
    bad += [f"{rel!r} (through the symlink {w.outside}, out of the prefix)"
            for rel, w in out.items() if w.outside]
    if bad:
        raise InstallError(
            f"The state record {state.dir / (name + '.json')} lists {len(bad)} path(s) "
            f"srcbuild will not touch: {', '.join(bad[:SHOWN])}. Nothing was changed.",
            "The record was edited or damaged: remove those paths from it, then run the "
            "same command again.")
    return sorted({w.rel for w in out.values()})


def _special(rel: str, mode: int) -> str:
    if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
        return ""
    kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device file")
    return f"{rel}: the stage holds {kind}, which srcbuild does not install"


def _check_target(prefix: Path, stage: Path, src: str, target: str, change: Change,
                  owners: _Owners, stale: set[str], refusals: list[str], clashes: list[str]
                  ) -> None:
    """What ``target`` is in the prefix now: nothing, a file this package replaces, a
    folder whose files all leave with the old version (removed), or a refusal."""
    full = f"{prefix}/{target}"
    try:
        st = os.lstat(full)
    except (FileNotFoundError, NotADirectoryError):
        change.replaces.append(False)
        return
    if not stat.S_ISDIR(st.st_mode):
        change.replaces.append(True)
        owner = owners.by_path.get(target)
        if owner and owner != owners.name:
            clashes.append(f"{target} (installed by {owner})")
        elif not owner and target not in owners.mine:
            clashes.append(f"{target} (not installed by srcbuild)")
        return
    change.replaces.append(False)
    files, folders = _under(Path(full), prefix)
    others = [f for f in files if f not in stale]
    if others:
        what = (f"a symlink ({src} -> {os.readlink(stage / src)})"
                if (stage / src).is_symlink() else "a file")
        whose = sorted({owners.of(f) for f in others})
        refusals.append(
            f"{target}: {owners.name} installs {what} where the prefix has a folder holding "
            f"{len(others)} file(s) {' and '.join(whose)} ({', '.join(sorted(others)[:3])})")
        return
    change.dirs_removed += [(d, stat.S_IMODE(os.lstat(prefix / d).st_mode))
                            for d in sorted(folders, key=lambda d: -d.count("/"))]


def _under(folder: Path, prefix: Path) -> tuple[list[str], list[str]]:
    """The entries (not following symlinks) and the folders, the folder itself included."""
    files, folders = [], [folder.relative_to(prefix).as_posix()]
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        for d in list(dirnames):
            if (here / d).is_symlink():
                files.append((here / d).relative_to(prefix).as_posix())
                dirnames.remove(d)
            else:
                folders.append((here / d).relative_to(prefix).as_posix())
        files += [(here / f).relative_to(prefix).as_posix() for f in filenames]
    return files, folders


def _other_filesystems(prefix: Path, place: list[str], created: set[str]) -> list[str]:
    """Targets whose folder is on another filesystem than the state folder, where the new
    files wait: a rename cannot cross filesystems."""
    state_dir = prefix / STATE_DIR
    dev = (state_dir if state_dir.exists() else prefix).stat().st_dev
    seen: dict[str, bool] = {}
    out = []
    for target in place:
        folder = target.rsplit("/", 1)[0] if "/" in target else "."
        while folder in created:
            folder = folder.rsplit("/", 1)[0] if "/" in folder else "."
        if folder not in seen:
            seen[folder] = (prefix / folder).stat().st_dev != dev
            if seen[folder]:
                out.append(f"{target}: the folder {prefix / folder} is another filesystem "
                           f"than {state_dir} (a merge renames within one filesystem)")
    return out


def _refuse(prefix: Path, name: str, refusals: list[str], clashes: list[str]) -> None:
    if refusals:
        shown = refusals[:SHOWN] + ([f"{len(refusals) - SHOWN} more"]
                                    if len(refusals) > SHOWN else [])
        if clashes:
            shown.append(f"and it would overwrite {len(clashes)} file(s): "
                         f"{', '.join(clashes[:SHOWN])}")
        raise InstallError(
            f"Installing {name} into {prefix} was refused before anything moved: "
            + "; ".join(shown) + ".",
            "A path is one package's, a file or a folder, never both, and nothing is written "
            f"through a symlink that leaves the prefix: change {name}'s recipe (its install "
            "step), uninstall the other package first, or use another --prefix.")
    if clashes:
        raise InstallError(
            f"Installing {name} into {prefix} would overwrite "
            f"{len(clashes)} file(s): {', '.join(clashes[:SHOWN])}. Nothing was changed.",
            "Uninstall the other package first, remove the stray files, or use another "
            "--prefix.")
