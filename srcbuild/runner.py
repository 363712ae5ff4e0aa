"""Run one command (an argv list, or a shell string the recipe asked for) with a log file."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from srcbuild.templates import Command


class Sessions:
    """The process groups of the commands running now. Each command is a session of its
    own, so that an interrupt can stop it with everything it started."""

    def __init__(self) -> None:
        self._pids: set[int] = set()
        self._lock = threading.Lock()
        self._stopping = False

    def add(self, pid: int) -> None:
        """Track a started command; after terminate_all it is stopped at once (it may have
        started while the others were being stopped)."""
        with self._lock:
            if not self._stopping:
                self._pids.add(pid)
                return
        _terminate(pid)

    def discard(self, pid: int) -> None:
        with self._lock:
            self._pids.discard(pid)

    def terminate_all(self) -> None:
        """SIGTERM every running command's process group (after Ctrl-C or a fatal error),
        and every one that starts from now on."""
        with self._lock:
            self._stopping = True
            pids = list(self._pids)
        for pid in pids:
            _terminate(pid)


def _terminate(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except OSError:
        pass


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
        pass_fds: tuple[int, ...] = (), sessions: Sessions | None = None) -> Result:
    """Run ``command``, appending its output to ``log``; never through a shell unless asked."""
    argv = ["/bin/sh", "-c", command["shell"]] if isinstance(command, dict) else list(command)
    shown = describe(command)
    tail: deque[str] = deque(maxlen=tail_lines)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8", errors="replace") as out:
        out.write(f"$ {shown}\n# in {cwd}\n")
        tail.append(f"$ {shown}")
        out.flush()
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
