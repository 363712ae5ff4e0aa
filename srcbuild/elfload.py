"""What the dynamic loader sees and does: ELF files read with pyelftools, this machine's ld.so
search rules, and where a needed library resolves (the stage, the prefix or the system).

Resolution follows glibc's ld.so: DT_RPATH (only when there is no DT_RUNPATH), then DT_RUNPATH,
then the ld.so cache, then the loader's default folders, with $ORIGIN, $LIB and $PLATFORM
expanded. LD_LIBRARY_PATH is never considered (a program must start without it), nor the RPATH
a loading program passes down to its libraries, nor glibc-hwcaps subfolders. A folder under the
prefix is looked up in the stage first (what the merge will put there), then in the prefix.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from srcbuild.probes import parse_ldconfig, run_quiet

ET_EXEC, ET_DYN = 2, 3
Abi = tuple[int, bool, int]  # ELF class (32/64), little-endian, e_machine
Found = Literal["stage", "prefix", "system", "missing"]


# -- reading ELF files ------------------------------------------------------------------------
def elf_header(path: str | Path) -> tuple[Abi, int] | None:
    """(ABI, e_type) from the first 20 bytes, or None for a file that is not ELF."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[:4] != b"\x7fELF" or head[4] not in (1, 2) or head[5] not in (1, 2):
        return None
    little = head[5] == 1
    e_type, e_machine = struct.unpack("<HH" if little else ">HH", head[16:20])
    return (32 if head[4] == 1 else 64, little, e_machine), e_type


@dataclass(frozen=True)
class Elf:
    """What the dynamic loader reads from one ELF file."""

    abi: Abi
    e_type: int
    needed: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    interp: str | None = None
    soname: str | None = None
    nodeflib: bool = False  # DF_1_NODEFLIB: no ld.so cache, no default folders

    @property
    def dynamic(self) -> bool:
        return bool(self.needed or self.interp)


def read_elf(path: str | Path) -> Elf | None:
    """The dynamic section and interpreter of an executable or shared object; None for
    anything else (not ELF, a relocatable object or kernel module, an unreadable file)."""
    # pyelftools is imported here, the first time an ELF file is read: the commands that
    # read none (a plan, a no-op rerun) do not pay its 40 ms import
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSegment
    from elftools.elf.elffile import ELFFile

    header = elf_header(path)
    if header is None or header[1] not in (ET_EXEC, ET_DYN):
        return None
    abi, e_type = header
    needed: list[str] = []
    rpath: list[str] = []
    runpath: list[str] = []
    interp = soname = None
    flags_1 = 0
    # pyelftools sets a tag's value (needed, rpath, ...) as an attribute named after the tag
    # at run time; its type hints (0.32+) do not declare them, hence the ignores below.
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            for seg in elf.iter_segments():
                if seg["p_type"] == "PT_INTERP":
                    interp = seg.get_interp_name()  # type: ignore[attr-defined, unused-ignore]
                elif isinstance(seg, DynamicSegment):
                    for tag in seg.iter_tags():
                        d_tag = tag.entry.d_tag
                        if d_tag == "DT_NEEDED":
                            needed.append(tag.needed)  # type: ignore[attr-defined, unused-ignore]
                        elif d_tag == "DT_RPATH":
                            rpath.extend(tag.rpath.split(":"))  # type: ignore[attr-defined, unused-ignore]
                        elif d_tag == "DT_RUNPATH":
                            runpath.extend(tag.runpath.split(":"))  # type: ignore[attr-defined, unused-ignore]
                        elif d_tag == "DT_SONAME":
                            soname = tag.soname  # type: ignore[attr-defined, unused-ignore]
                        elif d_tag == "DT_FLAGS_1":
                            flags_1 = tag.entry.d_val
    except (ELFError, OSError, ValueError, struct.error):
        return None
    return Elf(abi, e_type, tuple(needed), tuple(rpath), tuple(runpath), interp, soname,
               bool(flags_1 & 0x800))


def file_abi(path: str | Path) -> Abi | None:
    header = elf_header(path)
    return header[0] if header else None


def soname_of(path: str | Path) -> str | None:
    elf = read_elf(path)
    return elf.soname if elf else None


# -- the loader of this machine -----------------------------------------------------------------
@dataclass(frozen=True)
class Loader:
    """What ld.so searches on this machine: its cache, its default folders, $LIB, $PLATFORM."""

    abi: Abi
    cache: Mapping[str, tuple[str, ...]]
    default_dirs: tuple[str, ...]
    lib: str  # what $LIB expands to, e.g. lib/x86_64-linux-gnu (Debian) or lib64 (Fedora)
    platform: str  # what $PLATFORM expands to (AT_PLATFORM)


def parse_ld_so_help(text: str) -> tuple[list[str], str | None]:
    """(system search path, AT_PLATFORM) from ``ld.so --help`` (glibc >= 2.33) (pure)."""
    dirs = [m[1] for m in re.finditer(r"^\s+(/\S*) \(system search path\)", text, re.MULTILINE)]
    m = re.search(r"^\s+(\S+) \(AT_PLATFORM", text, re.MULTILINE)
    return dirs, m[1] if m else None


def host_loader() -> Loader:
    """The loader of the Python that runs srcbuild: its ABI is the host's."""
    exe = os.path.realpath(sys.executable)
    header = elf_header(exe)
    me = read_elf(exe)
    abi: Abi = header[0] if header else (64, sys.byteorder == "little", 62)
    dirs: list[str] = []
    plat = None
    if me is not None and me.interp:
        dirs, plat = parse_ld_so_help(run_quiet([me.interp, "--help"]) or "")
    if not dirs:  # glibc < 2.33 or another libc: glibc's built-in defaults
        dirs = ["/lib64", "/usr/lib64"] if abi[0] == 64 else ["/lib", "/usr/lib"]
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    cache = parse_ldconfig(run_quiet([ldconfig, "-p"]) or "") if os.path.exists(ldconfig) else {}
    # $LIB is the basename glibc was configured with for its own folder: the first default
    # folder without /usr (Debian /lib/x86_64-linux-gnu, Fedora /lib64, Arch /usr/lib)
    lib = re.sub(r"^/(usr/)?", "", dirs[0])
    return Loader(abi, {k: tuple(v) for k, v in cache.items()}, tuple(dirs), lib,
                  plat or os.uname().machine)


# -- where a file will be, once merged ---------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """The prefix, the stage that will be merged into it (None for an installed prefix), and
    the prefix files the merge removes (the previous install of the same package)."""

    prefix: Path
    destdir: Path | None = None
    gone: frozenset[str] = frozenset()

    @property
    def stage(self) -> Path | None:
        return Path(str(self.destdir) + str(self.prefix)) if self.destdir else None

    def relative(self, path: str) -> str | None:
        """``path`` relative to the prefix, or None when it is outside."""
        p = str(self.prefix)
        if path.startswith(p + "/"):
            return path[len(p) + 1:]
        return None

    def locate(self, path: str) -> tuple[Found, str] | None:
        """Where the file a runtime path names will be: (stage|prefix|system, local path)."""
        rel = self.relative(path)
        if rel is not None and self.destdir is not None:
            local = self._in_stage(str(self.destdir) + path)
            if local is not None:
                return "stage", local
        if rel is not None and rel in self.gone:
            return None
        if os.path.exists(path):
            return ("prefix" if rel is not None else "system"), path
        return None

    def _in_stage(self, path: str) -> str | None:
        """Follow symlinks in the stage; an absolute target under the prefix stays staged."""
        assert self.destdir is not None
        for _ in range(40):
            if not os.path.islink(path):
                return path if os.path.exists(path) else None
            target = os.readlink(path)
            if os.path.isabs(target):
                if self.relative(target) is None:
                    return target if os.path.exists(target) else None
                path = str(self.destdir) + target
            else:
                path = os.path.normpath(os.path.join(os.path.dirname(path), target))
        return None


# -- resolving one needed library ------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    """One DT_NEEDED entry and where the loader finds it (a runtime path: staged files are
    named by where they will be in the prefix)."""

    needed: str
    path: str | None
    found: Found
    via: str  # RPATH | RUNPATH | ld.so cache | default folders | path | ""
    local: str | None = None  # the file read now (in the stage for a staged library)


def expand(entry: str, origin: str, loader: Loader) -> str:
    """$ORIGIN, $LIB and $PLATFORM (and their ${...} forms) in an RPATH/RUNPATH entry."""
    for token, value in (("ORIGIN", origin), ("LIB", loader.lib), ("PLATFORM", loader.platform)):
        entry = entry.replace("${" + token + "}", value)
        entry = re.sub(r"\$" + token + r"(?![A-Za-z0-9_])", value.replace("\\", "\\\\"), entry)
    return entry


def search_path(elf: Elf, origin: str, loader: Loader) -> list[tuple[str, str]]:
    """The folders ld.so tries for this object's own DT_NEEDED, in order, with their source."""
    dirs = [] if elf.runpath else [(d, "RPATH") for d in elf.rpath]
    dirs += [(d, "RUNPATH") for d in elf.runpath]
    return [(os.path.normpath(expand(d, origin, loader)), via) for d, via in dirs if d]


def resolve(needed: str, elf: Elf, runtime_file: str, layout: Layout, loader: Loader,
            abi_of: Callable[[str], Abi | None]) -> Link:
    """Find ``needed`` for ``elf`` (which will live at ``runtime_file``) as ld.so will."""
    def try_path(path: str, via: str) -> Link | None:
        where = layout.locate(path)
        if where is not None and abi_of(where[1]) == elf.abi:
            return Link(needed, path, where[0], via, where[1])
        return None

    if "/" in needed:
        path = needed if os.path.isabs(needed) else os.path.join(os.getcwd(), needed)
        return try_path(path, "path") or Link(needed, None, "missing", "")
    origin = os.path.dirname(runtime_file)
    for d, via in search_path(elf, origin, loader):
        link = try_path(os.path.join(d, needed), via)
        if link:
            return link
    if not elf.nodeflib:
        for path in loader.cache.get(needed, ()):
            link = try_path(path, "ld.so cache")
            if link:
                return link
        for d in loader.default_dirs:
            link = try_path(os.path.join(d, needed), "default folders")
            if link:
                return link
    return Link(needed, None, "missing", "")


# -- walking a tree ----------------------------------------------------------------------------
def elf_files(root: Path) -> Iterator[tuple[Path, Elf]]:
    """Every dynamically linked ELF program, library or plugin under ``root`` (no symlinks)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if path.is_symlink() or not path.is_file():
                continue
            elf = read_elf(path)
            if elf is not None:
                yield path, elf
