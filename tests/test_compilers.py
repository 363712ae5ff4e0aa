"""ccache hits on a rebuild; distcc really compiles on a distccd started by the test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from pkgfactory import recipe

from srcbuild.compilers import remote_slots


def many_files_pkg(root: Path, n: int = 6) -> Path:
    src = root / "multi-1"
    src.mkdir(parents=True)
    objs = " ".join(f"f{i}.o" for i in range(n))
    for i in range(n):
        (src / f"f{i}.c").write_text(f"int f{i}(int x) {{ return x * {i + 2}; }}\n")
    calls = " + ".join(f"f{i}(1)" for i in range(n))
    decls = "".join(f"int f{i}(int);" for i in range(n))
    (src / "main.c").write_text(f"#include <stdio.h>\n{decls}\n"
                                f"int main(void) {{ printf(\"%d\\n\", {calls}); return 0; }}\n")
    (src / "Makefile").write_text(
        f"PREFIX ?= /usr/local\nCC ?= cc\nall: multi\n"
        f"%.o: %.c\n\t$(CC) $(CFLAGS) -c $< -o $@\n"
        f"multi: main.o {objs}\n\t$(CC) -o $@ $^\n"
        f"install: multi\n\tmkdir -p $(DESTDIR)$(PREFIX)/bin\n\tcp multi $(DESTDIR)$(PREFIX)/bin/\n")
    return src


def multi_recipe(tmp_path: Path, extra: str = "") -> Path:
    src = tmp_path / "multi-1"
    if not src.exists():
        many_files_pkg(tmp_path)
    recipe(tmp_path / "r", "multi", f"""
        version = "1"
        check = ["multi"]
        [[source]]
        path = "{src}"
        [build]
        system = "make"
        make_args = [{extra}]
        """)
    return tmp_path / "r"


@pytest.mark.skipif(shutil.which("ccache") is None, reason="ccache is not installed "
                    "(.ci/run installs it)")
def test_ccache_hits_on_rebuild(sb, tmp_path):
    recipes = multi_recipe(tmp_path)
    sb("multi", "--recipes", str(recipes), "--ccache")
    # change the recipe (a new make variable): a rebuild, with the same compile commands
    multi_recipe(tmp_path, '"UNUSED=1"')
    out = sb("multi", "--recipes", str(recipes), "--ccache")
    assert "multi" in out.stderr and "built" in out.stderr
    stats = subprocess.run(["ccache", "--print-stats"], check=False, capture_output=True, text=True,
                           env={**os.environ, "CCACHE_DIR": str(sb.cache / "ccache")}).stdout
    values = dict(line.split("\t") for line in stats.splitlines() if "\t" in line)
    hits = int(values.get("direct_cache_hit", 0)) + int(values.get("preprocessed_cache_hit", 0))
    assert hits >= 7, stats  # main.c and the six f*.c
    assert subprocess.run([sb.prefix / "bin" / "multi"], check=False, capture_output=True,
                          text=True).stdout.strip() == str(sum(range(2, 8)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("distccd") is None or shutil.which("distcc") is None,
                    reason="distcc is not installed (.ci/run installs it)")
def test_distcc_compiles_remotely(sb, tmp_path):
    port = _free_port()
    # distccd started as root drops to an unprivileged user, which cannot enter pytest's
    # private temp folders: its log lives in a folder of its own
    logdir = Path(tempfile.mkdtemp(prefix="srcbuild-distccd-"))
    logdir.chmod(0o777)
    log = logdir / "distccd.log"
    log.touch()
    log.chmod(0o666)
    daemon = subprocess.Popen(
        ["distccd", "--no-detach", "--daemon", "--allow", "127.0.0.1", "--listen", "127.0.0.1",
         "--port", str(port), "--log-file", str(log), "--log-level", "info",
         "--enable-tcp-insecure", "--jobs", "2"])
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        recipes = multi_recipe(tmp_path)
        sb("multi", "--recipes", str(recipes), "--distcc", f"127.0.0.1:{port}/2",
           env={"DISTCC_LOG": str(tmp_path / "distcc-client.log"), "DISTCC_VERBOSE": "1",
                "DISTCC_FALLBACK": "0"})
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
    text = log.read_text()
    shutil.rmtree(logdir, ignore_errors=True)
    # distccd's own log: every compile it ran for us
    assert text.count("COMPILE_OK") >= 7, text[-2000:]
    assert subprocess.run([sb.prefix / "bin" / "multi"], check=False, capture_output=True,
                          text=True).stdout.strip() == str(sum(range(2, 8)))


def test_remote_slots():
    assert remote_slots("127.0.0.1:3632/4 build1/8 localhost/2") == 12
    assert remote_slots("farm1 farm2") == 8
