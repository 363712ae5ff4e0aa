"""python-pkgconfig for the pkg-config probe and sh for the runner, against what srcbuild does
(README "Design choices"). Needs both, which srcbuild itself does not:

    .venv/bin/pip install pkgconfig sh && .venv/bin/python bench/pkgconfig_and_sh.py [PREFIX]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

import sh
from pkgconfig.pkgconfig import _compare_versions

from srcbuild import runner
from srcbuild.requirement import vercmp
from srcbuild.scheduler import Jobserver

DRIVER = """
import os, sys
import pkgconfig
from srcbuild import api, cli
from srcbuild.probes import Found, SystemProbe

class PkgconfigProbe(SystemProbe):
    def pkgconfig(self, name, want_version=True):
        pc = self.find_pc(name)  # python-pkgconfig cannot say which .pc answered
        if pc is None:
            return None
        # it reads the search path from os.environ only
        os.environ["PKG_CONFIG_PATH"] = self.pkg_config_env()["PKG_CONFIG_PATH"]
        if not pkgconfig.exists(name):
            return None
        return Found(pkgconfig.modversion(name) or None, pc, self._under_prefix(pc))

if sys.argv[1] == "pkgconfig":
    api.SystemProbe = PkgconfigProbe
sys.exit(cli.main(sys.argv[2:]))
"""


def versions() -> None:
    print("version comparison: pkg-config / srcbuild.vercmp / python-pkgconfig")
    for a, b in (("1.2.13", "1.2"), ("1.0~rc1", "1.0"), ("1.0.0", "1.0"), ("1.0-rc1", "1.0")):
        with tempfile.TemporaryDirectory() as d:
            Path(d, "v.pc").write_text(f"Name: v\nDescription: v\nVersion: {a}\n")
            env = {"PKG_CONFIG_PATH": d, "PATH": "/usr/bin:/bin"}
            eq = subprocess.run(["pkg-config", f"--exact-version={b}", "v"], env=env,
                                check=False).returncode == 0
            ge = subprocess.run(["pkg-config", f"--atleast-version={b}", "v"], env=env,
                                check=False).returncode == 0
        real = 0 if eq else (1 if ge else -1)
        print(f"  {a:>8} vs {b:<4} {real:+d} / {vercmp(a, b):+d} / {_compare_versions(a, b):+d}")


def probe_runs(prefix: str) -> None:
    print("wall and CPU (user+sys of the process tree), medians of 10, alternating:")
    for args in (["doctor", "qemu"], ["plan", "lab-x86"]):
        times: dict[str, list[tuple[float, float]]] = {"subprocess": [], "pkgconfig": []}
        for _ in range(10):
            for way, runs in times.items():
                before = os.times()
                t = time.perf_counter()
                subprocess.run([sys.executable, "-c", DRIVER, way, *args, "--prefix", prefix],
                               check=False, capture_output=True)
                after = os.times()
                cpu = (after.children_user - before.children_user
                       + after.children_system - before.children_system)
                runs.append((time.perf_counter() - t, cpu))
        for way, runs in times.items():
            print(f"  {' '.join(args):14} {way:10} wall {statistics.median(r[0] for r in runs):.3f}s"
                  f"  cpu {statistics.median(r[1] for r in runs):.3f}s")


def run_sh(command: list[str], cwd: Path, log: Path, pass_fds: tuple[int, ...] = ()
           ) -> runner.Result:
    """srcbuild.runner.run's contract through sh."""
    tail: deque[str] = deque(maxlen=40)
    with open(log, "a", encoding="utf-8", errors="replace") as out:
        def line(text: str) -> None:
            out.write(text)
            tail.append(text.rstrip("\n"))
        proc = sh.Command(command[0])(*command[1:], _cwd=str(cwd), _env=dict(os.environ),
                                      _out=line, _err_to_out=True, _tty_out=False,
                                      _new_session=True, _pass_fds=set(pass_fds),
                                      _ok_code=list(range(256)), _return_cmd=True)
    return runner.Result(proc.exit_code, "\n".join(tail), runner.describe(command))


def runners() -> None:
    d = Path(tempfile.mkdtemp())
    ways = {"subprocess": lambda c, log, fds=(): runner.run(c, d, dict(os.environ), log,
                                                            on_line=lambda s: None,
                                                            pass_fds=fds),
            "sh": lambda c, log, fds=(): run_sh(c, d, log, fds)}
    print("runner: median wall per command, srcbuild's own CPU per command")
    for label, command, n in (("true", ["true"], 40), ("seq 200000", ["seq", "200000"], 5)):
        for way, fn in ways.items():
            walls = []
            c0 = time.process_time()
            for _ in range(n):
                t = time.perf_counter()
                fn(command, d / "log")
                walls.append(time.perf_counter() - t)
            cpu = (time.process_time() - c0) / n
            print(f"  {label:10} {way:10} wall {statistics.median(walls) * 1000:7.1f} ms"
                  f"  cpu {cpu * 1000:6.1f} ms")
    js = Jobserver(2)
    for way, fn in ways.items():
        r = fn(["sh", "-c", "ls /proc/self/fd | tr '\\n' ' '"], d / f"{way}.log", js.fds)
        output = [x for x in r.tail.splitlines() if not x.startswith(("$ ", "# "))]
        seen = output[-1].split() if output else []
        print(f"  the jobserver's fds {js.fds} reach the command through {way}: "
              f"{all(str(f) in seen for f in js.fds)}")


if __name__ == "__main__":
    versions()
    runners()
    probe_runs(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
