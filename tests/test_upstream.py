"""Real upstream tarballs (Debian's .orig of zlib and libpng), built end to end."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def debian_sources_available() -> str:
    if shutil.which("apt-get") is None:
        return "apt-get is not installed"
    cp = subprocess.run(["apt-get", "source", "--print-uris", "-qq", "zlib"], check=False,
                        capture_output=True, text=True)
    if ".orig.tar." not in cp.stdout:
        return ("apt-get source --print-uris zlib lists no .orig tarball: add a deb-src line "
                "and run apt-get update (.ci/run does)")
    return ""


@pytest.mark.network
def test_libpng_links_the_prefix_zlib_built_from_source(sb):
    reason = debian_sources_available()
    if reason:
        pytest.skip(reason)
    sb("libpng", "--from-source", "zlib", "--from-source", "libpng")
    p = sb.prefix.resolve()
    env = {**os.environ, "PKG_CONFIG_PATH": f"{p}/lib/pkgconfig"}
    env.pop("LD_LIBRARY_PATH", None)
    out = subprocess.run(["pkg-config", "--modversion", "libpng16"], check=False, env=env,
                         capture_output=True, text=True)
    assert out.stdout.strip() == "1.6.39"
    # libpng finds zlib with AC_CHECK_LIB; it must still link the prefix's copy, via rpath
    ldd = subprocess.run(["ldd", str(p / "bin" / "pngfix")], check=False, env=env, capture_output=True,
                         text=True).stdout
    assert f"libz.so.1 => {p}/lib/libz.so.1" in ldd, ldd
    assert f"libpng16.so.16 => {p}/lib/libpng16.so.16" in ldd, ldd
    state = (p / ".srcbuild" / "packages" / "libpng.json").read_text()
    assert '"sha256": "a00e9d2f2f664186e4202db9299397f851aea71b36a35e74910b8820e380d441"' in state
    # a second run is a no-op
    assert "Nothing to do" in sb("libpng", "--from-source", "zlib", "--from-source",
                                 "libpng").stderr
