"""`srcbuild create` on real Debian sources of different build systems (json-c: CMake,
libyaml: configure.ac without configure, lz4 and zstd: a plain Makefile, expat: CMake in a
subfolder), and the recipes it writes built unedited (longbuild: minutes here). Skipped with
the reason when Debian's archive cannot be reached.

zstd is detected but not built here: its Makefile links zlib and liblzma whenever their -dev
packages are installed, and the linkage audit rightly refuses those undeclared libraries
(docs/recipes.md says what to add); lz4 is the plain-Makefile package that builds unedited."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest
from conftest import Srcbuild
from pkgfactory import recipe

from srcbuild.errors import FetchError
from srcbuild.fetch import SourceCache

CASES = {
    # name: (--debian, system, subdir, autoreconf, provides)
    "json-c": ("json-c", "cmake", None, None, ["pkgconfig:json-c", "library:libjson-c.so"]),
    "libyaml": ("libyaml", "autotools", None, True, ["pkgconfig:yaml-0.1",
                                                     "library:libyaml.so"]),
    "zstd": ("zstd", "make", None, None, ["pkgconfig:libzstd", "library:libzstd.so"]),
    "lz4": ("lz4", "make", None, None, ["pkgconfig:liblz4", "library:liblz4.so"]),
    "expat": ("expat", "cmake", "expat", None, ["pkgconfig:expat"]),
}


@pytest.fixture(scope="module")
def debian_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One source cache for the module: its private Debian index is made once."""
    cache = tmp_path_factory.mktemp("debian-cache")
    try:
        SourceCache(cache).debian_orig("zlib")
    except FetchError as e:
        pytest.skip(f"Debian's archive is not reachable: {e.message}")
    return cache


def sb_with(tmp_path: Path, cache: Path) -> Srcbuild:
    return Srcbuild(tmp_path / "prefix", cache)


def create(sb: Srcbuild, tmp_path: Path, name: str) -> dict:
    cp = sb("create", name, "--debian", CASES[name][0], "--recipes-dir", str(tmp_path / "new"),
            "--cache-dir", str(sb.cache), timeout=600)
    assert f"Wrote {tmp_path / 'new' / name}.toml" in cp.stdout
    return tomllib.loads((tmp_path / "new" / f"{name}.toml").read_text())


@pytest.mark.network
@pytest.mark.parametrize("name", sorted(CASES))
def test_create_detects_debian_sources(tmp_path, debian_cache, name):
    sb = sb_with(tmp_path, debian_cache)
    r = create(sb, tmp_path, name)
    _pkg, system, subdir, autoreconf, provides = CASES[name]
    source = r["source"][0]
    assert r["build"]["system"] == system
    assert source.get("subdir") == subdir
    assert r["build"].get("autoreconf") == autoreconf
    assert r["provides"] == provides
    # the hash is the one Debian's index lists, and the file in the cache has it
    listed = SourceCache(debian_cache).debian_orig(source["debian"])[2]
    assert source["sha256"] == listed
    assert sb("lint", str(tmp_path / "new")).returncode == 0


@pytest.mark.network
@pytest.mark.longbuild
@pytest.mark.parametrize("name, program", [("json-c", None), ("lz4", "lz4"),
                                           ("libyaml", None), ("expat", None)])
def test_created_recipe_builds_unedited(tmp_path, debian_cache, name, program):
    sb = sb_with(tmp_path, debian_cache)
    create(sb, tmp_path, name)
    # --from-source: the system may have the library already (expat, zstd on Debian)
    sb(name, "--recipes", str(tmp_path / "new"), "--from-source", name, timeout=3600)
    p = sb.prefix.resolve()
    module = CASES[name][4][0].split(":")[1]
    env = {**os.environ, "PKG_CONFIG_PATH": f"{p}/lib/pkgconfig"}
    out = subprocess.run(["pkg-config", "--variable=prefix", module], env=env,
                         capture_output=True, text=True, check=False)
    assert out.stdout.strip() == str(p), out.stderr
    if program:
        out = subprocess.run(["sh", "-c", (f"echo hello | {p}/bin/{program} -c | "
                                                 f"{p}/bin/{program} -dc")], capture_output=True, text=True,
                             check=False)
        assert out.stdout == "hello\n", out.stderr
    if name == "libyaml":  # autoreconf came from the shipped autotools recipes
        built = {f.stem for f in (p / ".srcbuild" / "packages").glob("*.json")}
        assert {"m4", "autoconf", "automake", "libtool", "libyaml"} <= built


@pytest.mark.network
@pytest.mark.parametrize("version, moved", [("1.4.19", False), ("1.4.18", True)])
def test_placeholder_hash_names_the_listed_one(tmp_path, debian_cache, version, moved):
    sb = sb_with(tmp_path, debian_cache)
    recipe(tmp_path / "r", "m4", f"""
        version = "{version}"
        [[source]]
        debian = "m4"
        sha256 = "{'0' * 64}"
        [build]
        system = "autotools"
        """)
    cp = sb("fetch", "m4", "--recipes", str(tmp_path / "r"), check=1)
    listed = SourceCache(debian_cache).debian_orig("m4")[2]
    assert f'put sha256 = "{listed}" in the recipe' in cp.stderr
    assert ("the Debian package moved to another upstream version: 1.4.19, the recipe says "
            f"{version}" in cp.stderr) == moved
    assert ("moved to another upstream version" in cp.stderr) == moved
