"""The identity of what the system provides: which files a requirement the system satisfies
resolved to, as the build hash, the state records and the lock see them; and the wording of
a change between two of them.

A .pc file counts by its content (a reinstall that leaves it as it was changes nothing); a
library or program by its real path, size and mtime, since reading every library whole on
every plan would cost more than it tells: a distribution's update of a library rewrites the
file, and so its size or mtime. The probe (probes.py) asks for these; the rest is pure.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# the ld.so cache ({file name: paths}, probes.parse_ldconfig), asked for only when needed:
# reading it is a process
Cache = Callable[[], Mapping[str, "tuple[str, ...] | list[str]"]]

# Where the GNU linker looks for -lNAME after the -L folders (its SEARCH_DIR list on a
# multiarch system; without a multiarch name, the plain folders): the file a -l links.
_MULTIARCH = getattr(sys.implementation, "_multiarch", "")
LINKER_DIRS = tuple(
    d for base in ("/usr/local/lib", "/lib", "/usr/lib")
    for d in ((f"{base}/{_MULTIARCH}",) if _MULTIARCH else ()) + (base,)
) + ("/lib64", "/usr/lib64")


@dataclass(frozen=True)
class FileId:
    """One file as the build hash sees it: real path, then the sha256 of its content (a .pc)
    or its size and mtime (a library or a program). A file that is gone has size -1."""

    path: str
    size: int = 0
    mtime_ns: int = 0
    sha256: str = ""

    def to_json(self) -> dict[str, Any]:
        if self.sha256:
            return {"path": self.path, "sha256": self.sha256}
        return {"path": self.path, "size": self.size, "mtime_ns": self.mtime_ns}


def stat_id(path: str) -> FileId:
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return FileId(real, -1)
    return FileId(real, st.st_size, st.st_mtime_ns)


def content_id(path: str) -> FileId:
    real = os.path.realpath(path)
    try:
        with open(real, "rb") as f:
            return FileId(real, sha256=hashlib.sha256(f.read()).hexdigest())
    except OSError:
        return FileId(real, -1)


def identity_json(version: str | None, files: tuple[FileId, ...]) -> dict[str, Any]:
    """What one system requirement contributes to a build hash, a state record and a lock."""
    return {"version": version, "files": [f.to_json() for f in files]}


# -- which files a pkg-config module links --------------------------------------------------
def parse_libs(text: str) -> tuple[list[str], list[str], list[str]]:
    """(-l names, -L folders, library files) in ``pkg-config --libs`` output (pure)."""
    names: list[str] = []
    dirs: list[str] = []
    files: list[str] = []
    for token in text.split():
        if token.startswith("-l") and len(token) > 2:
            names.append(token[2:])
        elif token.startswith("-L") and len(token) > 2:
            dirs.append(token[2:])
        elif token.startswith("/") and ".so" in token:
            files.append(token)
    return names, dirs, files


def linker_script_names(path: str) -> list[str]:
    """Library names an ld script (libncurses.so: INPUT(libncursesw.so.6 -ltinfo)) points at:
    ``libNAME`` for a -l, the file name for a file; [] for an ELF file or an unreadable one."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return []
    if head.startswith(b"\x7fELF"):
        return []
    out = []
    text = head.decode("utf-8", "replace")
    for group in re.findall(r"(?:INPUT|GROUP|AS_NEEDED)\s*\(([^()]*)", text):
        for token in group.split():
            if token.startswith("-l"):
                out.append(f"lib{token[2:]}")
            elif ".so" in token:
                out.append(os.path.basename(token))
    return out


def link_file(name: str, dirs: list[str], cache: Cache) -> str | None:
    """The ``libNAME.so`` that ``-lNAME`` links: the -L folders, the linker's default folders,
    then the ld.so cache (folders of /etc/ld.so.conf); ``-l:FILE`` names a file."""
    dev = name[1:] if name.startswith(":") else f"lib{name}.so"
    for d in (*dirs, *LINKER_DIRS):
        candidate = os.path.join(d, dev)
        if os.path.exists(candidate):
            return candidate
    return next((p for p in cache().get(dev, ()) if os.path.exists(p)), None)


def library_files(libs: str, cache: Cache) -> list[str]:
    """The files a ``pkg-config --libs`` line links, an ld script followed to the libraries
    it names (their ``libNAME.so.*`` found beside it or in the ld.so cache)."""
    names, dirs, files = parse_libs(libs)
    out: list[str] = []
    for name in names:
        found = link_file(name, dirs, cache)
        if found is None:
            continue
        out.append(found)
        for inner in linker_script_names(os.path.realpath(found)):
            here = os.path.join(os.path.dirname(found), inner)
            if os.path.exists(here):
                out.append(here)
            elif inner.startswith("lib") and ".so" not in inner:
                linked = link_file(inner[3:], dirs, cache)
                if linked:
                    out.append(linked)
            else:
                out.extend(p for p in cache().get(inner, ())[:1] if os.path.exists(p))
    return list(dict.fromkeys(out + files))


# -- what changed ----------------------------------------------------------------------------
def _file_change(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    if b.get("size") == -1:
        return f"{b['path']} is gone"
    if "sha256" in a or "sha256" in b:
        return f"{b['path']} has other content"
    parts = []
    if a.get("size") != b.get("size"):
        parts.append(f"size {a.get('size')} -> {b.get('size')}")
    if a.get("mtime_ns") != b.get("mtime_ns"):
        parts.append("modified")
    return f"{b['path']} changed ({', '.join(parts) or 'its identity'})"


def describe_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """Pure: how one system requirement's identity changed, in words ("version 1.2.13 ->
    1.3", "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13 changed (size 121280 -> 121344)")."""
    if old.get("version") != new.get("version"):
        return f"version {old.get('version') or '(none)'} -> {new.get('version') or '(none)'}"
    before = {f["path"]: f for f in old.get("files", [])}
    after = {f["path"]: f for f in new.get("files", [])}
    changes = [_file_change(before[p], after[p]) for p in after
               if p in before and before[p] != after[p]]
    changes += [f"now {p}" for p in after if p not in before]
    changes += [f"no longer {p}" for p in before if p not in after]
    return "; ".join(changes) or "its files changed"


def system_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Pure: one phrase per system requirement whose identity differs between two records
    ({requirement key: identity_json}): "the system's zlib changed: ..."."""
    out = []
    for key in sorted(old.keys() | new.keys()):
        name = key.split(":", 1)[-1]
        if key not in new:
            out.append(f"the system no longer provides {name}")
        elif key not in old:
            out.append(f"the system now provides {name}")
        elif old[key] != new[key]:
            out.append(f"the system's {name} changed: {describe_change(old[key], new[key])}")
    return out
