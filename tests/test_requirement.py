from __future__ import annotations

import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcbuild.requirement import Requirement, RequirementSyntaxError, parse, vercmp


@pytest.mark.parametrize("text,expected", [
    ("pkgconfig:zlib >= 1.2", Requirement("pkgconfig", "zlib", ">=", "1.2")),
    ("pkgconfig:glib-2.0>=2.56", Requirement("pkgconfig", "glib-2.0", ">=", "2.56")),
    ("program:make", Requirement("program", "make")),
    ("library:libz.so", Requirement("library", "libz.so")),
    ("recipe:qemu == 7.2", Requirement("recipe", "qemu", "=", "7.2")),
    ("program:aarch64-linux-gnu-gcc != 9", Requirement("program", "aarch64-linux-gnu-gcc", "!=", "9")),
    ("python:elftools >= 0.22", Requirement("python", "elftools", ">=", "0.22")),
    ("python:google.protobuf", Requirement("python", "google.protobuf")),
])
def test_parse(text, expected):
    assert parse(text) == expected
    assert parse(str(expected)) == expected


@pytest.mark.parametrize("text", ["zlib", "pkgconfig:", "ruby:rake", "pkgconfig:zlib >=",
                                  "pkgconfig:zlib ~> 1", "python:python-dateutil",
                                  "python:elftools/elf", "python:.elftools", "python:élf"])
def test_parse_rejects(text):
    with pytest.raises(RequirementSyntaxError):
        parse(text)


@pytest.mark.parametrize("a,b,c", [
    ("1.2.13", "1.2", 1), ("2.74.6", "2.56", 1), ("0.42.2", "0.21.8", 1), ("1.0", "1.0", 0),
    ("1.0a", "1.0", 1), ("1.0~rc1", "1.0", -1), ("10.42", "10.5", 1), ("1.6.1", "1.6.1", 0),
    ("4.7.0", "4.1.0", 1), ("1.0.0", "1.0", 1),
])
def test_vercmp_known(a, b, c):
    assert vercmp(a, b) == c
    assert vercmp(b, a) == -c


versions = st.lists(st.integers(0, 200), min_size=1, max_size=4).map(
    lambda xs: ".".join(map(str, xs)))


@given(versions, versions)
def test_vercmp_is_antisymmetric(a, b):
    assert vercmp(a, b) == -vercmp(b, a)


@given(versions, versions, versions)
def test_vercmp_is_transitive(a, b, c):
    if vercmp(a, b) <= 0 and vercmp(b, c) <= 0:
        assert vercmp(a, c) <= 0


@pytest.mark.parametrize("a,b", [("1.2.13", "1.2"), ("2.74.6", "2.56"), ("1.0", "1.0.0"),
                                 ("1.10", "1.9"), ("7.2", "7.2")])
def test_vercmp_matches_real_pkg_config(tmp_path, a, b):
    """Compare with the real pkg-config: a .pc at version a, asked for >= b."""
    (tmp_path / "v.pc").write_text(f"Name: v\nDescription: v\nVersion: {a}\n")
    ok = subprocess.run(["pkg-config", f"--atleast-version={b}", "v"], check=False,
                        env={"PKG_CONFIG_PATH": str(tmp_path), "PATH": "/usr/bin:/bin"}).returncode
    assert (ok == 0) == (vercmp(a, b) >= 0)
