"""The sessions of the commands a run starts, and how they are stopped.

Every command runs in a session of its own (``start_new_session``), so that a terminal's
Ctrl-C reaches only srcbuild, which then stops each command together with everything it
started. Stopping is SIGTERM to each session's process group, a grace period, SIGKILL, and a
wait until no process of the session is left (read from /proc, so that orphans reparented
to PID 1 count too).

A run also writes each session's pid and start time into its work folder (SessionLog): if
srcbuild itself is killed (kill -9), its commands survive it, and the next run that finds
the folder kills those that are still the same processes (same pid and start time) before
it reuses or removes the folder.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

GRACE = 3.0  # seconds between SIGTERM and SIGKILL
POLL = 0.05


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/PID/stat that say whose a process is."""

    pid: int
    state: str
    pgid: int
    sid: int
    start: int  # clock ticks after boot: with the pid, an identity that is never reused


def proc_stat(pid: int) -> ProcStat | None:
    """/proc/PID/stat, or None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    # the command name (field 2) is in parentheses and may hold spaces and ")"
    fields = text[text.rindex(")") + 2:].split()
    return ProcStat(pid, fields[0], int(fields[2]), int(fields[3]), int(fields[19]))


def session_members(sid: int) -> list[ProcStat]:
    """The live (not zombie) processes of session ``sid``."""
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            st = proc_stat(int(entry.name))
            if st is not None and st.sid == sid and st.state not in ("Z", "X"):
                out.append(st)
    return out


def _signal_members(members: list[ProcStat], sig: int) -> None:
    for st in members:
        try:
            os.kill(st.pid, sig)
        except OSError:
            pass


def stop_sessions(sids: list[int], grace: float = GRACE) -> None:
    """SIGTERM every process of these sessions, SIGKILL what is left after ``grace``, and
    return once none is left (or after a few more seconds: a process stuck in the kernel)."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        deadline = time.monotonic() + wait
        left = [m for sid in sids for m in session_members(sid)]
        _signal_members(left, sig)
        while left and time.monotonic() < deadline:
            time.sleep(POLL)
            left = [m for sid in sids for m in session_members(sid)]
        if not left:
            return


class SessionTracker(Protocol):
    """What runner.run tells about the commands it starts (Sessions, SessionLog)."""

    @property
    def stopping(self) -> bool: ...

    def add(self, pid: int) -> None: ...

    def discard(self, pid: int) -> None: ...


class Sessions:
    """The sessions of the commands running now (a command's pid is its session id)."""

    def __init__(self) -> None:
        self._pids: set[int] = set()
        self._lock = threading.Lock()
        self._stopping = False

    @property
    def stopping(self) -> bool:
        """True once stop() began: no command may start, no package may be merged."""
        return self._stopping

    def add(self, pid: int) -> None:
        """Track a started command; after stop() began it is stopped at once (it may have
        started while the others were being stopped)."""
        with self._lock:
            self._pids.add(pid)
            if not self._stopping:
                return
        stop_sessions([pid], grace=0)

    def discard(self, pid: int) -> None:
        with self._lock:
            self._pids.discard(pid)

    def stop(self, grace: float = GRACE) -> None:
        """Stop every running command (after a signal or a fatal error) and every one that
        starts from now on; wait until their processes are gone."""
        with self._lock:
            self._stopping = True
            pids = list(self._pids)
        stop_sessions(pids, grace)


class SessionLog:
    """Sessions that are also written down in a work folder's file, one ``PID START`` line
    each, for the run after a kill -9 (see kill_survivors)."""

    def __init__(self, sessions: Sessions, path: Path) -> None:
        self.sessions = sessions
        self.path = path

    @property
    def stopping(self) -> bool:
        return self.sessions.stopping

    def add(self, pid: int) -> None:
        st = proc_stat(pid)
        if st is not None:
            with open(self.path, "a", encoding="ascii") as f:
                f.write(f"{pid} {st.start}\n")
        self.sessions.add(pid)

    def discard(self, pid: int) -> None:
        self.sessions.discard(pid)


def kill_survivors(path: Path) -> list[int]:
    """Kill the processes of the sessions a SessionLog file lists that are still ours; the
    pids killed.

    A session is still ours when its leader has the recorded pid and start time, or, the
    leader gone, for its members that started after it (a session id stays taken while any
    member lives, so those cannot belong to a newer session of the same number).
    """
    try:
        lines = path.read_text(encoding="ascii").split("\n")
    except (OSError, ValueError):
        return []
    ours: list[int] = []
    for line in lines:
        try:
            pid, start = (int(x) for x in line.split())
        except ValueError:
            continue
        leader = proc_stat(pid)
        if leader is not None and leader.start != start:
            continue  # the pid now names another process: not ours
        members = [m for m in session_members(pid) if m.start >= start]
        if members:
            ours.append(pid)
            _signal_members(members, signal.SIGKILL)
    stop_sessions(ours, grace=0)
    return sorted(ours)
