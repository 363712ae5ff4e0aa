"""Run one command (an argv list, or a shell string the recipe asked for) with a log file."""

from __future__ import annotations

import shlex
import subprocess
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from srcbuild.sessions import Sessions, SessionTracker
from srcbuild.templates import Command

__all__ = ["Result", "Sessions", "describe", "run"]


@dataclass(frozen=True)
class Result:
    returncode: int
    tail: str  # the last lines of the output, with the command first
    command: str  # what ran, as a shell would show it


def describe(command: Command) -> str:
    if isinstance(command, dict):
        return f"sh -c {shlex.quote(command['shell'])}"
    return shlex.join(command)


def run(command: Command, cwd: Path, env: Mapping[str, str], log: Path,
        on_line: Callable[[str], None] | None = None, tail_lines: int = 40,
        pass_fds: tuple[int, ...] = (), sessions: SessionTracker | None = None) -> Result:
    """Run ``command``, appending its output to ``log``; never through a shell unless asked.

    Once ``sessions`` is stopping (a signal), nothing new starts: exit status 130.
    """
    argv = ["/bin/sh", "-c", command["shell"]] if isinstance(command, dict) else list(command)
    shown = describe(command)
    tail: deque[str] = deque(maxlen=tail_lines)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8", errors="replace") as out:
        out.write(f"$ {shown}\n# in {cwd}\n")
        tail.append(f"$ {shown}")
        out.flush()
        if sessions is not None and sessions.stopping:
            out.write("# not started: srcbuild is stopping\n")
            return Result(130, "not started: srcbuild is stopping", shown)
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=dict(env), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    pass_fds=pass_fds, start_new_session=True)
        except OSError as e:
            msg = f"cannot start {argv[0]}: {e.strerror}"
            out.write(msg + "\n")
            return Result(127, msg, shown)
        assert proc.stdout is not None
        if sessions is not None:
            sessions.add(proc.pid)
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            out.write(line)
            tail.append(line.rstrip("\n"))
            if on_line is not None:
                on_line(line.rstrip("\n"))
        rc = proc.wait()
        if sessions is not None:
            sessions.discard(proc.pid)
        out.write(f"# exit status {rc}\n")
        tail.append(f"# exit status {rc}")
    return Result(rc, "\n".join(tail), shown)
