"""ccache and distcc around the compilers, through masquerade folders first on PATH.

A folder of symlinks named like the compilers (cc, gcc, g++, aarch64-linux-gnu-gcc, ...)
pointing at ccache or distcc works with every build system, including those that call
``cc`` by name; the wrapper finds the real compiler further down PATH. The build hash is
taken from the real compiler, so a wrapper never changes it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from srcbuild.errors import UsageError

NAMES = ("cc", "gcc", "c++", "g++", "cpp", "clang", "clang++")
CROSS = re.compile(r"^[\w.]+-linux-gnu\w*-(gcc|g\+\+)$")


def remote_slots(hosts: str) -> int:
    """Job slots that DISTCC_HOSTS offers away from this machine (host/N, default 4)."""
    total = 0
    for host in hosts.split():
        name = host.split("/")[0].split(",")[0]
        if name in ("localhost", "--randomize", "--localslots", "--localslots_cpp"):
            continue
        m = re.search(r"/(\d+)", host)
        total += int(m[1]) if m else 4
    return total


def _compilers_on_path(path: str) -> list[str]:
    names = set(NAMES)
    for d in path.split(":"):
        try:
            names.update(f for f in os.listdir(d) if CROSS.match(f))
        except OSError:
            pass
    return sorted(n for n in names if shutil.which(n, path=path))


def wrap(env: Mapping[str, str], cache_dir: Path, ccache: bool, distcc: str | None
         ) -> dict[str, str]:
    """The step environment with the wrappers first on PATH (unchanged when neither is on)."""
    out = dict(env)
    if not ccache and not distcc:
        return out
    tool = "ccache" if ccache else "distcc"
    exe = shutil.which(tool, path=env.get("PATH"))
    if exe is None:
        raise UsageError(f"--{tool} was given but {tool} is not installed.",
                         f"Install it (apt-get install {tool}) or drop --{tool}.")
    if distcc:
        if shutil.which("distcc", path=env.get("PATH")) is None:
            raise UsageError("--distcc was given but distcc is not installed.",
                             "Install it (apt-get install distcc) or drop --distcc.")
        out["DISTCC_HOSTS"] = distcc
        if ccache:
            out["CCACHE_PREFIX"] = "distcc"  # ccache first, distcc on a miss
    folder = cache_dir / "wrappers" / ("ccache+distcc" if ccache and distcc else tool)
    folder.mkdir(parents=True, exist_ok=True)
    for name in _compilers_on_path(env.get("PATH", "")):
        link = folder / name
        if not link.is_symlink():
            try:
                link.symlink_to(exe)
            except FileExistsError:
                pass
    out["PATH"] = f"{folder}:{env.get('PATH', '')}"
    if ccache:
        out.setdefault("CCACHE_DIR", str(cache_dir / "ccache"))
        # build folders carry the build hash in their path: hits across rebuilds need this
        out.setdefault("CCACHE_BASEDIR", str(cache_dir))
        out.setdefault("CCACHE_NOHASHDIR", "1")
    return out
