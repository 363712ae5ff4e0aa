"""The phase logs of one package's build, for `srcbuild log`: those of the build that
produced what a prefix has installed (its state record names the run and the folder), or,
for a package a prefix does not have (a build that failed) or a run asked for by id, those a
run the cache keeps holds (runs.py: CACHE/logs/RUN/NAME/PHASE.log)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from srcbuild.kinds import EventKind
from srcbuild.report import read_events
from srcbuild.runs import events_path, list_runs, log_dir
from srcbuild.state import PrefixState

# the order a build writes its logs in (phases.py: patch.log during the fetch step)
PHASE_LOGS = ("patch", "configure", "build", "install", "check")


@dataclass(frozen=True)
class BuildLogs:
    name: str
    run: str  # '' for a record written before run ids
    folder: Path
    installed: bool  # the logs of the build that produced what the prefix has
    failed: str = ""  # the phase the build failed in, by the run's events ('' if none did)

    def files(self) -> list[Path]:
        """The folder's logs in phase order (others, if any, after them by name)."""
        try:
            found = {p.stem: p for p in self.folder.glob("*.log") if p.is_file()}
        except OSError:
            return []
        known = [found.pop(phase) for phase in PHASE_LOGS if phase in found]
        return known + [found[k] for k in sorted(found)]


def installed_logs(prefix: Path, name: str) -> BuildLogs | None:
    """What the state record of ``name`` in ``prefix`` names; None when it is not installed."""
    pkg = PrefixState(prefix).get(name)
    if pkg is None:
        return None
    return BuildLogs(name, pkg.run, Path(pkg.logs) if pkg.logs else Path(), True)


def runs_with_logs(cache_dir: Path, name: str) -> list[str]:
    """The kept runs that hold logs of ``name``, newest first."""
    return [r.run_id for r in reversed(list_runs(cache_dir))
            if log_dir(cache_dir, r.run_id, name).is_dir()]


def cached_logs(cache_dir: Path, name: str, run: str | None = None) -> BuildLogs | None:
    """The logs of ``name`` in ``run``, else in the newest run that has some; None if none."""
    runs = [run] if run else runs_with_logs(cache_dir, name)[:1]
    for run_id in runs:
        folder = log_dir(cache_dir, run_id, name)
        if folder.is_dir():
            return BuildLogs(name, run_id, folder, False, failed_phase(cache_dir, run_id, name))
    return None


def failed_phase(cache_dir: Path, run: str, name: str) -> str:
    """The phase in which ``name``'s build failed in ``run`` (its last step_end, not ok);
    '' when none did (it succeeded, or was interrupted) or the run's events are gone."""
    try:
        events = read_events(events_path(cache_dir, run))
    except (OSError, ValueError):
        return ""
    for e in reversed(events):
        if e["event"] == EventKind.STEP_END and e.get("recipe") == name:
            return "" if e.get("ok", True) else str(e.get("step", ""))
    return ""
