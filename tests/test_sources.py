"""Sources as an attacker or a clumsy operator leaves them (issue 12, cases 5 and 12).

A cached archive whose bytes changed after a good fetch is never built: it is hashed again
before extraction (and by ``srcbuild fetch``), deleted and fetched again, or refused
offline with both hashes named. A path source holding a FIFO, a socket or a device, or a
source path with a NUL byte, is a recipe error, not a hang or a traceback.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import ROOT
from pkgfactory import recipe

MAKEFILE = """\
all:
install:
\tmkdir -p $(DESTDIR)$(PREFIX)/share
\techo {payload} > $(DESTDIR)$(PREFIX)/share/payload
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pkg_tarball(path: Path, payload: str) -> str:
    """pkg-1/Makefile that installs share/payload containing ``payload``; its sha256."""
    data = MAKEFILE.format(payload=payload).encode()
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("pkg-1/Makefile")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return sha256(path)


@pytest.fixture
def fetched(sb, tmp_path: Path) -> tuple[Path, Path, str]:
    """A url source fetched once into the cache: (recipes, cached archive, its sha256)."""
    upstream = tmp_path / "upstream" / "pkg-1.tar.gz"
    upstream.parent.mkdir()
    sha = pkg_tarball(upstream, "good")
    recipes = tmp_path / "r"
    recipe(recipes, "pkg", f'version = "1"\n[[source]]\nurl = "{upstream.as_uri()}"\n'
                           f'sha256 = "{sha}"\n[build]\nsystem = "make"\n')
    sb("fetch", "pkg", "--recipes", str(recipes))
    cached = sb.cache / "sources" / sha / "pkg-1.tar.gz"
    assert sha256(cached) == sha
    return recipes, cached, sha


def test_a_cached_archive_changed_after_the_fetch_is_fetched_again(sb, fetched):
    recipes, cached, sha = fetched
    bad = pkg_tarball(cached, "tampered")  # bytes changed in the cache after a good fetch
    cp = sb("pkg", "--recipes", str(recipes))
    assert (sb.prefix / "share" / "payload").read_text() == "good\n"
    assert sha256(cached) == sha
    assert f"{cached} has sha256 {bad}, the recipe expects {sha}" in cp.stderr, cp.stderr
    assert "deleted it and fetching it again" in cp.stderr


def test_fetch_verifies_what_is_already_cached(sb, fetched):
    recipes, cached, sha = fetched
    bad = pkg_tarball(cached, "tampered")
    cp = sb("fetch", "pkg", "--recipes", str(recipes))
    assert f"{cached} has sha256 {bad}, the recipe expects {sha}" in cp.stderr, cp.stderr
    assert sha256(cached) == sha


def test_offline_a_changed_archive_is_refused_naming_both_hashes(sb, fetched):
    recipes, cached, sha = fetched
    bad = pkg_tarball(cached, "tampered")
    cp = sb("pkg", "--recipes", str(recipes), "--offline", check=1)
    assert f"has sha256 {bad}, the recipe expects {sha}" in cp.stderr, cp.stderr
    assert "--offline forbids fetching it again" in cp.stderr
    assert "Traceback" not in cp.stderr
    assert not cached.exists()
    assert not (sb.prefix / "share" / "payload").exists()


# -- path sources -------------------------------------------------------------------------
def plan(recipes: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    """``srcbuild plan pkg``, with a short timeout: a FIFO used to hang it for good."""
    return subprocess.run([sys.executable, "-m", "srcbuild", "plan", "pkg", "--recipes",
                           str(recipes), "--prefix", str(prefix)], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, check=False)


def _special(path: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()  # the file stays
    else:
        try:
            os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # like /dev/zero
        except PermissionError:
            pytest.skip("SKIP: creating a device file needs root")


@pytest.mark.parametrize("kind,what", [("fifo", "a FIFO (named pipe)"), ("socket", "a socket"),
                                       ("device", "a character device")])
@pytest.mark.parametrize("where", ["inside", "itself"])
def test_a_path_source_with_a_special_file_is_a_recipe_error(tmp_path, kind, what, where):
    src = tmp_path / "src"
    src.mkdir()
    (src / "Makefile").write_text("all:\ninstall:\n")
    special = src / "sub" / "odd" if where == "inside" else tmp_path / "odd"
    special.parent.mkdir(exist_ok=True)
    _special(special, kind)
    root = src if where == "inside" else special
    recipe(tmp_path / "r", "pkg", f'version = "1"\n[[source]]\npath = "{root}"\n'
                                  '[build]\nsystem = "make"\n')
    cp = plan(tmp_path / "r", tmp_path / "prefix")
    assert cp.returncode == 2, cp.stderr
    holds = " holds 'sub/odd', which" if where == "inside" else ""
    assert (f"Recipe {tmp_path / 'r' / 'pkg.toml'}: the path source {root}{holds} is {what}; "
            "a path source may contain only regular files, folders and symbolic links."
            ) in cp.stderr, cp.stderr
    assert "Traceback" not in cp.stderr


def test_a_nul_byte_in_a_source_path_is_a_recipe_error(tmp_path):
    recipe(tmp_path / "r", "pkg", 'version = "1"\n[[source]]\npath = "src\\u0000x"\n'
                                  '[build]\nsystem = "make"\n')
    cp = plan(tmp_path / "r", tmp_path / "prefix")
    assert cp.returncode == 2, cp.stderr
    assert "[[source]] number 1: path contains a NUL byte." in cp.stderr
    assert "Traceback" not in cp.stderr
