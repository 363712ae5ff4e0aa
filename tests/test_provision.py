"""CI provisioning end to end: lock files, drift, mirrors with --offline, the binary cache,
reproducible staged trees. Real packages, the real command line."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import tarball, tree
from pkgfactory import autotools_lib, chain, recipe

from srcbuild.bincache import LocalDirCache
from srcbuild.errors import CorruptEntry
from srcbuild.fetch import sha256_file


@pytest.fixture
def recipes(tmp_path: Path) -> Path:
    return chain(tmp_path)


def events(cp: subprocess.CompletedProcess[str]) -> list[dict]:
    return [json.loads(line) for line in cp.stdout.splitlines() if line.startswith("{")]


def steps_run(evs: list[dict], recipe_name: str) -> list[str]:
    return [e["step"] for e in evs if e["event"] == "step_start" and e["recipe"] == recipe_name]


def summary(evs: list[dict]) -> dict[str, str]:
    [s] = [e for e in evs if e["event"] == "summary"]
    return {p["recipe"]: p["status"] for p in s["packages"]}


# -- lock / install-locked ------------------------------------------------------------------
def test_lock_then_install_locked_gives_the_same_files(sb, recipes, tmp_path):
    cp = sb("lock", "delta", "--recipes", str(recipes))
    lock = json.loads(cp.stdout)
    assert [p["recipe"] for p in lock["packages"]] == ["alpha", "delta"]
    alpha = lock["packages"][0]
    assert alpha["digest"] and alpha["build_hash"] and alpha["sources"][0]["kind"] == "path"
    assert any(s["requirement"] == "program:make" for s in lock["system"])
    assert lock["compiler"] and lock["architecture"] and lock["srcbuild"]
    lockfile = tmp_path / "srcbuild.lock"
    lockfile.write_text(cp.stdout)

    sb("delta", "--recipes", str(recipes))
    second = tmp_path / "second"
    sb("install-locked", str(lockfile), "--recipes", str(recipes), prefix=second)
    assert set(tree(second)) == set(tree(sb.prefix))
    out = subprocess.run([second / "bin" / "delta"], capture_output=True, text=True,
                         check=False)
    assert out.stdout == "delta says 42\n"


def test_drift_is_named_and_stops_the_install(sb, recipes, tmp_path):
    lockfile = tmp_path / "srcbuild.lock"
    lockfile.write_text(sb("lock", "delta", "--recipes", str(recipes)).stdout)
    with open(recipes / "alpha.toml", "a") as f:
        f.write("# edited after locking\n")
    cp = sb("install-locked", str(lockfile), "--recipes", str(recipes), check=2)
    assert "[recipe] recipe alpha was edited since the lock" in cp.stderr
    assert str(lockfile) in cp.stderr and "--allow-drift" in cp.stderr
    assert not (sb.prefix / "bin" / "delta").exists()

    # another compiler, another architecture, a system requirement at another version
    lock = json.loads(lockfile.read_text())
    lock["compiler"] = "gcc (Imaginary) 1.0"
    lock["architecture"] = "vax"
    make = next(s for s in lock["system"] if s["requirement"] == "program:make")
    make["version"] = "0.1-locked"
    lockfile.write_text(json.dumps(lock))
    cp = sb("install-locked", str(lockfile), "--recipes", str(recipes), check=2)
    assert "[compiler] the compiler changed: the lock has 'gcc (Imaginary) 1.0'" in cp.stderr
    assert "[architecture] the architecture changed: the lock has vax" in cp.stderr
    assert "[system] system program:make (needed by alpha) is at version" in cp.stderr
    assert "the lock has 0.1-locked" in cp.stderr

    cp = sb("install-locked", str(lockfile), "--recipes", str(recipes), "--allow-drift")
    assert "warning: drift from the lock: recipe alpha was edited" in cp.stderr
    assert (sb.prefix / "bin" / "delta").exists()


# -- mirror and --offline -------------------------------------------------------------------
def _path_without_apt(tmp_path: Path) -> str:
    """A PATH with every program of the current one except apt-get and friends."""
    bindir = tmp_path / "bin-no-apt"
    bindir.mkdir()
    for d in os.environ["PATH"].split(":"):
        if not os.path.isdir(d):
            continue
        for entry in os.listdir(d):
            full = os.path.join(d, entry)
            if entry.startswith("apt") or (bindir / entry).exists():
                continue
            if os.path.isfile(full) and os.access(full, os.X_OK):
                (bindir / entry).symlink_to(full)
    return str(bindir)


def test_offline_install_from_a_mirror_never_touches_the_network(sb, tmp_path):
    sha = tarball(tmp_path / "alpha-1.2.0.tar.gz", tree=autotools_lib(tmp_path / "pkgs"))
    body = textwrap.dedent("""
        version = "1.2.0"
        provides = ["pkgconfig:alpha"]
        check = ["test -f {{{{ stage }}}}/lib/libalpha.so"]
        [[source]]
        url = "{url}"
        sha256 = "{sha}"
        mirrors = ["http://127.0.0.1:9/alpha-1.2.0.tar.gz"]
        [[source]]
        debian = "alpha"
        sha256 = "{sha}"
        [build]
        system = "autotools"
        """)
    # on a connected machine: mirror the sources
    online = recipe(tmp_path / "online", "alpha", body.format(
        url=(tmp_path / "alpha-1.2.0.tar.gz").as_uri(), sha=sha))
    mirror_dir = tmp_path / "mirror"
    sb("mirror", "alpha", str(mirror_dir), "--recipes", str(online.parent))
    assert sha256_file(mirror_dir / sha / "alpha-1.2.0.tar.gz") == sha
    shutil.rmtree(sb.cache)  # the offline machine has only the mirror

    # offline: every URL points at a listener that records connections, or at nothing
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    offline = recipe(tmp_path / "offline", "alpha", body.format(
        url=f"http://127.0.0.1:{port}/alpha-1.2.0.tar.gz", sha=sha))
    env = {"PATH": _path_without_apt(tmp_path)}
    assert shutil.which("apt-get", path=env["PATH"]) is None

    cp = sb("alpha", "--recipes", str(offline.parent), "--offline", check=1, env=env)
    assert "No source of alpha" in cp.stderr and f"127.0.0.1:{port}" in cp.stderr
    assert "--offline forbids the network" in cp.stderr and "--mirror DIR" in cp.stderr

    sb("alpha", "--recipes", str(offline.parent), "--offline", "--mirror", str(mirror_dir),
       env=env)
    assert (sb.prefix / "lib" / "libalpha.so").exists()
    listener.setblocking(False)
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody ever connected
    listener.close()


# -- the binary cache -----------------------------------------------------------------------
def test_binary_cache_hit_restores_without_building(sb, recipes, tmp_path):
    bincache = tmp_path / "bincache"
    env = {"SRCBUILD_BINARY_CACHE": str(bincache)}
    first = events(sb("delta", "--recipes", str(recipes), "--json", env=env))
    assert summary(first) == {"alpha": "built", "delta": "built"}
    stored = sorted(p.name for p in bincache.glob("*.tar.gz"))
    assert len(stored) == 2
    manifest = json.loads((bincache / stored[0].replace(".tar.gz", ".json")).read_text())
    assert {"name", "version", "build_hash", "sha256", "files", "created"} <= manifest.keys()
    before = tree(sb.prefix)

    shutil.rmtree(sb.prefix)  # a fresh CI runner: same prefix path, empty
    second = events(sb("delta", "--recipes", str(recipes), "--json", env=env))
    assert summary(second) == {"alpha": "restored", "delta": "restored"}
    assert {e["recipe"] for e in second if e["event"] == "cache_hit"} == {"alpha", "delta"}
    assert "configure" not in steps_run(second, "alpha")
    assert "build" not in steps_run(second, "delta")
    assert tree(sb.prefix) == before
    out = subprocess.run([sb.prefix / "bin" / "delta"], capture_output=True, text=True,
                         check=False)
    assert out.stdout == "delta says 42\n"
    plain = sb("uninstall", "delta")
    assert "Removed delta" in plain.stdout


def test_corrupt_cache_entry_is_reported_and_rebuilt(sb, recipes, tmp_path):
    bincache = tmp_path / "bincache"
    env = {"SRCBUILD_BINARY_CACHE": str(bincache)}
    sb("alpha", "--recipes", str(recipes), env=env)
    before = tree(sb.prefix)
    [archive] = bincache.glob("*.tar.gz")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])  # truncated, as by an interrupted sync
    shutil.rmtree(sb.prefix)

    evs = events(sb("alpha", "--recipes", str(recipes), "--json", env=env))
    [bad] = [e for e in evs if e["event"] == "cache_corrupt"]
    assert str(archive) in bad["text"] and "truncated or damaged" in bad["text"]
    assert not [e for e in evs if e["event"] == "cache_hit"]
    assert "configure" in steps_run(evs, "alpha")
    assert summary(evs) == {"alpha": "built"}
    assert tree(sb.prefix) == before
    # the rebuild stored a good entry again
    key = archive.name.removesuffix(".tar.gz")
    assert LocalDirCache(bincache).get(key) == archive
    assert sha256_file(archive) == json.loads((bincache / f"{key}.json").read_text())["sha256"]

    plain = sb("alpha", "--recipes", str(recipes), env=env)  # nothing to do, nothing damaged
    assert "Nothing to do" in plain.stderr


def test_binary_cache_only_restores_or_fails_and_needs_a_cache(sb, recipes, tmp_path):
    no_env = {"SRCBUILD_BINARY_CACHE": ""}
    cp = sb("alpha", "--recipes", str(recipes), "--binary-cache-only", env=no_env, check=2)
    assert "--binary-cache-only needs a binary cache" in cp.stderr

    folder = tmp_path / "bincache"
    only = ["--binary-cache", str(folder), "--binary-cache-only", "--json"]
    cp = sb("alpha", "--recipes", str(recipes), *only, check=1)
    assert "No binary cache has build hash" in cp.stderr and str(folder) in cp.stderr
    assert not [e for e in events(cp) if e["event"] == "step_start"]
    assert not (sb.prefix / "lib" / "libalpha.so").exists()

    sb("alpha", "--recipes", str(recipes), "--binary-cache", str(folder))  # builds, stores
    before = tree(sb.prefix)
    shutil.rmtree(sb.prefix)
    evs = events(sb("alpha", "--recipes", str(recipes), *only))
    assert summary(evs) == {"alpha": "restored"} and tree(sb.prefix) == before


WRITER = """
import os, sys, time
from pathlib import Path
from srcbuild.bincache import LocalDirCache, manifest
root, me, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
archive = root.parent / f"payload-{me}.tar.gz"
archive.write_bytes(os.urandom(4 << 20))  # different content per writer, as a bad build would
m = manifest("x", "1", "k", archive, ["a"], {})
while not go.exists():
    time.sleep(0.001)
for _ in range(5):
    LocalDirCache(root).put("k", archive, m)
"""


def test_concurrent_writers_leave_one_valid_entry(tmp_path):
    root, go = tmp_path / "cache", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(i), str(go)])
             for i in range(4)]
    go.write_text("")
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    cache = LocalDirCache(root)
    archive = cache.get("k")
    assert archive is not None and sha256_file(archive) == cache.manifest("k")["sha256"]
    assert sorted(p.name for p in root.iterdir()) == [".k.lock", "k.json", "k.tar.gz"]


def test_get_reports_a_damaged_manifest_and_drops_the_entry(tmp_path):
    cache = LocalDirCache(tmp_path)
    (tmp_path / "k.tar.gz").write_bytes(b"x")
    (tmp_path / "k.json").write_text("{not json")
    with pytest.raises(CorruptEntry, match="unreadable"):
        cache.get("k")
    assert cache.get("k") is None


# -- reproducibility ------------------------------------------------------------------------
def test_verify_repro_finds_identical_staged_trees(sb, recipes):
    cp = sb("verify-repro", "delta", "--recipes", str(recipes))
    assert cp.stdout.splitlines() == [
        "alpha 1.2.0: identical (3 staged file(s))", "delta 0.5: identical (1 staged file(s))",
        "verify-repro: reproducible: 2 package(s) built twice from source, identical"]


def test_verify_repro_lists_the_files_that_differ(sb, tmp_path):
    src = tmp_path / "pkgs" / "clock-1"
    src.mkdir(parents=True)
    (src / "Makefile").write_text(
        "install:\n\tmkdir -p $(DESTDIR)$(PREFIX)/share\n"
        "\techo stable > $(DESTDIR)$(PREFIX)/share/stable.txt\n"
        "\tdate +%s%N > $(DESTDIR)$(PREFIX)/share/stamp.txt\n")
    recipe(tmp_path / "r", "clock", f"""
        version = "1"
        [[source]]
        path = "{src}"
        [build]
        system = "make"
        build = []
        """)
    cp = sb("verify-repro", "clock", "--recipes", str(tmp_path / "r"), check=1)
    assert cp.stdout.splitlines() == [
        "clock 1: 1 of 2 staged file(s) differ: share/stamp.txt",
        "verify-repro: NOT reproducible: 1 of 1 package(s) differ (clock)"]
