"""QEMU built by srcbuild and by the same commands typed by hand, on the same tarball, in
one run (about 15 minutes on 2 cores; run by hand, not in CI).

    .venv/bin/python bench/qemu_hand_vs_srcbuild.py [PREFIX]

PREFIX (default /opt/srcbuild-bench) first gets QEMU's dependencies from srcbuild (glib,
pixman, libslirp, dtc, meson, when the system lacks them), so both builds see the same
libraries. Then QEMU is built twice: by hand (extract, patch, configure in a build folder,
make -jN, make install DESTDIR=, copy) and with `srcbuild qemu`. ccache is disabled for both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOBS = os.cpu_count() or 1


def srcbuild(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "srcbuild", *args, "--quiet", "-j", str(JOBS)],
                   check=True, cwd=ROOT, env=env)


def main() -> None:
    prefix = Path(sys.argv[1] if len(sys.argv) > 1 else "/opt/srcbuild-bench")
    env = {**os.environ, "CCACHE_DISABLE": "1"}
    srcbuild("qemu", "--prefix", str(prefix), env=env)  # deps (and a first qemu)
    subprocess.run([sys.executable, "-m", "srcbuild", "uninstall", "qemu", "--prefix",
                    str(prefix)], check=True, cwd=ROOT, env=env)
    recipe = tomllib.loads((ROOT / "recipes" / "qemu.toml").read_text())
    tarball = next(p for s in recipe["source"] if "sha256" in s
                   for p in (ROOT / "cache" / "sources" / s["sha256"]).glob("*.tar.*"))
    targets = recipe["options"]["targets"]["default"]
    firmware = recipe["options"]["firmwarepath"]["default"]
    args = [a.replace("{{ options.targets }}", targets).replace("{{ prefix }}", str(prefix))
            .replace("{{ options.firmwarepath }}", firmware)
            for a in recipe["build"]["configure_args"]]
    hand_env = {**env, "PATH": f"{prefix}/bin:{env['PATH']}",
                "PKG_CONFIG_PATH": f"{prefix}/lib/pkgconfig",
                "LDFLAGS": f"-L{prefix}/lib -Wl,-rpath,{prefix}/lib"}
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        with tarfile.open(tarball) as tf:
            tf.extractall(work / "src", filter="tar")
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
        hand = time.perf_counter() - t0
    # like for like: srcbuild extracts the tarball again too (its extraction cache is cleared)
    sha = tarball.parent.name
    for tree in (ROOT / "cache" / "src").glob(f"{sha[:20]}*"):
        shutil.rmtree(tree)
    t0 = time.perf_counter()
    srcbuild("qemu", "--prefix", str(prefix), env=env)
    tool = time.perf_counter() - t0
    print(f"QEMU 7.2 ({targets}), -j{JOBS}: by hand {hand:.1f}s, srcbuild {tool:.1f}s, "
          f"ratio srcbuild/hand = {tool / hand:.3f}")


if __name__ == "__main__":
    main()
