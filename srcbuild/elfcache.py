"""What ``doctor`` read from a prefix's ELF files last time, so that it stays instant.

``doctor`` resolves every DT_NEEDED entry of every program and library of the prefix. Parsing
an ELF file with pyelftools costs about 5 ms; a lab prefix has dozens of them, and they change
only when a package is installed. So each file's loader facts (elfload.Elf) are kept in one
JSON file in srcbuild's cache folder, keyed by the file's real path and its identity (device,
inode, size, mtime in ns): a file that was replaced or rewritten in place is read again. The
cache holds facts, never verdicts: the resolution itself (ld.so cache, other files) runs each
time. A cache that cannot be read or written is simply not used.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from srcbuild.elfload import Elf, read_elf

CACHE_NAME = "elf-facts.json"
FORMAT = 1


def _identity(path: Path) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]


def _to_json(elf: Elf | None) -> dict[str, Any] | None:
    if elf is None:
        return None
    return {"abi": list(elf.abi), "e_type": elf.e_type, "needed": list(elf.needed),
            "rpath": list(elf.rpath), "runpath": list(elf.runpath), "interp": elf.interp,
            "soname": elf.soname, "nodeflib": elf.nodeflib}


def _from_json(data: dict[str, Any] | None) -> Elf | None:
    if data is None:
        return None
    bits, little, machine = data["abi"]
    return Elf((int(bits), bool(little), int(machine)), int(data["e_type"]),
               tuple(data["needed"]), tuple(data["rpath"]), tuple(data["runpath"]),
               data["interp"], data["soname"], bool(data["nodeflib"]))


class ElfFacts:
    """read_elf with a memory of earlier runs; ``save`` writes it back when it changed."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.file = cache_dir / CACHE_NAME if cache_dir is not None else None
        self.entries: dict[str, list[Any]] = {}
        self.changed = False
        self.seen: set[str] = set()
        if self.file is not None:
            try:
                data = json.loads(self.file.read_text(encoding="utf-8"))
                if data.get("format") == FORMAT and isinstance(data.get("files"), dict):
                    self.entries = data["files"]
            except (OSError, ValueError, AttributeError):
                pass

    def read(self, path: Path) -> Elf | None:
        ident = _identity(path)
        key = os.path.realpath(path)
        self.seen.add(key)
        old = self.entries.get(key)
        if ident is not None and isinstance(old, list) and len(old) == 2 and old[0] == ident:
            try:
                return _from_json(old[1])
            except (KeyError, TypeError, ValueError):
                pass  # a damaged entry: read the file again
        elf = read_elf(path)
        if ident is not None:
            self.entries[key] = [ident, _to_json(elf)]
            self.changed = True
        return elf

    def save(self, scope: Path | None = None) -> None:
        """Write the facts back, when something was read anew or dropped; entries under ``scope`` (the
        prefix just looked at) that were not asked for this time are dropped, so that the
        files of uninstalled packages do not pile up. Errors are ignored: the cache is only
        an optimisation."""
        if self.file is None:
            return
        under = os.path.join(os.path.realpath(scope), "") if scope is not None else None
        entries = {k: v for k, v in self.entries.items()
                   if k in self.seen or under is None or not k.startswith(under)}
        if not self.changed and len(entries) == len(self.entries):
            return
        from srcbuild.durable import atomic_write

        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.file, json.dumps({"format": FORMAT, "files": entries}),
                         durable=False)
        except OSError:
            pass
