"""Archive extraction that cannot write outside its folder (issue 12, case 1).

Every archive here is built by the test. The attacks go through srcbuild's real paths (the
command line, as a source and as a binary-cache restore) and through ``extract`` directly;
a hypothesis test feeds random archives whose only allowed outcomes are a tree that stays
inside or srcbuild's own error, with a folder outside the tree unchanged.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pkgfactory import recipe

from srcbuild.errors import FetchError
from srcbuild.extract import UnsafeArchive, extract, extract_to

MTIME = 1_600_000_000
# (name, kind, payload): kind is file | dir | sym | hard | fifo | chr | blk; payload is the
# file's bytes or the link's target
Member = tuple[str, str, bytes | str]


def tarball(path: Path, members: list[Member], mode: str = "w:gz", perm: int = 0o644) -> str:
    """Write ``members`` in order (PAX, so long names work); return the file's sha256."""
    types = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE,
             "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE}
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as tf:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.mtime = MTIME
            info.mode = 0o755 if kind == "dir" else perm
            if kind == "file":
                data = payload if isinstance(payload, bytes) else payload.encode()
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
                continue
            info.type = types[kind]
            if kind in ("sym", "hard"):
                info.linkname = str(payload)
            if kind in ("chr", "blk"):
                info.devmajor, info.devminor = 1, 3
            tf.addfile(info)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cve_2025_4517(outside: Path, dest: Path) -> list[Member]:
    """The PATH_MAX symlink chain of CVE-2025-4517, aimed at ``outside/victim``.

    ``dest`` is where it will be extracted (only its length matters): the names are sized
    so that the nested folders fit in PATH_MAX and the link below them does not.
    Sixteen nested folders with ~240-character names, each reached through a one-letter
    link; a 254-character link 16 levels deep pointing 16 levels up; ``escape`` through it
    17 levels above the extraction folder (the root of the filesystem from any folder fewer
    than 18 levels deep), then down to ``outside``. Lexically every member is inside, and
    ``os.path.realpath`` gives up past PATH_MAX, so a realpath check sees nothing.
    Then a hard link to the victim, a file written through it, and a file created there.
    """
    steps = "abcdefghijklmnop"
    # the escape climbs 17 levels: from a deeper folder it would not reach / (and the
    # attack would fail on its own, proving nothing)
    assert len(dest.parts) - 1 <= len(steps) + 1, f"{dest} is too deep for this test"
    comp = "d" * ((4096 - len(str(dest)) - 127) // len(steps) - 1)
    members: list[Member] = []
    path = ""
    for step in steps:
        members.append((f"{path}{comp}", "dir", b""))
        members.append((f"{path}{step}", "sym", comp))
        path = f"{path}{comp}/"
    linkpath = "/".join(steps) + "/" + "l" * 254
    members.append((linkpath, "sym", "../" * len(steps)))
    down = outside.resolve().relative_to("/").as_posix()
    members.append(("escape", "sym", linkpath + "/.." * (len(steps) + 1) + "/" + down))
    members.append(("boom", "hard", "escape/victim"))
    members.append(("boom", "file", b"overwritten through a hard link\n"))
    members.append(("escape/created", "file", b"created outside\n"))
    return members


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every entry under ``folder``: its mode and content (a link's target), not following."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st_ = p.lstat()
        data = (os.readlink(p).encode() if p.is_symlink()
                else p.read_bytes() if stat.S_ISREG(st_.st_mode) else b"")
        out[p.relative_to(folder).as_posix()] = (st_.st_mode, data)
    return out


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside every extraction folder, with a file worth overwriting."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "victim").write_text("original\n")
    return d


def no_traceback(text: str) -> None:
    """srcbuild's own error at the end (the message, then its hint on a line of its own), no
    traceback."""
    assert "Traceback" not in text, text
    last = text.rstrip("\n").split("\n")[-2:]
    assert last[0].startswith("srcbuild: error: Refusing") and last[1].startswith(
        "The archive is damaged or malicious"), text


# -- the CVE-2025-4517 chain through srcbuild's real paths ---------------------------------
@pytest.mark.parametrize("as_path", [False, True], ids=["url-with-sha256", "path-source"])
def test_cve_2025_4517_as_a_source_is_refused(sb, tmp_path, outside, as_path):
    archive = tmp_path / "evil-1.tar.gz"
    key = "0" * 20 + "-12345678"  # the temporary folder it is extracted into: .KEY-XXXXXXXX
    sha = tarball(archive, cve_2025_4517(outside, sb.cache / "src" / f".{key}"))
    before = snapshot(outside)
    source = (f'path = "{archive}"' if as_path else
              f'url = "{archive.as_uri()}"\nsha256 = "{sha}"')
    recipe(tmp_path / "r", "evil", f'version = "1"\n[[source]]\n{source}\n'
                                   '[build]\nsystem = "make"\n')
    cp = sb("evil", "--recipes", str(tmp_path / "r"), check=1)
    assert snapshot(outside) == before
    extracted = archive if as_path else sb.cache / "sources" / sha / archive.name
    assert f"Refusing to extract {extracted}: member " in cp.stderr
    assert "is a symbolic link in this archive" in cp.stderr, cp.stderr
    no_traceback(cp.stderr)
    # nothing half-extracted: no tree and no temporary folder in the cache
    assert not list((sb.cache / "src").iterdir())


def test_cve_2025_4517_as_a_binary_cache_entry_is_refused_and_rebuilt(sb, tmp_path, outside):
    src = tmp_path / "hello-1"
    src.mkdir()
    (src / "Makefile").write_text(textwrap.dedent("""\
        all:
        install:
        \tmkdir -p $(DESTDIR)$(PREFIX)/share
        \techo hello > $(DESTDIR)$(PREFIX)/share/hello
        """))
    recipe(tmp_path / "r", "hello", f'version = "1"\n[[source]]\npath = "{src}"\n'
                                    '[build]\nsystem = "make"\n')
    bincache = tmp_path / "bincache"
    env = {"SRCBUILD_BINARY_CACHE": str(bincache)}
    sb("hello", "--recipes", str(tmp_path / "r"), env=env)
    [entry] = bincache.glob("*.tar.gz")
    # a tampered entry whose manifest was edited to match: it passes the sha256 check
    stage = Path(f"{sb.cache}/work/hello-{entry.name[:12]}/stage{sb.prefix}")
    sha = tarball(entry, cve_2025_4517(outside, stage))
    meta = bincache / entry.name.replace(".tar.gz", ".json")
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "sha256": sha}))
    shutil.rmtree(sb.prefix)
    before = snapshot(outside)

    cp = sb("hello", "--recipes", str(tmp_path / "r"), env=env, check=None)
    assert snapshot(outside) == before
    assert cp.returncode == 0, cp.stderr
    assert f"Refusing to extract {entry}: member " in cp.stderr
    assert "hello is built from source." in cp.stderr and "Traceback" not in cp.stderr
    assert f"moved to {bincache / 'quarantine'}" in cp.stderr  # no run tries it again
    assert [p.name for p in (bincache / "quarantine").glob("*/*.tar.gz")] == [entry.name]
    assert (sb.prefix / "share" / "hello").read_text() == "hello\n"
    assert not (sb.prefix / "boom").exists() and not (sb.prefix / "escape").exists()


def test_cve_2025_4517_in_process(tmp_path, outside):
    archive = tmp_path / "evil.tar"
    tarball(archive, cve_2025_4517(outside, tmp_path / "tree"), mode="w")
    before = snapshot(outside)
    with pytest.raises(UnsafeArchive) as e:
        extract_to(archive, tmp_path / "tree")
    assert snapshot(outside) == before
    assert "member 'a/" in e.value.message and "its folder 'a' is a symbolic link" in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.tar", "outside"]


def test_the_same_chain_through_real_folders_is_refused(tmp_path, outside):
    """Without the one-letter links the chain is written, and its link is judged instead."""
    deep = "/".join(["d" * 240] * 16)
    archive = tmp_path / "evil.tar"
    tarball(archive, [(f"{deep}/", "dir", b""), (f"{deep}/{'l' * 254}", "sym", "../" * 16),
                      ("escape", "sym", f"{deep}/{'l' * 254}" + "/.." * 17 + "/outside"),
                      ("escape/created", "file", b"x")], mode="w")
    before = snapshot(outside)
    with pytest.raises(UnsafeArchive, match="member 'escape' is unsafe: it is a symbolic link "
                                            "to 'd+/.*', and the target climbs above"):
        extract_to(archive, tmp_path / "tree")
    assert snapshot(outside) == before


# -- one attack at a time -------------------------------------------------------------------
@pytest.mark.parametrize("members,why", [
    ([("a", "sym", "/tmp/x"), ("a/file", "file", b"x")],
     "member 'a' is unsafe: it is a symbolic link to the absolute path '/tmp/x'"),
    ([("a", "sym", "../../outside"), ("a/victim", "file", b"x")],
     ("member 'a' is unsafe: it is a symbolic link to '../../outside', and the target climbs "
     "above the extraction folder")),
    ([("d/", "dir", b""), ("s", "sym", "d"), ("s/file", "file", b"x")],
     "member 's/file' is unsafe: its folder 's' is a symbolic link in this archive"),
    ([("d/up", "sym", ".."), ("esc", "sym", "d/up/../outside")],
     ("member 'esc' is unsafe: it is a symbolic link to 'd/up/../outside', and the target "
     "climbs above")),
    ([("esc", "sym", "d/up/../outside"), ("d/up", "sym", "..")],
     ("member 'esc' is unsafe: it is a symbolic link to 'd/up/../outside', and the target "
     "climbs above")),
    ([("l", "hard", "../../outside/victim"), ("l", "file", b"x")],
     ("member 'l' is unsafe: it is a hard link to '../../outside/victim': its path contains "
     "'..'")),
    ([("l", "hard", "OUTSIDE/victim")],
     "it is a hard link to 'OUTSIDE/victim': its path is absolute"),
    ([("f", "file", b"x"), ("s", "sym", "f"), ("l", "hard", "s")],
     "member 'l' is unsafe: it is a hard link to 's', and 's' is a symbolic link"),
    ([("l", "hard", "later"), ("later", "file", b"x")],
     "'later' is not a file extracted before it"),
    ([("null", "chr", b"")], "member 'null' is unsafe: it is a device file"),
    ([("disk", "blk", b"")], "member 'disk' is unsafe: it is a device file"),
    ([("pipe", "fifo", b"")], "member 'pipe' is unsafe: it is a FIFO (named pipe)"),
    ([("/etc/evil", "file", b"x")], "member '/etc/evil' is unsafe: its path is absolute"),
    ([("../evil", "file", b"x")], "member '../evil' is unsafe: its path contains '..'"),
    ([("a/../../evil", "file", b"x")], "its path contains '..'"),
    ([("d/", "dir", b""), ("d/f", "file", b"x"), ("d", "file", b"x")],
     "member 'd' is unsafe: it would replace the folder 'd' with a file"),
    ([("f", "file", b"x"), ("f/", "dir", b"")],
     "member 'f' is unsafe: it would replace the file 'f' with a folder"),
    ([("f", "file", b"x"), ("f/g", "file", b"x")],
     "member 'f/g' is unsafe: its folder 'f' is a regular file in this archive"),
])
def test_attack_is_refused(tmp_path, outside, members, why):
    archive = tmp_path / "bad.tar.gz"
    members = [(n.replace("OUTSIDE", str(outside)), k,
                p.replace("OUTSIDE", str(outside)) if isinstance(p, str) else p)
               for n, k, p in members]
    tarball(archive, members)
    tree = tmp_path / "x" / "tree"  # two levels down: '../outside' from it is outside
    before = snapshot(outside)
    with pytest.raises(UnsafeArchive) as e:
        extract_to(archive, tree)
    assert why.replace("OUTSIDE", str(outside)) in str(e.value)
    assert str(e.value).startswith(f"Refusing to extract {archive}: member ")
    assert "Nothing was extracted." in str(e.value)
    assert snapshot(outside) == before
    assert not tree.exists() and not list(tree.parent.iterdir())


def test_modes_times_links_and_long_names(tmp_path):
    long_dir = "/".join(["x" * 200] * 25)  # 5000 characters: past PATH_MAX, fine by descriptor
    archive = tmp_path / "ok.tar.xz"
    tarball(archive, [
        ("pkg/", "dir", b""),
        ("pkg/setuid", "file", b"#!/bin/sh\n"),
        ("pkg/bin/", "dir", b""),
        ("pkg/bin/tool", "sym", "../setuid"),
        ("pkg/same", "hard", "pkg/setuid"),
        ("pkg/dup", "file", b"first"),
        ("pkg/dup", "file", b"second"),
        (f"pkg/{long_dir}/deep", "file", b"deep"),
        ("pkg/deeplink", "sym", "/".join(long_dir.split("/")[:10])),
    ], mode="w:xz", perm=0o7777)
    tree = tmp_path / "tree"
    tree.mkdir()
    assert extract(archive, tree) == MTIME
    pkg = tree / "pkg"
    st_ = (pkg / "setuid").stat()
    assert stat.S_IMODE(st_.st_mode) == 0o775  # no setuid, setgid, sticky or world-write
    assert st_.st_mtime == MTIME and (pkg / "bin").stat().st_mtime == MTIME
    assert os.readlink(pkg / "bin" / "tool") == "../setuid"
    assert (pkg / "same").stat().st_ino == st_.st_ino
    assert (pkg / "dup").read_bytes() == b"second"
    fd = os.open(pkg, os.O_RDONLY)
    try:
        for part in long_dir.split("/"):
            nfd = os.open(part, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        deep = os.open("deep", os.O_RDONLY, dir_fd=fd)
        assert os.read(deep, 10) == b"deep"
        os.close(deep)
    finally:
        os.close(fd)
    assert os.readlink(pkg / "deeplink") == "/".join(long_dir.split("/")[:10])


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz", "lzma"])
def test_every_compression(tmp_path, mode):
    archive = tmp_path / "a.tar"
    tarball(archive, [("p/f", "file", b"data")], mode="w" if mode == "lzma" else mode)
    if mode == "lzma":  # the legacy format, with a dictionary size tarfile's sniffing misses
        archive.write_bytes(lzma.compress(archive.read_bytes(), lzma.FORMAT_ALONE, preset=9))
    assert extract_to(archive, tmp_path / "t") == MTIME
    assert (tmp_path / "t" / "p" / "f").read_bytes() == b"data"


def test_zstd_says_why(tmp_path):
    archive = tmp_path / "a.tar.zst"
    archive.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(60))
    with pytest.raises(FetchError, match="zstd-compressed, and Python's tarfile reads zstd"):
        extract_to(archive, tmp_path / "t")


def test_damaged_archive_names_the_file(tmp_path):
    archive = tmp_path / "a.tar.gz"
    tarball(archive, [("p/f", "file", os.urandom(200_000))])
    archive.write_bytes(archive.read_bytes()[:50_000])
    with pytest.raises(FetchError, match=f"Cannot extract {archive}") as e:
        extract_to(archive, tmp_path / "t")
    assert not isinstance(e.value, UnsafeArchive)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar.gz"]


# -- random archives --------------------------------------------------------------------------
# weighted by repetition: mostly plain names, so that many archives extract and the links,
# duplicates and replacements inside them are exercised, not only the first refusal
COMPONENTS = st.sampled_from(["a", "b", "c"] * 12 + [".", "..", "", "x" * 255, "y" * 256, "a b"])
NAMES = st.builds(lambda lead, parts: lead + "/".join(parts),
                  st.sampled_from([""] * 30 + ["./", "/"]),
                  st.lists(COMPONENTS, min_size=1, max_size=4))
TARGETS = st.one_of(NAMES, NAMES, NAMES, st.sampled_from(
    ["../outside", "../../outside/victim", "OUTSIDE/victim", "a/../..", ".", "a/b/../../..",
     "a" + "/.." * 3, "..", "b/..", "c/../a"]))
SAFE_KINDS = st.sampled_from(["file"] * 4 + ["dir"] * 2 + ["sym"] * 3 + ["hard"] * 2)
MEMBERS = st.lists(st.one_of(
    st.tuples(NAMES, SAFE_KINDS, st.one_of(TARGETS, st.binary(max_size=20))),
    st.tuples(NAMES, SAFE_KINDS, st.one_of(TARGETS, st.binary(max_size=20))),
    st.tuples(NAMES, SAFE_KINDS, st.one_of(TARGETS, st.binary(max_size=20))),
    st.tuples(NAMES, SAFE_KINDS, st.one_of(TARGETS, st.binary(max_size=20))),
    st.tuples(NAMES, SAFE_KINDS, st.one_of(TARGETS, st.binary(max_size=20))),
    st.tuples(NAMES, SAFE_KINDS, st.one_of(TARGETS, st.binary(max_size=20))),
    st.tuples(NAMES, st.sampled_from(["fifo", "chr"]), st.just(b"")),
), min_size=1, max_size=12).map(lambda ms: [
    (n, k, (p if isinstance(p, bytes) else p.encode()) if k == "file" else
     (p if isinstance(p, str) else "a")) for n, k, p in ms])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(members=[("a", "sym", "y" * 256)])  # a dangling link whose name is too long
@given(members=MEMBERS)
def test_random_archives_stay_inside(members):
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        outside = base / "outside"
        (outside / "sub").mkdir(parents=True)
        (outside / "victim").write_text("original\n")
        members = [(n, k, p.replace("OUTSIDE", str(outside)) if isinstance(p, str) else p)
                   for n, k, p in members]
        archive = base / "random.tar"
        tarball(archive, members, mode="w")
        before = snapshot(outside)
        outside_inodes = {p.lstat().st_ino for p in outside.rglob("*")}
        tree = base / "work" / "tree"
        try:
            extract_to(archive, tree)
        except FetchError as e:
            event("refused: " + e.message.split(" is unsafe: ")[-1].split(",")[0][:40]
                  if isinstance(e, UnsafeArchive) else "error: " + type(e).__name__)
            assert not (base / "work").exists() or not list((base / "work").iterdir())
        else:
            event("extracted")
            real = os.path.realpath(tree)  # short paths here: realpath is a fair judge
            # os.walk, not rglob: 3.11.2's rglob stats links and trips on this one
            for p in (Path(d, n) for d, ds, fs in os.walk(tree) for n in ds + fs):
                mode = p.lstat().st_mode
                assert stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode), p
                assert not mode & (stat.S_ISUID | stat.S_ISGID)
                assert p.lstat().st_ino not in outside_inodes
                if stat.S_ISLNK(mode):
                    assert os.path.commonpath([real, os.path.realpath(p)]) == real, p
        assert snapshot(outside) == before
        assert sorted(p.name for p in base.iterdir()) == ["outside", "random.tar"] + (
            ["work"] if (base / "work").exists() else [])
