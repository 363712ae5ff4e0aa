"""Checking a binary cache entry before anything of it reaches the stage.

A manifest lists every path of the staged tree: its type, a file's sha256 and mode, a link's
target (``tree_entries``). ``restore`` first ties the manifest to the build hash, name and
version it was asked for (``check_manifest``), then extracts the archive into a private folder
beside the stage, compares that tree with the manifest, and only then renames it into place:
a refused entry leaves nothing in the stage.

What this proves depends on who can write the cache. Against damage (a truncated sync, a bad
disk, an entry stored under the wrong key) it is complete. An unsigned manifest is only as
trustworthy as the folder holding it: whoever can write the cache can rewrite a manifest to
match a tampered archive. Signatures (``signing.py``, ``--require-signed``) close that gap.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srcbuild.errors import CorruptEntry, FetchError
from srcbuild.extract import extract, tree_beside

ENTRY_FORMAT = 2  # manifests with "entries"; format 1 (names only) cannot be checked per file
STATE_DIR = ".srcbuild"  # a prefix's own state: never part of a package
MODE_BITS = 0o775  # what extraction keeps of a file's mode (no setuid/setgid/sticky, no o+w)
_TYPES = {"file", "dir", "symlink"}
_SHOWN = 3  # paths named per kind of difference; the rest are counted

Entries = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Wanted:
    """What the engine asked the cache for: the manifest must say the same."""

    build_hash: str
    name: str
    version: str


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def tree_entries(root: Path) -> Entries:
    """Every path under ``root`` (never following a link): ``{"type": "dir"}``,
    ``{"type": "symlink", "target": T}``, ``{"type": "file", "sha256": H, "mode": M}``;
    anything else is ``{"type": "special"}``, which no manifest can list."""
    out: Entries = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in (*dirnames, *filenames):
            path = here / name
            rel = path.relative_to(root).as_posix()
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = {"type": "symlink", "target": os.readlink(path)}
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = {"type": "dir"}
            elif stat.S_ISREG(st.st_mode):
                out[rel] = {"type": "file", "sha256": _sha256(path),
                            "mode": stat.S_IMODE(st.st_mode) & MODE_BITS}
            else:
                out[rel] = {"type": "special"}
    return out


def _is_state(rel: str) -> bool:
    return rel.split("/", 1)[0] == STATE_DIR


def _bad_path(rel: str) -> bool:
    parts = rel.split("/")
    return (not rel or rel.startswith("/") or "\0" in rel
            or any(p in ("", ".", "..") for p in parts))


def check_manifest(manifest: Any, wanted: Wanted) -> Entries:
    """The manifest's entries, once it is a manifest for exactly ``wanted`` and lists only
    plain relative paths outside the prefix's state; else CorruptEntry saying why."""
    if not isinstance(manifest, dict):
        raise CorruptEntry("its manifest is not a JSON object")
    for field, value in (("build_hash", wanted.build_hash), ("name", wanted.name),
                         ("version", wanted.version)):
        if manifest.get(field) != value:
            raise CorruptEntry(f"its manifest is for {field} {manifest.get(field)!r}, not the "
                               f"{value!r} asked for")
    entries = manifest.get("entries")
    if manifest.get("format") != ENTRY_FORMAT or not isinstance(entries, dict):
        raise CorruptEntry("its manifest lists no per-file sha256 (made by an older srcbuild), "
                           "so it cannot be checked file by file")
    for rel, entry in entries.items():
        if not isinstance(entry, dict) or entry.get("type") not in _TYPES:
            raise CorruptEntry(f"its manifest has a malformed entry {rel!r}")
        if _bad_path(rel):
            raise CorruptEntry(f"its manifest lists the path {rel!r}, which is not a plain "
                               "relative path inside the prefix")
        if _is_state(rel):
            raise CorruptEntry(f"its manifest lists {rel}, srcbuild's own prefix state")
    return entries


def compare(expected: Entries, found: Entries) -> str:
    """Why the extracted tree ``found`` is not the manifest's ``expected``; "" when it is."""
    state = sorted(p for p in found if _is_state(p))
    if state:  # name a file in there, not merely the folder
        files = [p for p in state if found[p]["type"] != "dir"] or state
        return f"it holds {files[0]}, srcbuild's own prefix state"
    problems = []
    extra = sorted(found.keys() - expected.keys())
    missing = sorted(expected.keys() - found.keys())
    changed = sorted(p for p in expected.keys() & found.keys() if expected[p] != found[p])
    for paths, what in ((extra, "not in its manifest"), (changed, "not as its manifest says"),
                        (missing, "missing from its archive")):
        if paths:
            shown = ", ".join(paths[:_SHOWN]) + (f" and {len(paths) - _SHOWN} more"
                                                  if len(paths) > _SHOWN else "")
            problems.append(f"{shown} {'is' if len(paths) == 1 else 'are'} {what}")
    return "; ".join(problems)


def restore(archive: Path, manifest: Any, wanted: Wanted, stage: Path) -> None:
    """Put the entry's tree at ``stage`` (absent or an empty folder) if, and only if, it is
    exactly what its manifest for ``wanted`` lists; else CorruptEntry saying why, and
    ``stage`` is as it was."""
    expected = check_manifest(manifest, wanted)
    with tree_beside(stage, archive, "restored", "restore") as tmp:
        try:
            extract(archive, tmp)
        except FetchError as e:  # UnsafeArchive included: a member outside, a device...
            raise CorruptEntry(f"its archive cannot be extracted safely ({e.message})") from None
        problem = compare(expected, tree_entries(tmp))
        if problem:
            raise CorruptEntry(problem)
