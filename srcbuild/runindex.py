"""What each run a cache keeps did, read back from its events (runs.py names the files):
into which prefix, for which targets, what it built and whether it ended well. For
`srcbuild report --list`, and for `srcbuild clean`, which prunes old runs but never one
that an install record of a prefix the cache has built into still points at."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from srcbuild.errors import SrcbuildError
from srcbuild.kinds import EventKind, Status
from srcbuild.report import read_events
from srcbuild.runs import (
    RunInfo,
    events_path,
    is_run_id,
    last_run,
    list_runs,
    report_page,
    run_logs,
)
from srcbuild.state import PrefixState
from srcbuild.workdirs import held

DONE = (Status.BUILT, Status.RESTORED)


@dataclass
class RunSummary:
    info: RunInfo
    prefix: str = ""  # '' for a run that stopped before its plan
    targets: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)  # packages it began to build
    built: list[str] = field(default_factory=list)  # built or restored
    failed: list[str] = field(default_factory=list)
    ended: bool = False  # a summary event: the run was not stopped by a signal or killed
    ok: bool = False
    running: bool = False  # its process still holds its events file (workdirs.held)

    @property
    def unfinished(self) -> list[str]:
        """Packages it began and did not finish: building now, or when it was killed."""
        return [n for n in self.started if n not in self.built and n not in self.failed]

    @property
    def outcome(self) -> str:
        """One phrase: what the run did (or is doing)."""
        if not self.prefix:
            return "running, before its plan" if self.running else "stopped before its plan"
        parts = [f"{len(self.built)} built"] if self.built else []
        parts += [f"{len(self.failed)} failed"] if self.failed else []
        busy = ", ".join(self.unfinished)
        if self.running and not self.ended:
            parts.append(f"building {busy} now" if busy else "running")
        elif not self.ended:
            parts.append(f"interrupted while building {busy}" if busy else
                         "interrupted" if parts else "stopped before building")
        elif not parts:
            parts.append("nothing to do" if self.ok else "built nothing")
        return ", ".join(parts)


def summarize(info: RunInfo) -> RunSummary:
    """The run's summary from its events file (an unreadable one says nothing). Whether it
    runs is asked first: a run that ends meanwhile has its summary event read, not taken
    for one that was killed."""
    out = RunSummary(info, running=held(info.events))
    try:
        events = read_events(info.events)
    except (OSError, ValueError):
        return out
    for e in events:
        kind = e["event"]
        if kind == EventKind.PLAN and not out.prefix:
            out.prefix = str(e.get("prefix", ""))
            out.targets = [str(t) for t in e.get("targets", [])]
        elif kind == EventKind.PACKAGE_START:
            out.started.append(str(e["recipe"]))
        elif kind == EventKind.PACKAGE_END:
            (out.built if e.get("status") in DONE else out.failed).append(str(e["recipe"]))
        elif kind == EventKind.SUMMARY:
            out.ended, out.ok = True, bool(e.get("ok"))
    return out


def summaries(cache_dir: Path) -> list[RunSummary]:
    """Every kept run, oldest first."""
    return [summarize(info) for info in list_runs(cache_dir)]


def in_use(runs: list[RunSummary], also: tuple[Path, ...] = ()
           ) -> tuple[dict[str, str], list[str]]:
    """The runs that an install record still points at (run id -> the package and prefix),
    and the prefixes whose records could not be read (why).

    The cache does not know every prefix, but each run's events name the prefix it built
    into; those (and ``also``, such as the default prefix) are read.
    """
    prefixes = {Path(r.prefix) for r in runs if r.prefix} | set(also)
    used: dict[str, str] = {}
    unreadable = []
    for prefix in sorted(prefixes):
        try:
            packages = PrefixState(prefix).packages()
        except SrcbuildError as e:  # a damaged record: which runs it points at is unknown
            unreadable.append(e.message)
            continue
        for pkg in packages.values():
            if pkg.run:
                used.setdefault(pkg.run, f"{pkg.name} in {prefix}")
    return used, unreadable


@dataclass(frozen=True)
class Prunable:
    info: RunInfo
    why: str


def prunable(cache_dir: Path, keep_days: float, also: tuple[Path, ...] = ()
             ) -> tuple[list[Prunable], dict[str, str]]:
    """The runs `srcbuild clean` removes: older than ``keep_days``, not the last that built
    something, not pointed at by an install record, not running. Also what keeps the
    others (run id -> why), for --dry-run to say. When a prefix's records cannot be read,
    no run is pruned."""
    runs = summaries(cache_dir)
    used, unreadable = in_use(runs, also)
    if unreadable:
        why = f"kept while a prefix's records cannot be read: {unreadable[0]}"
        return [], {r.info.run_id: why for r in runs}
    last = last_run(cache_dir)
    cutoff = time.time() - keep_days * 86400
    out, kept = [], {}
    for r in runs:
        rid = r.info.run_id
        if rid == last:
            kept[rid] = "the last run that built something"
        elif rid in used:
            kept[rid] = f"installed from it: {used[rid]}"
        elif r.info.started >= cutoff:
            kept[rid] = f"younger than {keep_days:g} days"
        elif r.running:
            kept[rid] = "still running"
        else:
            out.append(Prunable(r.info, f"{r.outcome}; older than {keep_days:g} days, and no "
                                        "install record points at it"))
    return out, kept


def remove_run(cache_dir: Path, run_id: str) -> None:
    """A run's logs, its report page and its events, last: a removal that is stopped
    leaves the run listed, for the next clean to finish."""
    shutil.rmtree(run_logs(cache_dir, run_id), ignore_errors=True)
    report_page(cache_dir, run_id).unlink(missing_ok=True)
    events_path(cache_dir, run_id).unlink(missing_ok=True)


def old_layout(cache_dir: Path, keep_days: float) -> list[Path]:
    """What srcbuild kept before run ids, older than ``keep_days``: CACHE/logs/NAME (one
    recipe's last logs, whatever prefix) and CACHE/runs/last.jsonl, report.html; no
    install record points at them."""
    cutoff = time.time() - keep_days * 86400
    logs = cache_dir / "logs"
    found = [p for p in (sorted(logs.iterdir()) if logs.is_dir() else [])
             if p.is_dir() and not is_run_id(p.name)]
    found += [cache_dir / "runs" / name for name in ("last.jsonl", "report.html")]
    out = []
    for p in found:
        try:
            if p.lstat().st_mtime < cutoff:
                out.append(p)
        except OSError:
            continue
    return out
