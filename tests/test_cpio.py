from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from srcbuild.cpio import S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, read_newc


def test_initramfs_list_round_trip(tmp_path):
    (tmp_path / "init.sh").write_text("#!/bin/sh\necho hi\n")
    (tmp_path / "list").write_text(
        "dir /dev 0755 0 0\nnod /dev/console 0600 0 0 c 5 1\ndir /bin 0755 0 0\n"
        "file /init init.sh 0755 0 0   # the init script\nslink /bin/sh busybox 0777 0 0\n")
    out = tmp_path / "initramfs.cpio.gz"
    env = {"SOURCE_DATE_EPOCH": "1700000000", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-m", "srcbuild.cpio", str(tmp_path / "list"), str(out)],
                   check=True, env=env, cwd=Path(__file__).parent.parent)
    entries = {e.name: e for e in read_newc(gzip.decompress(out.read_bytes()))}
    assert entries["init"].data == b"#!/bin/sh\necho hi\n"
    assert entries["init"].mode == S_IFREG | 0o755
    assert entries["dev"].mode == S_IFDIR | 0o755
    assert entries["dev/console"].mode == S_IFCHR | 0o600 and entries["dev/console"].rdev == (5, 1)
    assert entries["bin/sh"].mode & S_IFLNK == S_IFLNK and entries["bin/sh"].data == b"busybox"
    # reproducible: the same bytes twice
    first = out.read_bytes()
    subprocess.run([sys.executable, "-m", "srcbuild.cpio", str(tmp_path / "list"), str(out)],
                   check=True, env=env, cwd=Path(__file__).parent.parent)
    assert out.read_bytes() == first


@pytest.mark.skipif(shutil.which("cpio") is None, reason="no cpio here to cross-check with")
def test_system_cpio_reads_it(tmp_path):
    (tmp_path / "a.txt").write_text("payload\n")
    (tmp_path / "list").write_text("dir /etc 0755 0 0\nfile /etc/a.txt a.txt 0644 0 0\n")
    out = tmp_path / "x.cpio.gz"
    subprocess.run([sys.executable, "-m", "srcbuild.cpio", str(tmp_path / "list"), str(out)],
                   check=True, cwd=Path(__file__).parent.parent)
    listing = subprocess.run(["cpio", "-it"], check=False, input=gzip.decompress(out.read_bytes()),
                             capture_output=True).stdout.decode()
    assert listing.split() == ["etc", "etc/a.txt"]
