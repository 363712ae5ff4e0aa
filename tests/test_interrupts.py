"""Issue 12, cases 10 and 15: a signal to srcbuild stops every running command (and all it
started) before srcbuild exits, and merges nothing; after a kill -9, the next run kills what
survived before it touches the work folder again, and sweeps partial files of killed runs."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pkgfactory import recipe


def session(sid: int) -> list[int]:
    """Live (not zombie) processes whose session is ``sid`` (read from /proc here, not with
    srcbuild's own helper)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[3]) == sid and fields[0] not in "ZX":
                out.append(int(entry.name))
    return out


def wait_for(path: Path, what: str) -> str:
    for _ in range(600):  # a loaded machine can take long to start the step
        if path.exists() and path.read_text().strip():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{what} never appeared at {path}")


def sleeper(tmp_path: Path, script: str) -> Path:
    """A package whose build runs ``script`` ({pids}, {marks}, {fast} filled in)."""
    (tmp_path / "marks").mkdir()
    text = script.format(pids=tmp_path / "pids", marks=tmp_path / "marks",
                         fast=tmp_path / "fast")
    recipe(tmp_path / "r", "sleeper", f"""
        version = "1"
        [[source]]
        path = "."
        [build]
        system = "custom"
        build = [{{shell = "{text}"}}]
        install = [["sh", "-c", "mkdir -p {{{{ stage }}}}/share && touch {{{{ stage }}}}/share/x"]]
        """)
    return tmp_path / "r"


@pytest.mark.parametrize("sig,trap", [
    (signal.SIGTERM, ""), (signal.SIGHUP, ""), (signal.SIGINT, ""),
    (signal.SIGTERM, "trap '' TERM; "),  # a step that ignores SIGTERM gets SIGKILL
])
def test_a_signal_stops_every_command_and_merges_nothing(sb, tmp_path, sig, trap):
    recipes = sleeper(tmp_path, trap + "echo $$ >> {pids}; sleep 20; touch {marks}/$$")
    proc = sb.popen("sleeper", "--recipes", str(recipes), "--quiet")
    try:
        step = int(wait_for(tmp_path / "pids", "the step's pid"))
        proc.send_signal(sig)
        err = proc.communicate(timeout=60)[1]
        assert proc.returncode == 128 + sig, err
        assert session(step) == []  # waited for: nothing of the step outlives srcbuild
        assert f"interrupted by {signal.Signals(sig).name}" in err, err
        assert not any((tmp_path / "marks").iterdir())
        assert not (sb.prefix / ".srcbuild/packages/sleeper.json").exists()
        assert not (sb.prefix / "share").exists()
    finally:
        proc.kill()
        for pid in session(int((tmp_path / "pids").read_text().split()[0])) \
                if (tmp_path / "pids").exists() else []:
            os.kill(pid, signal.SIGKILL)


def test_after_kill_9_the_next_run_kills_the_survivor_first(sb, tmp_path):
    """Case 10: srcbuild killed with -9 leaves its step running in its own session; the
    rerun kills it before it reuses the work folder (the survivor would have written its
    mark there later, into the folder the rerun builds in)."""
    recipes = sleeper(tmp_path, "echo $$ >> {pids}; test -e {fast} || sleep 30; "
                                "touch {marks}/$$")
    proc = sb.popen("sleeper", "--recipes", str(recipes), "--quiet")
    survivor = int(wait_for(tmp_path / "pids", "the step's pid"))
    try:
        for _ in range(600):  # srcbuild writes the session down right after starting it
            logs = list((sb.cache / "work").glob("sleeper-*/.srcbuild-sessions"))
            if logs and logs[0].read_text().startswith(f"{survivor} "):
                break
            time.sleep(0.05)
        proc.kill()
        proc.communicate(timeout=30)
        assert session(survivor), "the step should outlive srcbuild -9 (its own session)"
        (tmp_path / "fast").touch()
        cp = sb("sleeper", "--recipes", str(recipes), "--quiet")
        assert session(survivor) == []
        assert f"left by a killed run (stopped its leftover processes {survivor}" in cp.stderr, \
            cp.stderr
        marks = sorted(int(p.name) for p in (tmp_path / "marks").iterdir())
        assert survivor not in marks and len(marks) == 1  # only the rerun's step finished
        assert (sb.prefix / "share" / "x").exists()
    finally:
        for pid in session(survivor):
            os.kill(pid, signal.SIGKILL)


def test_partial_files_and_work_folders_of_killed_runs_are_swept(sb, tmp_path):
    """Case 15: temporaries and work folders of killed runs were never cleaned; only those
    whose owner is gone are (a live writer's stay)."""
    recipes = sleeper(tmp_path, "true")
    sources = sb.cache / "sources" / ("0" * 64)
    sources.mkdir(parents=True)
    dead = sources / ".part-abc123"
    dead.write_bytes(b"x" * 1000)
    alive = sources / ".part-live99"
    alive.write_bytes(b"y")
    bincache = tmp_path / "bincache"  # a folder binary cache given on the command line
    bincache.mkdir()
    dead_entry = bincache / ".part-entry42"
    dead_entry.write_bytes(b"z" * 1000)
    hold = (f"import fcntl, time\nf = open({str(alive)!r}, 'rb')\n"
            "fcntl.flock(f, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        stale = sb.cache / "work" / "gone-0123456789ab"
        (stale / "build").mkdir(parents=True)
        (stale / ".srcbuild-running").touch()
        kept = sb.cache / "work" / "failed-0123456789ab"  # ended cleanly: kept to inspect
        kept.mkdir()
        cp = sb("sleeper", "--recipes", str(recipes), "--quiet", "--binary-cache", str(bincache))
        assert not dead.exists() and alive.exists()
        assert not dead_entry.exists(), cp.stderr
        assert not stale.exists() and kept.exists()
        assert f"Removed {stale}, left by a killed run." in cp.stderr, cp.stderr
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_live_work_folder_is_respected(tmp_path):
    """A work folder whose lock a live run holds is neither swept nor claimed."""
    from srcbuild.errors import BuildError
    from srcbuild.workdirs import LOCK, RUNNING, claim, sweep_work

    folder = tmp_path / "work" / "busy-0123456789ab"
    folder.mkdir(parents=True)
    (folder / RUNNING).touch()
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             pass_fds=(fd,))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.close(fd)  # the child's copy of the fd keeps the lock
        assert sweep_work(tmp_path) == [] and folder.exists()
        with pytest.raises(BuildError, match="Another srcbuild run is building in"), \
                claim(folder):
            pass
    finally:
        child.kill()
        child.wait()
    assert sweep_work(tmp_path) == [(folder, [])]
