"""Binary cache restores checked before a file reaches the stage (issue 12, case 6): an entry
tampered in any way is refused in one line, quarantined, rebuilt from source and never tried
again; a restored stage is checked again. Real builds through the real command line, real
archives tampered by hand."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import tree
from pkgfactory import recipe, script_prog

from srcbuild import bincache
from srcbuild.entrycheck import Wanted, tree_entries
from srcbuild.errors import CacheMiss
from srcbuild.extract import extract
from srcbuild.fetch import sha256_file


def events(cp: subprocess.CompletedProcess[str]) -> list[dict]:
    return [json.loads(line) for line in cp.stdout.splitlines() if line.startswith("{")]


def summary(evs: list[dict]) -> dict[str, str]:
    [s] = [e for e in evs if e["event"] == "summary"]
    return {p["recipe"]: p["status"] for p in s["packages"]}


def steps_run(evs: list[dict]) -> list[str]:
    return [e["step"] for e in evs if e["event"] == "step_start"]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """Recipes with ``tiny``: one script; its check fails while ``tmp_path/check-fails``
    exists (so a test can tell whether the check ran)."""
    src = script_prog(tmp_path / "pkgs")
    recipes = tmp_path / "recipes"
    recipe(recipes, "tiny", f"""
        version = "1.0"
        provides = ["program:tiny"]
        check = [["sh", "-c", "test ! -e {tmp_path / 'check-fails'} && tiny"]]
        [[source]]
        path = "{src}"
        [build]
        system = "make"
        """)
    return recipes


# -- tampering by hand, as someone with write access to the cache folder would ---------------
def _entry(cache: Path) -> tuple[str, Path, Path]:
    [meta] = cache.glob("*.json")
    key = meta.name.removesuffix(".json")
    return key, cache / f"{key}.tar.gz", meta


def _repack(archive: Path, work: Path, add: dict[str, bytes], edit_entries: bool) -> None:
    """Rewrite ``archive`` with the members ``add`` (names taken as they are, ``../``
    included) and make its manifest match the new archive: sha256, size and file list, and
    with ``edit_entries`` the per-file entries too (a forger who knows the format)."""
    tree_dir = work / "unpacked"
    tree_dir.mkdir(parents=True)
    extract(archive, tree_dir)
    with tarfile.open(archive, "w:gz") as tf:
        for path in sorted(tree_dir.rglob("*")):
            tf.add(path, arcname=path.relative_to(tree_dir).as_posix(), recursive=False)
        for name, data in add.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tf.addfile(info, io.BytesIO(data))
    meta = archive.with_name(archive.name.replace(".tar.gz", ".json"))
    m = json.loads(meta.read_text())
    m.update(sha256=sha256_file(archive), size=archive.stat().st_size,
             files=sorted({*m["files"], *add}))
    if edit_entries:
        for name, data in add.items():  # as tree_entries would list them once extracted
            (tree_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (tree_dir / name).write_bytes(data)
            (tree_dir / name).chmod(0o755)
        m["entries"] = tree_entries(tree_dir)
    meta.write_text(json.dumps(m))


BACKDOOR = b"#!/bin/sh\necho owned\n"
# name -> (the tampering, what the refusal says, the bad content that must not be merged)
TAMPERINGS: dict[str, tuple[Callable[[Path, Path, Path], None], str, str]] = {
    # what issue 12 observed on main: the archive and the manifest's sha256 and file list
    # edited to match; the per-file entries catch it
    "edited-manifest": (lambda a, _m, w: _repack(a, w, {"bin/backdoor": BACKDOOR}, False),
                        "bin/backdoor is not in its manifest", "bin/backdoor"),
    "member-outside": (lambda a, _m, w: _repack(a, w, {"../escape": b"x"}, False),
                       "'..'", "escape"),
    "state-in-archive": (lambda a, _m, w: _repack(
        a, w, {".srcbuild/installed/evil.json": b"{}"}, False),
        ".srcbuild/installed/evil.json, srcbuild's own prefix state", "evil.json"),
    "state-in-manifest": (lambda a, _m, w: _repack(
        a, w, {".srcbuild/installed/evil.json": b"{}"}, True),
        "srcbuild's own prefix state", "evil.json"),
}


@pytest.mark.parametrize("how", sorted(TAMPERINGS))
def test_a_tampered_entry_is_refused_quarantined_rebuilt_and_not_tried_again(
        sb, tiny, tmp_path, how):
    tamper, reason, bad = TAMPERINGS[how]
    cache = tmp_path / "bincache"
    args = ["tiny", "--recipes", str(tiny), "--binary-cache", str(cache)]
    assert summary(events(sb(*args, "--json"))) == {"tiny": "built"}
    good = tree(sb.prefix)
    key, archive, meta = _entry(cache)
    tamper(archive, meta, tmp_path / "tamper")
    shutil.rmtree(sb.prefix)

    cp = sb(*args)  # the human output: one line naming the entry and why
    [line] = [ln for ln in cp.stderr.splitlines() if "is refused" in ln]
    assert f"tiny: Binary cache entry {key[:16]} in {cache} is refused" in line, cp.stderr
    assert reason in line and "moved to" in line and "tiny is built from source" in line
    assert tree(sb.prefix) == good  # rebuilt and installed, nothing of the bad entry
    assert not [p for p in tmp_path.rglob(Path(bad).name)
                if "quarantine" not in p.parts and "tamper" not in p.parts]
    [q] = (cache / "quarantine").iterdir()
    assert sorted(p.name for p in q.iterdir()) == sorted(
        [archive.name, meta.name, "why.txt"])
    assert reason in (q / "why.txt").read_text()
    assert sha256_file(archive) == json.loads(meta.read_text())["sha256"]  # stored again

    shutil.rmtree(sb.prefix)  # a fresh runner: the good entry is restored, the bad not tried
    evs = events(sb(*args, "--json"))
    assert not [e for e in evs if e["event"] == "cache_corrupt"]
    assert summary(evs) == {"tiny": "restored"} and tree(sb.prefix) == good
    assert steps_run(evs) == ["audit", "check", "merge"]
    assert len(list((cache / "quarantine").iterdir())) == 1


def test_a_forged_manifest_is_caught_by_the_signature(sb, tiny, tmp_path):
    """A forger who rewrites the per-file entries too passes every check an unsigned folder
    can make; under --require-signed the trusted key's signature no longer matches."""
    from srcbuild.signing import generate

    key_file, pub, kid = generate(tmp_path / "keys")
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    shutil.copy(pub, trusted)
    cache = tmp_path / "bincache"
    args = ["tiny", "--recipes", str(tiny), "--binary-cache", str(cache), "--signing-key",
            str(key_file), "--trusted-keys", str(trusted), "--require-signed"]
    assert summary(events(sb(*args, "--json"))) == {"tiny": "built"}
    good = tree(sb.prefix)
    key, archive, _ = _entry(cache)
    assert (cache / f"{key}.sig").exists()
    _repack(archive, tmp_path / "tamper", {"bin/backdoor": BACKDOOR}, edit_entries=True)
    shutil.rmtree(sb.prefix)

    evs = events(sb(*args, "--json"))
    [refused] = [e["text"] for e in evs if e["event"] == "cache_corrupt"]
    assert f"signature by trusted key {kid} does not match" in refused and str(archive) in refused
    assert "moved to" in refused
    assert summary(evs) == {"tiny": "built"} and tree(sb.prefix) == good
    assert not (sb.prefix / "bin" / "backdoor").exists()
    [q] = (cache / "quarantine").iterdir()
    assert {f"{key}.tar.gz", f"{key}.json", f"{key}.sig"} <= {p.name for p in q.iterdir()}

    shutil.rmtree(sb.prefix)
    evs = events(sb(*args, "--json"))
    assert summary(evs) == {"tiny": "restored"} and tree(sb.prefix) == good
    assert not [e for e in evs if e["event"] == "cache_corrupt"]


def test_the_check_runs_again_on_a_restored_stage(sb, tiny, tmp_path):
    cache = tmp_path / "bincache"
    args = ["tiny", "--recipes", str(tiny), "--binary-cache", str(cache), "--json"]
    sb(*args)
    shutil.rmtree(sb.prefix)
    (tmp_path / "check-fails").write_text("")  # this machine is not like the one that built
    cp = sb(*args, check=1)
    evs = events(cp)
    assert [e["recipe"] for e in evs if e["event"] == "cache_hit"] == ["tiny"]
    assert steps_run(evs) == ["audit", "check"]  # the linkage audit, then the check
    assert "the check step" in cp.stderr
    assert not (sb.prefix / "bin" / "tiny").exists()


# -- the chain, in process: binding to the build hash, old manifests, --binary-cache-only ----
def _stored(root: Path, key: str, name: str = "x", version: str = "1") -> Path:
    stage = root / f"stage-{key[:4]}"
    (stage / "bin").mkdir(parents=True)
    (stage / "bin" / "x").write_text("x\n")
    archive = root / f"{key[:4]}.tar.gz"
    files = bincache.pack(stage, archive, 0)
    bincache.LocalDirCache(root / "cache").put(key, archive, bincache.manifest(
        name, version, key, archive, files, {}, tree_entries(stage)))
    return root / "cache"


def test_an_entry_under_another_build_hash_or_without_file_hashes_is_refused(tmp_path):
    a, b = "a" * 64, "b" * 64
    folder = _stored(tmp_path, a)
    for ext in ("tar.gz", "json"):  # the same entry, filed under another key
        shutil.copy(folder / f"{a}.{ext}", folder / f"{b}.{ext}")
    said: list[str] = []
    chain = bincache.CacheChain([bincache.LocalDirCache(folder)])
    stage = tmp_path / "stage"
    assert chain.restore(Wanted(b, "x", "1"), stage, lambda where, text: said.append(text)) \
        is None
    assert f"is for build_hash '{a}', not the '{b}' asked for" in said[0] and not stage.exists()
    assert chain.restore(Wanted(a, "y", "1"), stage, lambda w, t: said.append(t)) is None
    assert "is for name 'x', not the 'y' asked for" in said[1]
    assert not (folder / f"{a}.json").exists()  # quarantined: no run tries it again

    old = _stored(tmp_path / "old", a)
    m = json.loads((old / f"{a}.json").read_text())
    del m["entries"], m["format"]  # as an older srcbuild wrote it
    (old / f"{a}.json").write_text(json.dumps(m))
    only = bincache.CacheChain([bincache.LocalDirCache(old)], only=True)
    with pytest.raises(CacheMiss, match="no per-file sha256.*--binary-cache-only|"
                                        "--binary-cache-only.*no per-file sha256"):
        only.restore(Wanted(a, "x", "1"), stage, lambda w, t: None)
    assert not stage.exists()

    good = _stored(tmp_path / "good", a)
    got = bincache.CacheChain([bincache.LocalDirCache(good)]).restore(
        Wanted(a, "x", "1"), stage, lambda w, t: None)
    assert got is not None and (stage / "bin" / "x").read_text() == "x\n"
