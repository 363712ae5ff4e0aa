"""Runs: each install has a run id, its own events file and its own log folder, so runs
sharing a cache (two prefixes, or a run after an interrupted one) never mix or overwrite
each other's.

    CACHE/runs/RUN.jsonl          the run's events (one JSON object a line)
    CACHE/runs/RUN.html           its timeline, once `srcbuild report` (or install) wrote it
    CACHE/runs/last -> RUN.jsonl  the last run that started building something
    CACHE/logs/RUN/NAME/PHASE.log the phase logs of package NAME in that run

A run id is ``YYYYMMDD-HHMMSS-PID`` in UTC: sortable by start time, unique on a machine
(two runs of one second have different pids). A run that builds nothing (a no-op, or one
stopped by a recipe error before its plan) keeps its events file but does not become
``last``. Each package's state record names its run and log folder (Installed.run, .logs).
"""

from __future__ import annotations

import json
import os
import re
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from srcbuild.events import Event, FileRecorder
from srcbuild.kinds import EventKind
from srcbuild.safety import is_valid_name
from srcbuild.state import PrefixState
from srcbuild.workdirs import owned_temp

RUN_ID = re.compile(r"\d{8}-\d{6}-\d+")
LAST = "last"


def new_run_id(now: float | None = None, pid: int | None = None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{os.getpid() if pid is None else pid}"


def is_run_id(text: str) -> bool:
    return RUN_ID.fullmatch(text) is not None


def runs_dir(cache_dir: Path) -> Path:
    return cache_dir / "runs"


def events_path(cache_dir: Path, run_id: str) -> Path:
    """CACHE/runs/RUN.jsonl."""
    if not is_run_id(run_id):
        raise ValueError(f"not a run id: {run_id!r}")
    return runs_dir(cache_dir) / f"{run_id}.jsonl"


def report_page(cache_dir: Path, run_id: str) -> Path:
    """CACHE/runs/RUN.html: the run's timeline, as `srcbuild report` writes it."""
    return events_path(cache_dir, run_id).with_suffix(".html")


def run_logs(cache_dir: Path, run_id: str) -> Path:
    """CACHE/logs/RUN: the logs of one run, a folder per package."""
    if not is_run_id(run_id):
        raise ValueError(f"not a run id: {run_id!r}")
    return cache_dir / "logs" / run_id


def log_dir(cache_dir: Path, run_id: str, name: str) -> Path:
    """CACHE/logs/RUN/NAME: the phase logs of one package in one run."""
    if not is_valid_name(name):
        raise ValueError(f"not a recipe name: {name!r}")
    return run_logs(cache_dir, run_id) / name


def last_run(cache_dir: Path) -> str | None:
    """The id of the last run that built something, or None."""
    try:
        target = os.readlink(runs_dir(cache_dir) / LAST)
    except OSError:
        return None
    run_id = Path(target).name.removesuffix(".jsonl")
    return run_id if is_run_id(run_id) else None


def set_last(cache_dir: Path, run_id: str) -> None:
    """Point CACHE/runs/last at this run's events (a new link renamed over the old one)."""
    folder = runs_dir(cache_dir)
    tmp = folder / f".{LAST}.{run_id}"
    tmp.unlink(missing_ok=True)
    os.symlink(f"{run_id}.jsonl", tmp)
    os.replace(tmp, folder / LAST)


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    events: Path  # CACHE/runs/RUN.jsonl
    logs: Path  # CACHE/logs/RUN (absent when the run built nothing)
    last: bool  # CACHE/runs/last points at it

    @property
    def started(self) -> float:
        """The start time (UTC seconds) the id encodes."""
        import calendar

        return float(calendar.timegm(time.strptime(self.run_id.rsplit("-", 1)[0],
                                                   "%Y%m%d-%H%M%S")))


def list_runs(cache_dir: Path) -> list[RunInfo]:
    """Every run whose events the cache keeps, oldest first."""
    folder = runs_dir(cache_dir)
    last = last_run(cache_dir)
    ids = sorted((p.name.removesuffix(".jsonl") for p in folder.glob("*.jsonl")
                  if is_run_id(p.name.removesuffix(".jsonl"))),
                 key=lambda r: (r.rsplit("-", 1)[0], int(r.rsplit("-", 1)[1])))
    return [RunInfo(r, folder / f"{r}.jsonl", run_logs(cache_dir, r), r == last) for r in ids]


def package_logs(prefix: Path, name: str) -> Path | None:
    """The log folder of the build that produced what is installed of ``name`` in the
    prefix (its state record says), or None (not installed, or recorded before run ids)."""
    pkg = PrefixState(prefix).get(name)
    return Path(pkg.logs) if pkg is not None and pkg.logs else None


class Recorder(FileRecorder):
    """Writes a run's events (but log lines) to CACHE/runs/RUN.jsonl as they happen, and
    makes the run ``last`` when its first package starts; a context manager.

    The events file is locked from the moment it exists until the run ends, however it
    ends (workdirs.held): `srcbuild clean` never prunes a run that is still going.
    """

    def __init__(self, cache_dir: Path, run_id: str) -> None:
        super().__init__(events_path(cache_dir, run_id))
        self.cache_dir = cache_dir
        self.run_id = run_id
        self.started = False
        self._owner = ExitStack()

    def __enter__(self) -> Self:
        folder = runs_dir(self.cache_dir)
        folder.mkdir(parents=True, exist_ok=True)
        # created locked under a temporary name, then renamed: never there and free
        temp = self._owner.enter_context(owned_temp(folder, self.run_id))
        temp.chmod(0o644)
        os.replace(temp, self.path)
        return super().__enter__()  # opens the same file: the lock stays with it

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            super().__exit__(kind, value, tb)
        finally:
            self._owner.close()

    def __call__(self, event: Event) -> None:
        super().__call__(event)
        if event["event"] == EventKind.PACKAGE_START and not self.started:
            self.started = True
            set_last(self.cache_dir, self.run_id)


def last_build_seconds(cache_dir: Path, names: set[str], limit: int = 50) -> dict[str, float]:
    """How long each of ``names`` took when it was last built (a ``package_end`` with status
    built in the newest of the last ``limit`` runs that built it): what `plan` shows beside a
    long build (the cross toolchain's GCC takes tens of minutes)."""
    out: dict[str, float] = {}
    for run in reversed(list_runs(cache_dir)[-limit:]):
        wanted = names - out.keys()
        if not wanted:
            break
        try:
            lines = run.events.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in reversed(lines):
            if '"package_end"' not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            name = event.get("recipe")
            if (name in wanted and event.get("status") == "built"
                    and isinstance(event.get("seconds"), (int, float))):
                out[name] = float(event["seconds"])
                wanted.discard(name)
    return out
