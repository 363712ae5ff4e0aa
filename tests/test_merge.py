"""The merge as a transaction (issue 12, cases 2, 3, 9, 13): kills at any instant, full disks,
and packages whose paths conflict, by direct calls of install.merge on staged trees.

A prefix is consistent when the package's record lists exactly the files in the prefix,
each with the content of the recorded version (old and new never mixed), with no
temporaries, no transaction folder and no empty folder left behind.
"""

from __future__ import annotations

import collections
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT

from srcbuild.errors import InstallError
from srcbuild.install import merge, staged_prefix
from srcbuild.state import Installed, PrefixState

BIG = 3000  # files of the package the kill test upgrades back and forth


def make_stage(destdir: Path, prefix: Path, files: dict[str, str],
               links: dict[str, str] | None = None) -> Path:
    """A staging DESTDIR holding ``files`` (path -> text) and ``links`` (path -> target)."""
    stage = staged_prefix(destdir, prefix)
    stage.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        (stage / rel).write_text(text)
    for rel, target in (links or {}).items():
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, stage / rel)
    return destdir


def entries(prefix: Path) -> dict[str, str]:
    """Every file and symlink in the prefix but srcbuild's state: text, or '-> target'."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(prefix):
        here = Path(dirpath)
        if here == prefix and ".srcbuild" in dirnames:
            dirnames.remove(".srcbuild")
        for name in filenames + [d for d in dirnames if (here / d).is_symlink()]:
            p = here / name
            rel = p.relative_to(prefix).as_posix()
            out[rel] = f"-> {os.readlink(p)}" if p.is_symlink() else p.read_text()
    return out


def empty_folders(prefix: Path) -> list[str]:
    return [d for d, subdirs, files in os.walk(prefix)
            if not subdirs and not files and Path(d) != prefix]


def install(prefix: Path, destdir: Path, name: str, version: str = "1") -> None:
    merge(destdir, prefix, Installed(name, version, f"hash-{name}-{version}"),
          PrefixState(prefix))


# -- kills at any instant -----------------------------------------------------------------------
def big_files(version: str) -> tuple[dict[str, str], dict[str, str]]:
    """3000 files (3001 entries in version 2). From 1 to 2, lib/ turns from a folder of 300
    libraries into a symlink to lib64/, which holds 300 others."""
    files = {f"share/d{i % 30:02}/f{i}": f"{version} share {i}\n" for i in range(BIG - 300)}
    if version == "1":
        files |= {f"lib/libold{i}.so": f"1 lib {i}\n" for i in range(300)}
        return files, {}
    files |= {f"lib64/libnew{i}.so": f"2 lib64 {i}\n" for i in range(300)}
    return files, {"lib": "lib64"}


@pytest.fixture(scope="module")
def big() -> Iterator[tuple[Path, dict[str, Path], dict[str, dict[str, str]]]]:
    """A prefix and the two staged versions of the big package. On /dev/shm when it is a
    tmpfs with room (the kill loop then measures srcbuild, not a busy disk), else /tmp."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) and \
        os.statvfs(shm).f_bavail * os.statvfs(shm).f_frsize > 512 << 20 else None
    root = Path(tempfile.mkdtemp(prefix="srcbuild-merge-", dir=base)).resolve()
    prefix = root / "prefix"
    prefix.mkdir()
    stages, expected = {}, {}
    for version in ("1", "2"):
        files, links = big_files(version)
        stages[version] = make_stage(root / f"stage{version}", prefix, files, links)
        expected[version] = files | {rel: f"-> {t}" for rel, t in links.items()}
    yield prefix, stages, expected
    shutil.rmtree(root, ignore_errors=True)


KILLER = """
import os, signal, sys, time
from pathlib import Path
from srcbuild.install import merge
from srcbuild.state import Installed, PrefixState
prefix, destdir, version, step, index, *name = sys.argv[1:]
def kill_at(name, i):
    if name == step and i == int(index):
        os.kill(os.getpid(), signal.SIGKILL)
hook = {} if step == "-" else {"on_step": kill_at}
print("ready", flush=True)
t = time.monotonic()
merge(Path(destdir), Path(prefix), Installed(name[0] if name else "big", version,
      "hash-" + version), PrefixState(Path(prefix)), **hook)
print(f"{time.monotonic() - t:.3f}", flush=True)
"""
RECOVERER = """
import sys
from pathlib import Path
from srcbuild.journal import recover
print("ready", flush=True)
recover(Path(sys.argv[1]))
"""

# one kill after each of these steps of the merge (name, index), in both directions: the
# middle and the ends of the copy, the journal, the setting aside of removed files, the
# moves into place (a new library, replaced files, the last one), the record (the commit),
# the cleanup
KILL_POINTS = [("copy", 0), ("copy", 1499), ("copy", 2999), ("journal", 0), ("gone", 0),
               ("gone", 299), ("placed", 0), ("placed", 100), ("aside", 1500),
               ("placed", 1500), ("aside", 2999), ("placed", 2999), ("record", 0),
               ("pruned", 0), ("forgotten", 0)]
RANDOM_KILLS = 20


def start(script: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n", proc.communicate()
    return proc


def on_disk(prefix: Path, target: str) -> str:
    """Where the merge to ``target`` was when it was killed, from what it left."""
    txn = prefix / ".srcbuild" / "txn"
    record = prefix / ".srcbuild" / "packages" / "big.json"
    recorded = json.loads(record.read_text())["version"] if record.exists() else None
    if (txn / "journal.json").exists():
        return "journaled, recorded" if recorded == target else "journaled, moving"
    if txn.exists():
        return "cleaning up" if recorded == target else "copying"
    return "finished" if recorded == target else "planning (nothing written yet)"


def assert_consistent(prefix: Path, expected: dict[str, dict[str, str]]) -> str:
    """The invariants after a recovery; the version installed."""
    assert not (prefix / ".srcbuild" / "txn").exists()
    assert not list((prefix / ".srcbuild" / "packages").glob(".*"))
    record = json.loads((prefix / ".srcbuild" / "packages" / "big.json").read_text())
    want = expected[record["version"]]
    assert sorted(record["files"]) == sorted(want)
    have = entries(prefix)
    assert set(have) == set(want), (set(have) ^ set(want))
    mixed = [rel for rel in want if have[rel] != want[rel]]
    assert not mixed, f"{len(mixed)} file(s) of the other version, e.g. {mixed[:3]}"
    assert not empty_folders(prefix)
    return str(record["version"])


def test_a_kill_at_any_instant_leaves_a_consistent_prefix(big):
    """Deterministic kills after each kind of step, then kills after random delays (and,
    every fourth time, of the recovery too): the next command's recovery always gives a
    prefix that holds exactly one version, rolled back unless its record was written."""
    from srcbuild.journal import recover

    prefix, stages, expected = big
    for version in ("1", "2"):  # installed, then upgraded: how long a whole upgrade takes
        proc = start(KILLER, str(prefix), str(stages[version]), version, "-", "0")
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    seconds = float(out)
    current = assert_consistent(prefix, expected)
    seed = int(os.environ.get("SRCBUILD_KILL_SEED", time.time()))
    rng = random.Random(seed)
    tally: collections.Counter[str] = collections.Counter()
    # half over the whole merge, half over its end, where the moves and the commit are
    delays = [rng.uniform(0, seconds * 0.9) for _ in range(RANDOM_KILLS // 2)]
    delays += [rng.uniform(seconds * 0.6, seconds) for _ in range(RANDOM_KILLS // 2)]
    plan = [("-", 0, delay) for delay in delays] + \
        [(step, index, 0.0) for step, index in KILL_POINTS]
    for n, (step, index, delay) in enumerate(plan):
        target = "2" if current == "1" else "1"
        proc = start(KILLER, str(prefix), str(stages[target]), target, step, str(index))
        if step == "-":
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
        if step != "-":
            assert proc.returncode == -signal.SIGKILL, f"{step} {index} never came: {err}"
        where = on_disk(prefix, target)
        tally[f"{'at ' + step if step != '-' else 'random'}: {where}"] += 1
        if step == "-" and n % 4 == 3 and (prefix / ".srcbuild" / "txn").exists():
            rec = start(RECOVERER, str(prefix))  # a recovery killed too: it runs again
            time.sleep(rng.uniform(0, 0.2))
            rec.send_signal(signal.SIGKILL)
            rec.communicate(timeout=60)
            tally["a recovery killed as well"] += 1
        recover(prefix)
        current = assert_consistent(prefix, expected)
        forward = where in ("journaled, recorded", "cleaning up", "finished")
        assert current == (target if forward else ("2" if target == "1" else "1")), where
    print(f"\nkill test (seed {seed}, a whole upgrade took {seconds:.2f}s):")
    for what, count in sorted(tally.items()):
        print(f"  {count:3d}  {what}")
    assert sum(v for k, v in tally.items() if k.startswith(("at ", "random"))) \
        == len(KILL_POINTS) + RANDOM_KILLS


def test_a_journal_that_points_out_of_the_prefix_is_refused(tmp_path):
    """Recovery renames and removes what the journal names: never outside the prefix."""
    from srcbuild.journal import recover

    prefix, victim = tmp_path / "prefix", tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (prefix / ".srcbuild" / "txn").mkdir(parents=True)
    (prefix / ".srcbuild" / "txn" / "journal.json").write_text(json.dumps({
        "kind": "merge", "package": "evil", "place": ["../victim.txt"], "replaces": [False],
        "remove": [], "dirs_removed": [], "dirs_created": [], "record": None,
        "previous": None}))
    with pytest.raises(InstallError, match=r"is damaged \('\.\./victim\.txt': climbs out"):
        recover(prefix)
    assert victim.read_text() == "keep me\n"


# -- a full disk --------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of 4 MiB mounted by the test (root only)."""
    if os.geteuid() != 0:
        pytest.skip("SKIP: mounting a tmpfs needs root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    cp = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                        capture_output=True, text=True, check=False)
    if cp.returncode != 0:
        pytest.skip(f"SKIP: mount -t tmpfs is not permitted here: {cp.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def free_bytes(path: Path) -> int:
    vfs = os.statvfs(path)
    return vfs.f_bavail * vfs.f_frsize


def fill(disk: Path) -> None:
    """Write into ``disk/filler`` until the filesystem is full."""
    with open(disk / "filler", "ab", buffering=0) as f:
        for size in (1 << 16, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as e:
                assert e.errno == errno.ENOSPC


def test_a_full_disk_while_copying_rolls_back_and_names_the_filesystem(small_disk, tmp_path):
    prefix = small_disk / "prefix"
    prefix.mkdir()
    install(prefix, make_stage(tmp_path / "a1", prefix, {"share/a.txt": "alpha 1\n"}), "alpha")
    before, free = entries(prefix), free_bytes(small_disk)
    big_file = {"share/a.txt": "alpha 2\n", "lib/huge.so": "x" * (3 << 20),
                "lib/huge2.so": "y" * (3 << 20)}
    with pytest.raises(InstallError) as e:
        install(prefix, make_stage(tmp_path / "a2", prefix, big_file), "alpha", "2")
    message = str(e.value)
    print(f"\n{message}")
    assert f"mounted at {small_disk} (" in message and "bytes free of 4194304" in message
    assert "the package needs about 6295552 bytes" in message  # 4 KiB pages
    assert "rolled back" in message
    # nothing partial: the same files, the space given back, no transaction folder
    assert entries(prefix) == before
    assert free_bytes(small_disk) == free
    assert sorted(os.listdir(prefix / ".srcbuild")) == ["packages"]
    assert PrefixState(prefix).get("alpha").version == "1"  # type: ignore[union-attr]


def test_a_full_disk_while_writing_the_record_leaves_no_unrecorded_file(small_disk, tmp_path):
    prefix = small_disk / "prefix"
    prefix.mkdir()
    install(prefix, make_stage(tmp_path / "b1", prefix,
                               {f"share/b/{i}.txt": f"1 {i}\n" for i in range(300)}), "beta")
    before = entries(prefix)
    files = {f"share/b/{i}.txt": f"2 {i}\n" for i in range(300)}
    files |= {f"share/new/{i}.txt": f"2 {i}\n" for i in range(300)}

    def fill_before_the_record(step: str, index: int) -> None:
        if step == "placed" and index == len(files) - 1:  # every file is in place
            fill(small_disk)

    with pytest.raises(InstallError) as e:
        merge(make_stage(tmp_path / "b2", prefix, files), prefix,
              Installed("beta", "2", "hash-beta-2"), PrefixState(prefix),
              on_step=fill_before_the_record)
    message = str(e.value)
    print(f"\n{message}")
    assert "while writing the state record" in message
    assert f"mounted at {small_disk} (0 bytes free" in message
    assert entries(prefix) == before  # the 300 new files are gone, the old ones back
    assert sorted(os.listdir(prefix / ".srcbuild")) == ["packages"]
    assert os.listdir(prefix / ".srcbuild" / "packages") == ["beta.json"]
    assert PrefixState(prefix).get("beta").version == "1"  # type: ignore[union-attr]


def test_a_full_disk_while_writing_activate_is_a_warning(small_disk):
    from srcbuild import api
    from srcbuild.events import Events

    prefix = small_disk / "prefix"
    prefix.mkdir()
    fill(small_disk)
    events, said = Events(), []
    events.subscribe(lambda event: said.append(event.get("text", "")))
    api.write_activate_or_warn(prefix, events)
    print(f"\n{said[0]}")
    assert said[0].startswith("warning: the packages are installed, but writing")
    assert f"mounted at {small_disk} (0 bytes free" in said[0]
    assert os.listdir(prefix) == []  # no partial activate, no temporary


# -- conflicts, refused before anything moves ---------------------------------------------------
def refused(prefix: Path, destdir: Path, name: str) -> str:
    before = entries(prefix)
    with pytest.raises(InstallError) as e:
        install(prefix, destdir, name)
    assert entries(prefix) == before, "the prefix changed"
    assert PrefixState(prefix).get(name) is None
    assert not (prefix / ".srcbuild" / "txn").exists()
    print(f"\n{e.value}")
    return str(e.value)


@pytest.fixture
def with_alpha(tmp_path: Path) -> Path:
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    install(prefix, make_stage(tmp_path / "alpha", prefix, {
        "lib/libalpha.so": "alpha\n", "lib/pkgconfig/alpha.pc": "pc\n",
        "share/doc": "alpha's doc is a file\n"}), "alpha")
    return prefix


def test_a_symlink_over_another_packages_folder_is_refused(with_alpha, tmp_path):
    prefix = with_alpha
    msg = refused(prefix, make_stage(tmp_path / "beta", prefix, {"lib64/libbeta.so": "b\n"},
                                     {"lib": "lib64"}), "beta")
    assert "lib: beta installs a symlink (lib -> lib64) where the prefix has a folder " \
           "holding 2 file(s) installed by alpha" in msg


def test_a_file_over_another_packages_folder_is_refused(with_alpha, tmp_path):
    msg = refused(with_alpha, make_stage(tmp_path / "beta", with_alpha, {"lib": "a file\n"}),
                  "beta")
    assert "lib: beta installs a file where the prefix has a folder holding 2 file(s) " \
           "installed by alpha (lib/libalpha.so, lib/pkgconfig/alpha.pc)" in msg


def test_a_folder_over_another_packages_file_is_refused(with_alpha, tmp_path):
    msg = refused(with_alpha, make_stage(tmp_path / "beta", with_alpha,
                                         {"share/doc/beta.txt": "b\n"}), "beta")
    assert "share/doc/beta.txt: beta needs the folder share/doc, but that is a file " \
           "installed by alpha" in msg


def test_writing_through_a_symlink_out_of_the_prefix_is_refused(tmp_path):
    prefix, outside = tmp_path / "prefix", tmp_path / "outside"
    prefix.mkdir()
    outside.mkdir()
    install(prefix, make_stage(tmp_path / "alpha", prefix, {}, {"share/data": str(outside)}),
            "alpha")
    msg = refused(prefix, make_stage(tmp_path / "beta", prefix,
                                     {"share/data/beta.txt": "b\n"}), "beta")
    assert f"share/data/beta.txt: it would be written through the symlink share/data -> " \
           f"{outside} (installed by alpha), which leads out of the prefix" in msg
    assert os.listdir(outside) == []


def test_a_symlink_inside_the_prefix_is_followed_and_recorded_where_the_file_is(tmp_path):
    """lib -> lib64 of one package: another's lib/x is recorded as lib64/x, so that its
    owner is known (no two records name one file under two names) and uninstall finds it."""
    from srcbuild.install import uninstall

    prefix = tmp_path / "prefix"
    prefix.mkdir()
    install(prefix, make_stage(tmp_path / "alpha", prefix, {"lib64/liba.so": "a\n"},
                               {"lib": "lib64"}), "alpha")
    install(prefix, make_stage(tmp_path / "beta", prefix, {"lib/libb.so": "b\n"}), "beta")
    assert PrefixState(prefix).get("beta").files == ("lib64/libb.so",)  # type: ignore
    msg = refused(prefix, make_stage(tmp_path / "gamma", prefix, {"lib64/libb.so": "g\n"}),
                  "gamma")
    assert "lib64/libb.so (installed by beta)" in msg
    uninstall(prefix, "beta", PrefixState(prefix))
    assert entries(prefix) == {"lib": "-> lib64", "lib64/liba.so": "a\n"}


# -- a build writing into the live prefix -----------------------------------------------------
def test_the_prefix_watch_reports_what_no_merge_explains(with_alpha, tmp_path):
    """What another package's merge changed during a build is not the build's; a stray
    write, a clobbered file and a deleted one are, and a pycache file is nobody's bug."""
    from srcbuild.prefixwatch import PrefixWatch

    prefix, merged = with_alpha, []
    watch = PrefixWatch.begin(prefix, merged)
    touched: set[str] = set()
    merge(make_stage(tmp_path / "beta", prefix, {"share/beta/b.txt": "b\n"}), prefix,
          Installed("beta", "1", "hash-beta"), PrefixState(prefix), touched=touched)
    merged.append(frozenset(touched))
    (prefix / "lib" / "libalpha.so").write_text("clobbered\n")
    (prefix / "lib" / "pkgconfig" / "alpha.pc").unlink()
    (prefix / "stray" / "__pycache__").mkdir(parents=True)
    (prefix / "stray" / "__pycache__" / "x.pyc").write_text("")
    (prefix / "stray" / "new.txt").write_text("stray\n")
    changes = watch.changes()
    assert (changes.created, changes.modified, changes.deleted) == (
        ["stray/new.txt"], ["lib/libalpha.so"], ["lib/pkgconfig/alpha.pc"])
    assert changes.describe(PrefixState(prefix).owner_of().get) == (
        "created stray/new.txt; modified lib/libalpha.so (installed by alpha); deleted "
        "lib/pkgconfig/alpha.pc (installed by alpha)")
