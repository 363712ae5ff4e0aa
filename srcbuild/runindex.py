"""What each run a cache keeps did, read back from its events (runs.py names the files):
into which prefix, for which targets, what it built and whether it ended well. For
`srcbuild report --list`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from srcbuild.kinds import EventKind, Status
from srcbuild.report import read_events
from srcbuild.runs import RunInfo, list_runs

DONE = (Status.BUILT, Status.RESTORED)


@dataclass
class RunSummary:
    info: RunInfo
    prefix: str = ""  # '' for a run that stopped before its plan
    targets: list[str] = field(default_factory=list)
    built: list[str] = field(default_factory=list)  # built or restored
    failed: list[str] = field(default_factory=list)
    ended: bool = False  # a summary event: the run was not stopped by a signal or killed
    ok: bool = False

    @property
    def outcome(self) -> str:
        """One phrase: what the run did."""
        if not self.prefix:
            return "stopped before its plan"
        if not self.built and not self.failed:
            return ("nothing to do" if self.ended and self.ok else
                    "built nothing" if self.ended else "stopped before building")
        parts = [f"{len(self.built)} built"] if self.built else []
        parts += [f"{len(self.failed)} failed"] if self.failed else []
        if not self.ended:
            parts.append("interrupted")
        return ", ".join(parts)


def summarize(info: RunInfo) -> RunSummary:
    """The run's summary from its events file (an unreadable one says nothing)."""
    out = RunSummary(info)
    try:
        events = read_events(info.events)
    except (OSError, ValueError):
        return out
    for e in events:
        kind = e["event"]
        if kind == EventKind.PLAN and not out.prefix:
            out.prefix = str(e.get("prefix", ""))
            out.targets = [str(t) for t in e.get("targets", [])]
        elif kind == EventKind.PACKAGE_END:
            (out.built if e.get("status") in DONE else out.failed).append(str(e["recipe"]))
        elif kind == EventKind.SUMMARY:
            out.ended, out.ok = True, bool(e.get("ok"))
    return out


def summaries(cache_dir: Path) -> list[RunSummary]:
    """Every kept run, oldest first."""
    return [summarize(info) for info in list_runs(cache_dir)]
