"""A ``newc`` cpio archive (what the kernel unpacks as an initramfs), written without root
and without the system's cpio, from a gen_init_cpio-style list:

    dir   /dev 0755 0 0
    nod   /dev/console 0600 0 0 c 5 1
    file  /init /path/on/host/init.sh 0755 0 0
    slink /bin/sh busybox 0777 0 0

``python3 -m srcbuild.cpio LIST OUT.cpio.gz`` writes it gzip-compressed, with mtimes from
SOURCE_DATE_EPOCH so that two runs give the same bytes.
"""

from __future__ import annotations

import gzip
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from srcbuild.errors import SrcbuildError, UsageError

MAGIC = b"070701"
S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR, S_IFBLK = 0o040000, 0o100000, 0o120000, 0o020000, 0o060000


@dataclass(frozen=True)
class Entry:
    name: str  # without the leading /
    mode: int  # type and permission bits
    data: bytes = b""
    uid: int = 0
    gid: int = 0
    rdev: tuple[int, int] = (0, 0)


def parse_list(text: str, base: Path) -> list[Entry]:
    """Entries from a gen_init_cpio-style list; host paths are relative to ``base``."""
    out = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        f = line.split()
        kind, name = f[0], f[1].lstrip("/")
        try:
            if kind == "dir":
                out.append(Entry(name, S_IFDIR | int(f[2], 8), b"", int(f[3]), int(f[4])))
            elif kind == "file":
                data = (base / f[2]).read_bytes()
                out.append(Entry(name, S_IFREG | int(f[3], 8), data, int(f[4]), int(f[5])))
            elif kind == "slink":
                out.append(Entry(name, S_IFLNK | int(f[3], 8), f[2].encode(), int(f[4]),
                                 int(f[5])))
            elif kind == "nod":
                kind_bits = S_IFCHR if f[5] == "c" else S_IFBLK
                out.append(Entry(name, kind_bits | int(f[2], 8), b"", int(f[3]), int(f[4]),
                                 (int(f[6]), int(f[7]))))
            else:
                raise ValueError(f"unknown entry type {kind!r}")
        except (IndexError, ValueError, OSError) as e:
            raise UsageError(f"initramfs list line {number} ({raw.strip()!r}): {e}",
                             "Each line is `dir|file|slink|nod NAME ...` as "
                             "gen_init_cpio reads it.") from None
    return out


def _pad(n: int) -> bytes:
    return b"\0" * ((4 - n % 4) % 4)


def write_newc(entries: list[Entry], mtime: int = 0) -> bytes:
    out = bytearray()
    for ino, e in enumerate(entries + [Entry("TRAILER!!!", 0)], 1):
        name = e.name.encode() + b"\0"
        header = MAGIC + b"".join(f"{v:08X}".encode() for v in (
            ino if e.name != "TRAILER!!!" else 0, e.mode, e.uid, e.gid,
            2 if e.mode & S_IFDIR == S_IFDIR else 1, mtime if e.name != "TRAILER!!!" else 0,
            len(e.data), 0, 0, e.rdev[0], e.rdev[1], len(name), 0))
        out += header + name
        out += _pad(len(header) + len(name))
        out += e.data + _pad(len(e.data))
    return bytes(out)


def read_newc(blob: bytes) -> list[Entry]:
    """The entries of a newc archive (for tests and for `srcbuild` checks)."""
    entries: list[Entry] = []
    pos = 0
    while True:
        if blob[pos:pos + 6] != MAGIC:
            raise ValueError(f"bad cpio magic at offset {pos}")
        fields = [int(blob[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        mode, uid, gid, size, rmaj, rmin, namesize = (fields[1], fields[2], fields[3],
                                                      fields[6], fields[9], fields[10],
                                                      fields[11])
        pos += 110
        name = blob[pos:pos + namesize - 1].decode()
        pos += namesize + len(_pad(110 + namesize))
        data = blob[pos:pos + size]
        pos += size + len(_pad(size))
        if name == "TRAILER!!!":
            return entries
        entries.append(Entry(name, mode, data, uid, gid, (rmaj, rmin)))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python3 -m srcbuild.cpio LIST OUT.cpio.gz\n")
        return 2
    listing = Path(argv[0])
    try:
        entries = parse_list(listing.read_text(), listing.parent)
    except (SrcbuildError, OSError) as e:
        sys.stderr.write(f"srcbuild.cpio: error: {e}\n")
        return e.exit_code if isinstance(e, SrcbuildError) else 1
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    data = gzip.compress(write_newc(entries, mtime), mtime=mtime)
    Path(argv[1]).write_bytes(data)
    print(f"{argv[1]}: {len(entries)} entries, {len(data)} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
