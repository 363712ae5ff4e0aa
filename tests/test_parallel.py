"""Independent packages build at the same time under one -j budget (a shared make jobserver)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pkgfactory import busy_pkg, make_prog, max_overlap, recipe

from srcbuild.scheduler import set_jobs, strip_jobs


def busy_recipes(tmp_path: Path, names: list[str], log: Path) -> Path:
    recipes = tmp_path / "recipes"
    for name in names:
        src = busy_pkg(tmp_path / "pkgs", name, log)
        recipe(recipes, name, f"""
            version = "1"
            [[source]]
            path = "{src}"
            [build]
            system = "make"
            configure = [["./configure"]]
            """)
    recipe(recipes, "all3", f"""
        kind = "group"
        requires = [{", ".join(f'"recipe:{n}"' for n in names)}]
        """)
    return recipes


def test_jobserver_never_runs_more_than_n_jobs(sb, tmp_path):
    log = tmp_path / "units.log"
    recipes = busy_recipes(tmp_path, ["p1", "p2", "p3"], log)
    sb("all3", "--recipes", str(recipes))  # the fixture passes -j 2
    lines = log.read_text().splitlines()
    assert len(lines) == 3 * 7 * 2  # every configure and compile unit started and ended
    assert max_overlap(log) == 2  # two at once (parallel), never three
    events = [json.loads(l) for l in (sb.cache / "runs" / "last").read_text().splitlines()]
    starts = {e["recipe"]: e["time"] for e in events if e["event"] == "package_start"}
    ends = {e["recipe"]: e["time"] for e in events if e["event"] == "package_end"}
    # at least two packages overlapped in time: independent packages did not wait in line
    assert any(starts[a] < ends[b] and starts[b] < ends[a]
               for a in starts for b in starts if a < b)


def test_serial_budget_is_respected(sb, tmp_path):
    log = tmp_path / "units.log"
    recipes = busy_recipes(tmp_path, ["q1", "q2"], log)
    cp = sb("all3", "--recipes", str(recipes), "-j", "1")
    assert max_overlap(log) == 1, cp.stderr


def test_failure_in_one_branch_lets_the_other_finish(sb, tmp_path):
    log = tmp_path / "units.log"
    recipes = busy_recipes(tmp_path, ["slow"], log)
    bad = make_prog(tmp_path / "pkgs", "bad", fail_build=True)
    recipe(recipes, "bad", f"""
        version = "1"
        [[source]]
        path = "{bad}"
        [build]
        system = "make"
        """)
    recipe(recipes, "after", """
        version = "1"
        requires = ["recipe:bad"]
        [[source]]
        path = "."
        [build]
        system = "custom"
        """)
    recipe(recipes, "both", """
        kind = "group"
        requires = ["recipe:slow", "recipe:after"]
        """)
    cp = sb("both", "--recipes", str(recipes), check=1)
    state = sb.prefix / ".srcbuild" / "packages"
    assert (state / "slow.json").exists()  # the running branch finished and was merged
    assert not (state / "bad.json").exists() and not (state / "after.json").exists()
    assert "not started because bad failed: after, both" in cp.stderr
    assert (sb.prefix / "share" / "slow" / "u0.o").exists()


@pytest.mark.parametrize("argv,stripped", [
    (["make", "-j2"], ["make"]),
    (["make", "-j", "4", "all"], ["make", "all"]),
    (["make", "--jobs=3", "V=1"], ["make", "V=1"]),
    (["make", "-f", "x.mk", "-j"], ["make", "-f", "x.mk"]),
])
def test_strip_jobs(argv, stripped):
    assert strip_jobs(argv) == stripped


def test_set_jobs():
    assert set_jobs(["meson", "compile", "-C", "b", "-j", "2"], 3) == [
        "meson", "compile", "-C", "b", "-j", "3"]
    assert set_jobs(["ninja", "-j2"], 1) == ["ninja", "-j1"]
    assert set_jobs(["cmake", "--build", "b", "-j", "2"], 2) == ["cmake", "--build", "b", "-j", "2"]


def test_jobserver_survives_a_non_blocking_pipe():
    """make 4.3 sets O_NONBLOCK on the shared pipe; taking a slot must still wait, not fail."""
    import fcntl
    import os
    import threading
    import time

    from srcbuild.scheduler import Jobserver

    js = Jobserver(2)
    flags = fcntl.fcntl(js.read_fd, fcntl.F_GETFL)
    fcntl.fcntl(js.read_fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    order = []
    held = []

    def third() -> None:
        cm = js.slot()
        cm.__enter__()
        held.append(cm)  # keep holding the token
        order.append("third")

    with js.slot():  # the implicit slot
        with js.slot():  # the one token
            t = threading.Thread(target=third)
            t.start()
            time.sleep(0.3)
            assert order == []  # waits for a token instead of raising BlockingIOError
        t.join(timeout=5)
    assert order == ["third"]
    with js.extra(5) as got:
        assert got == 0  # the third holder still has the only token
    held[0].__exit__(None, None, None)
    with js.extra(5) as got:
        assert got == 1
    js.close()


def test_ctrl_c_stops_running_steps_and_merges_nothing(sb, tmp_path):
    import signal
    import time

    pidfile = tmp_path / "step.pid"
    recipe(tmp_path / "r", "sleeper", f"""
        version = "1"
        [[source]]
        path = "."
        [build]
        system = "custom"
        build = [["sh", "-c", "echo $$ > {pidfile}; exec sleep 60"]]
        install = [["sh", "-c", "mkdir -p {{{{ stage }}}}/bin && touch {{{{ stage }}}}/bin/x"]]
        """)
    proc = sb.popen("sleeper", "--recipes", str(tmp_path / "r"), "--quiet")
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        time.sleep(0.1)
    step = int(pidfile.read_text())
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=30)[1]
    assert proc.returncode == 130, err  # 128 + SIGINT, as a shell reports it
    assert "interrupted by SIGINT" in err
    time.sleep(0.5)
    assert not Path(f"/proc/{step}").exists() or \
        Path(f"/proc/{step}/stat").read_text().split()[2] == "Z"  # the step is gone
    assert not (sb.prefix / "bin" / "x").exists()
    assert not (sb.prefix / ".srcbuild" / "packages" / "sleeper.json").exists()
