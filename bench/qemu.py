"""QEMU 7.2, measured side by side in one run (about 25 minutes on 2 cores; run by hand):

1. by hand: extract, patch, configure in a build folder, make -jN, make install DESTDIR=,
   copy -- the commands an expert types, on the same tarball;
2. `srcbuild qemu` (cold), storing into a binary cache;
3. `srcbuild qemu` restored from that binary cache;
4. `srcbuild qemu --ccache` with an empty ccache, then 5. again with the warm ccache.

    .venv/bin/python bench/qemu.py [PREFIX]

PREFIX (default /opt/srcbuild-bench) first gets QEMU's dependencies from srcbuild, so every
build sees the same libraries; between measurements QEMU is uninstalled from it. ccache is
disabled except in 4 and 5 (meson would otherwise pick up an installed ccache by itself).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOBS = os.cpu_count() or 1


def srcbuild(*args: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "srcbuild", *args, "--quiet", "-j", str(JOBS)],
                   check=True, cwd=ROOT, env=env)
    return time.perf_counter() - t0


def uninstall(prefix: Path, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "srcbuild", "uninstall", "qemu", "--prefix",
                    str(prefix)], check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def clear_extraction(sha: str) -> None:
    """Like for like with the hand build: srcbuild extracts the tarball again too."""
    for tree in (ROOT / "cache" / "src").glob(f"{sha[:20]}*"):
        shutil.rmtree(tree)


def by_hand(prefix: Path, tarball: Path, recipe: dict, env: dict[str, str]) -> float:
    targets = recipe["options"]["targets"]["default"]
    args = [a.replace("{{ options.targets }}", targets).replace("{{ prefix }}", str(prefix))
            for a in recipe["build"]["configure_args"]]
    hand_env = {**env, "PATH": f"{prefix}/bin:{env['PATH']}",
                "PKG_CONFIG_PATH": f"{prefix}/lib/pkgconfig",
                "LDFLAGS": f"-L{prefix}/lib -Wl,-rpath,{prefix}/lib"}
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        (work / "src").mkdir()
        subprocess.run(["tar", "-xf", str(tarball), "-C", str(work / "src")], check=True)
        src = next((work / "src").iterdir())
        for patch in recipe.get("patches", []):
            subprocess.run(["patch", "-p1", "-i", str(ROOT / "recipes" / patch)], cwd=src,
                           check=True, stdout=subprocess.DEVNULL)
        build = work / "build"
        build.mkdir()
        for argv in ([str(src / "configure"), f"--prefix={prefix}", *args],
                     ["make", f"-j{JOBS}"],
                     ["make", "install", f"DESTDIR={work / 'stage'}"]):
            subprocess.run(argv, cwd=build, env=hand_env, check=True, stdout=subprocess.DEVNULL)
        shutil.copytree(Path(str(work / "stage") + str(prefix)), work / "installed",
                        symlinks=True)
        return time.perf_counter() - t0


def main() -> None:
    prefix = Path(sys.argv[1] if len(sys.argv) > 1 else "/opt/srcbuild-bench")
    env = {**os.environ, "CCACHE_DISABLE": "1"}
    srcbuild("qemu", "--prefix", str(prefix), env=env)  # the dependencies (and one qemu)
    uninstall(prefix, env)
    recipe = tomllib.loads((ROOT / "recipes" / "qemu.toml").read_text())
    tarball = next(p for s in recipe["source"] if "sha256" in s
                   for p in (ROOT / "cache" / "sources" / s["sha256"]).glob("*.tar.*"))
    sha = tarball.parent.name
    rows = {}
    rows["by hand"] = by_hand(prefix, tarball, recipe, env)
    clear_extraction(sha)
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        bincache = Path(tmp) / "bincache"
        rows["srcbuild (cold)"] = srcbuild("qemu", "--prefix", str(prefix), "--binary-cache",
                                           str(bincache), env=env)
        uninstall(prefix, env)
        rows["srcbuild (binary cache)"] = srcbuild("qemu", "--prefix", str(prefix),
                                                   "--binary-cache", str(bincache), env=env)
        uninstall(prefix, env)
        ccache_env = {**os.environ, "CCACHE_DIR": str(Path(tmp) / "ccache")}
        ccache_env.pop("CCACHE_DISABLE", None)
        rows["srcbuild --ccache (cold)"] = srcbuild("qemu", "--prefix", str(prefix),
                                                    "--ccache", env=ccache_env)
        uninstall(prefix, env)
        rows["srcbuild --ccache (warm)"] = srcbuild("qemu", "--prefix", str(prefix),
                                                    "--ccache", env=ccache_env)
    for name, seconds in rows.items():
        print(f"{name:<26} {seconds:8.1f}s")
    hand, cold = rows["by hand"], rows["srcbuild (cold)"]
    print(f"srcbuild / by hand: {cold / hand:.3f}")
    print(f"cold build / binary-cache restore: {cold / rows['srcbuild (binary cache)']:.0f}x")
    print(f"--ccache cold / warm: "
          f"{rows['srcbuild --ccache (cold)'] / rows['srcbuild --ccache (warm)']:.1f}x")


if __name__ == "__main__":
    main()
