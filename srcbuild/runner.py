"""Run one command (an argv list, or a shell string the recipe asked for) with a log file."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from srcbuild.recipe import Step

# process groups of the steps running now (each step is a session of its own, so that an
# interrupt can stop it with everything it started)
_RUNNING: set[int] = set()
_RUNNING_LOCK = threading.Lock()


def terminate_all() -> None:
    """SIGTERM every running step's process group (after Ctrl-C or a fatal error)."""
    with _RUNNING_LOCK:
        pids = list(_RUNNING)
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError:
            pass


@dataclass(frozen=True)
class Result:
    returncode: int
    seconds: float
    log: Path
    tail: str
    command: str  # what ran, as a shell would show it


def describe(step: Step) -> str:
    if isinstance(step, dict):
        return f"sh -c {shlex.quote(step['shell'])}"
    return shlex.join(step)


def run(step: Step, cwd: Path, env: Mapping[str, str], log: Path,
        on_line: Callable[[str], None] | None = None, tail_lines: int = 40,
        pass_fds: tuple[int, ...] = ()) -> Result:
    """Run ``step``, appending its output to ``log``; never through a shell unless asked."""
    argv = ["/bin/sh", "-c", step["shell"]] if isinstance(step, dict) else list(step)
    tail: deque[str] = deque(maxlen=tail_lines)
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with open(log, "a", encoding="utf-8", errors="replace") as out:
        out.write(f"$ {describe(step)}\n# in {cwd}\n")
        tail.append(f"$ {describe(step)}")
        out.flush()
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=dict(env), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    pass_fds=pass_fds, start_new_session=True)
        except OSError as e:
            msg = f"cannot start {argv[0]}: {e.strerror}"
            out.write(msg + "\n")
            return Result(127, time.monotonic() - start, log, msg, describe(step))
        assert proc.stdout is not None
        with _RUNNING_LOCK:
            _RUNNING.add(proc.pid)
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            out.write(line)
            tail.append(line.rstrip("\n"))
            if on_line is not None:
                on_line(line.rstrip("\n"))
        rc = proc.wait()
        with _RUNNING_LOCK:
            _RUNNING.discard(proc.pid)
        out.write(f"# exit status {rc}\n")
        tail.append(f"# exit status {rc}")
    return Result(rc, time.monotonic() - start, log, "\n".join(tail), describe(step))


