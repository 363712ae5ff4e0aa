"""Checks for srcbuild/data/sysdeps.toml, the requirement -> distro package map.

(a) structure: only known kinds and distro keys, every entry names an apt
    package, values are plausible package names;
(b) every distinct Debian/Ubuntu name is a real package in the apt lists of
    this machine, checked with ONE batched `apt-cache show` call.  Skipped
    (with the reason shown) when apt-cache is missing or its lists are empty.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

MAP_PATH = Path(__file__).resolve().parents[1] / "srcbuild" / "data" / "sysdeps.toml"

KINDS = {"pkgconfig", "library", "program", "python", "cc"}
DISTROS = {"apt", "dnf", "apk", "pacman"}

# A package name as the four package managers allow it (Debian is the
# strictest about case: lower case only; Fedora has e.g. libX11-devel).
PKG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]*$")
DEB_NAME = re.compile(r"^[a-z0-9][a-z0-9.+-]+$")

# Requirements that srcbuild's own recipes use: the map must cover them.
RECIPE_PKGCONFIG = [
    "glib-2.0", "gobject-2.0", "gthread-2.0", "gmodule-2.0", "gio-2.0",
    "pixman-1", "zlib", "fdt", "slirp", "libpcre2-8", "libffi",
]
RECIPE_PROGRAMS = [
    "meson", "ninja", "make", "gcc", "cc", "g++", "cmake", "pkg-config",
    "flex", "bison", "m4", "rsync", "autoconf", "automake", "libtool",
    "autoreconf", "patch", "python3", "perl", "bc", "bzip2", "xz", "gzip",
    "tar", "cpio", "git", "ccache", "distcc", "distccd",
    "aarch64-linux-gnu-gcc", "aarch64-linux-gnu-as", "aarch64-linux-gnu-ld",
    "aarch64-linux-gnu-objcopy", "qemu-system-aarch64", "qemu-system-x86_64",
    "makeinfo", "dtc", "sh", "busybox",
]
RECIPE_PYTHON = ["elftools"]
RECIPE_LIBRARIES = [
    "libz.so", "libglib-2.0.so", "libpixman-1.so", "libfdt.so", "libslirp.so",
    "libpcre2-8.so", "libffi.so", "libssl.so", "libcrypto.so", "libpng16.so",
    "libjpeg.so", "libcurl.so", "libxml2.so", "libsqlite3.so", "libncurses.so",
    "libreadline.so", "libm.so",
]

# A package every Debian-family package list has; if apt-cache cannot show
# it, the lists are empty (no `apt-get update` yet) and (b) cannot judge.
SENTINEL = "bash"


@pytest.fixture(scope="module")
def sysdeps() -> dict:
    with MAP_PATH.open("rb") as f:
        return tomllib.load(f)


# ---------------------------------------------------------------- structure


def test_only_known_kinds(sysdeps):
    assert set(sysdeps) <= KINDS, f"unknown kinds: {sorted(set(sysdeps) - KINDS)}"
    assert set(sysdeps) == KINDS, f"missing kinds: {sorted(KINDS - set(sysdeps))}"


def test_entries_are_tables_with_apt_and_known_distros(sysdeps):
    problems = []
    for kind, entries in sysdeps.items():
        assert isinstance(entries, dict), f"[{kind}] is not a table"
        for name, entry in entries.items():
            where = f"{kind}.{name!r}"
            if not isinstance(entry, dict):
                problems.append(f"{where}: not a table")
                continue
            if "apt" not in entry:
                problems.append(f"{where}: no apt key")
            unknown = set(entry) - DISTROS
            if unknown:
                problems.append(f"{where}: unknown distro keys {sorted(unknown)}")
            for distro, value in entry.items():
                # a list only for cc: (a compiler and its C library)
                many = kind == "cc" and isinstance(value, list) and value
                for pkg in value if many else [value]:
                    if not isinstance(pkg, str) or not PKG_NAME.match(pkg):
                        problems.append(f"{where}.{distro}: bad package name {pkg!r}")
                    elif distro == "apt" and not DEB_NAME.match(pkg):
                        problems.append(f"{where}.apt: not a valid Debian name {pkg!r}")
    assert not problems, "\n".join(problems)


def test_library_keys_are_linker_names(sysdeps):
    bad = [n for n in sysdeps["library"] if not re.fullmatch(r"lib[A-Za-z0-9._+-]+\.so", n)]
    assert not bad, f"library keys must look like libNAME.so: {bad}"


def test_program_keys_are_plain_names(sysdeps):
    bad = [n for n in sysdeps["program"] if "/" in n or not n.strip() or n != n.strip()]
    assert not bad, f"program keys must be bare command names: {bad}"


def test_python_keys_are_module_names(sysdeps):
    from srcbuild.requirement import parse

    for name in sysdeps["python"]:
        parse(f"python:{name}")  # the names a python: requirement takes (import's)
    assert sysdeps["python"]["elftools"] == {
        "apt": "python3-pyelftools", "dnf": "python3-pyelftools", "apk": "py3-elftools",
        "pacman": "python-pyelftools"}


def test_a_submodule_falls_back_to_its_top_level_module():
    from srcbuild.requirement import parse
    from srcbuild.sysdeps import packages_for

    assert packages_for(parse("python:yaml.constructor"))["apt"] == "python3-yaml"
    assert packages_for(parse("python:srcbuild_no_such_module")) == {}


def test_a_cc_capability_installs_the_compiler_and_its_c_library():
    from srcbuild.requirement import parse
    from srcbuild.sysdeps import packages_for

    # without libc6-dev-arm64-cross, Debian's cross gcc cannot build a static program
    assert packages_for(parse("cc:aarch64-linux"))["apt"] == \
        "gcc-aarch64-linux-gnu libc6-dev-arm64-cross"


def test_coverage(sysdeps):
    assert len(sysdeps["pkgconfig"]) >= 100
    assert len(sysdeps["library"]) >= 30
    missing = (
        [f"pkgconfig.{n}" for n in RECIPE_PKGCONFIG if n not in sysdeps["pkgconfig"]]
        + [f"program.{n}" for n in RECIPE_PROGRAMS if n not in sysdeps["program"]]
        + [f"library.{n}" for n in RECIPE_LIBRARIES if n not in sysdeps["library"]]
        + [f"python.{n}" for n in RECIPE_PYTHON if n not in sysdeps["python"]]
    )
    assert not missing, f"requirements of srcbuild's recipes not in the map: {missing}"


# ------------------------------------------------------ Debian names exist


def _apt_names(sysdeps) -> list[str]:
    return sorted({name for entries in sysdeps.values() for e in entries.values()
                   for name in ([e["apt"]] if isinstance(e["apt"], str) else e["apt"])})


def _shown_packages(names: list[str]) -> set[str]:
    """Run ONE `apt-cache show` for all names; return the names it knows.

    apt-cache exits non-zero if any name is unknown or purely virtual, but
    still prints the records it found, so the exit code is not used.
    """
    proc = subprocess.run(
        ["apt-cache", "show", "--no-all-versions", *names], check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LC_ALL": "C"},
    )
    return set(re.findall(r"^Package: (\S+)$", proc.stdout, flags=re.MULTILINE))


def test_every_apt_name_is_a_real_debian_package(sysdeps):
    if shutil.which("apt-cache") is None:
        pytest.skip("apt-cache not found: cannot check the Debian package names")
    names = _apt_names(sysdeps)
    shown = _shown_packages(sorted(set(names) | {SENTINEL}))
    if SENTINEL not in shown:
        pytest.skip(
            f"apt package lists look empty (apt-cache does not know {SENTINEL!r}); "
            "run `apt-get update` to check the Debian package names"
        )
    unknown = [n for n in names if n not in shown]
    assert not unknown, (
        f"{len(unknown)} apt package(s) in {MAP_PATH.name} are unknown to "
        f"apt-cache (or purely virtual): {unknown}"
    )
