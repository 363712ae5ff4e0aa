"""Real upstream tarballs (Debian's .orig of zlib and libpng), built end to end."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


def debian_sources_available(cache: Path) -> str:
    """Why srcbuild itself cannot list Debian's zlib source, or ''. srcbuild's own path is
    asked (its private source index, made in the cache from the machine's deb lines), not the
    machine's apt configuration: a fresh machine without deb-src lines runs this test."""
    from srcbuild.errors import FetchError
    from srcbuild.fetch import SourceCache

    try:
        SourceCache(cache).debian_orig("zlib")
    except FetchError as e:
        return f"srcbuild cannot list Debian's zlib source (no network to the archive?): {e}"
    return ""


@pytest.mark.network
def test_libpng_links_the_prefix_zlib_built_from_source(sb):
    reason = debian_sources_available(sb.cache)
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
    # a second run is a no-op, and says why in words
    again = sb("libpng", "--from-source", "zlib", "--from-source", "libpng").stderr
    assert f"Nothing to do:\n  libpng: installed in {p} (1.6.39, built " in again
