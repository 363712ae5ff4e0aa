"""The reporters of a run's events: rich live progress on a terminal, plain lines, or JSON.

Each reporter follows the run in a RunView (what is planned, running, finished, what the
checks said) and is closed at the end; closed by a signal (interrupts.py), it says which one
and what was stopped. Text from recipes and builds is shown with its control characters
escaped (safety.printable). rich is imported only when a terminal gets the live display.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from srcbuild.events import Event
from srcbuild.kinds import Action, EventKind, Status
from srcbuild.loglines import CheckLines, meaningful
from srcbuild.safety import printable

# what the last lines of a run stopped by a signal (interrupts.py) say stopped it
STOPPED_BY = {"SIGINT": "Interrupted (Ctrl-C)", "SIGTERM": "Terminated (SIGTERM)",
              "SIGHUP": "Hung up (SIGHUP: the terminal went away)"}


def fmt_seconds(s: float) -> str:
    """A duration for people: 2.35s, 12.3s, 3m04.5s."""
    if s < 10:
        return f"{s:.2f}s"
    return f"{s:.1f}s" if s < 60 else f"{int(s // 60)}m{s % 60:04.1f}s"


@dataclass
class Running:
    """A package being built: where it is and the last thing its commands said."""

    index: int
    start: float
    phase: str = "fetch"
    phase_start: float = 0.0
    line: str = ""


@dataclass
class RunView:
    """What a reporter knows of the run so far, from its events alone."""

    start: float = field(default_factory=time.time)
    prefix: str = ""
    targets: list[str] = field(default_factory=list)
    planned: list[dict[str, Any]] = field(default_factory=list)  # the plan's steps
    running: dict[str, Running] = field(default_factory=dict)
    ended: dict[str, tuple[str, float]] = field(default_factory=dict)  # status, seconds
    checks: dict[str, CheckLines] = field(default_factory=dict)

    @property
    def to_build(self) -> list[dict[str, Any]]:
        return [s for s in self.planned if s["action"] == Action.BUILD]

    def feed(self, event: Event) -> None:
        kind, name = event["event"], event.get("recipe", "")
        if kind == EventKind.PLAN:
            self.start = float(event["time"])
            self.prefix = str(event.get("prefix", ""))
            self.targets = list(event.get("targets", []))
            self.planned = list(event["steps"])
        elif kind == EventKind.PACKAGE_START:
            t = float(event["time"])
            self.running[name] = Running(event["index"], t, phase_start=t)
        elif kind == EventKind.STEP_START and name in self.running:
            self.running[name].phase = str(event["step"])
            self.running[name].phase_start = float(event["time"])
            self.running[name].line = ""
        elif kind in (EventKind.LINE, EventKind.FETCH_PROGRESS) and name in self.running:
            shown = meaningful(event["text"])
            if shown:
                self.running[name].line = shown
        elif kind == EventKind.CHECK_LINES:
            self.checks[name] = CheckLines(list(event.get("passed", [])),
                                           list(event.get("skipped", [])))
        elif kind == EventKind.PACKAGE_END:
            phase = self.running.pop(name, Running(0, 0.0)).phase
            status = f"interrupted in {phase}" if event.get("interrupted") else event["status"]
            self.ended[name] = (str(status), float(event["seconds"]))

    def status_of(self, name: str, status: str) -> str:
        """``built (1 skipped check)``: the status with what its check skipped."""
        note = self.checks[name].note() if name in self.checks else ""
        return f"{status} ({note})" if note else status

    def interrupted_rows(self, now: float) -> list[dict[str, Any]]:
        """Summary rows for a run stopped half-way: finished, stopped (in which phase), not
        started."""
        rows = []
        for step in self.to_build:
            name = step["recipe"]
            row = {"recipe": name, "version": step["version"]}
            if name in self.ended:
                row["status"], row["seconds"] = self.ended[name]
            elif name in self.running:
                r = self.running[name]
                row["status"] = f"interrupted in {r.phase}"
                row["seconds"] = now - r.start
            else:
                row["status"], row["seconds"] = Status.NOT_STARTED, 0.0
            rows.append(row)
        return rows


class Reporter(Protocol):
    """A listener of a run's events that is closed when the command ends (``interrupted``:
    the name of the signal that stopped it, SIGINT for Ctrl-C); after close it ignores
    events (threads still ending may send some)."""

    def __call__(self, event: Event) -> None: ...

    def close(self, interrupted: str = "") -> None: ...


class JsonReporter:
    """One JSON object per line on stdout: what a CI system parses."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.view = RunView()
        self.closed = False

    def __call__(self, event: Event) -> None:
        if self.closed:
            return
        self.view.feed(event)
        if event["event"] == EventKind.LINE:
            return
        self.out.write(json.dumps(event, sort_keys=True) + "\n")
        self.out.flush()

    def close(self, interrupted: str = "") -> None:
        if interrupted and not self.closed and self.view.planned:
            now = time.time()
            rows = self.view.interrupted_rows(now)
            for r in rows:
                r["seconds"] = round(r["seconds"], 3)
            self.out.write(json.dumps({"event": EventKind.SUMMARY, "time": round(now, 3),
                                       "ok": False, "interrupted": True,
                                       "signal": interrupted, "packages": rows},
                                      sort_keys=True) + "\n")
            self.out.flush()
        self.closed = True


class PlainReporter:
    """Plain progress lines, for CI logs and --quiet (which keeps only outcomes)."""

    def __init__(self, out: TextIO | None = None, quiet: bool = False) -> None:
        self.out = out or sys.stderr
        self.quiet = quiet
        self.view = RunView()
        self.closed = False
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        self.out.write(printable(text) + "\n")
        self.out.flush()

    def __call__(self, event: Event) -> None:
        with self._lock:
            if self.closed:
                return
            self.view.feed(event)
            self._show(event)

    def _show(self, event: Event) -> None:
        kind = event["event"]
        if kind == EventKind.PLAN:
            for w in event.get("warnings", []):
                self.say(f"warning: {w}")
            if not self.quiet:
                for s in event["steps"]:
                    self.say(f"  {s['action']:<9} {s['recipe']} {s['version']}: {s['reason']}")
        elif kind == EventKind.PACKAGE_START and not self.quiet:
            self.say(f"[{event['index']}/{event['total']}] {event['recipe']} {event['version']}")
        elif kind == EventKind.STEP_START and not self.quiet:
            self.say(f"    {event['recipe']}: {event['step']}")
        elif kind == EventKind.CACHE_HIT and not self.quiet:
            self.say(f"    {event['recipe']}: restored from the binary cache {event['where']}")
        elif kind == EventKind.PACKAGE_END:
            name = event["recipe"]
            self.say(f"  {name}: {self.view.status_of(name, self.view.ended[name][0])} in "
                     f"{fmt_seconds(event['seconds'])}")
        elif kind == EventKind.MESSAGE or (kind == EventKind.FETCH_PROGRESS and not self.quiet):
            self.say(event["text"])
        elif kind == EventKind.SUMMARY:
            text = summary_text(event, self.view)
            if text:
                self.say(text)

    def close(self, interrupted: str = "") -> None:
        with self._lock:
            if interrupted and not self.closed:
                self.say(interrupted_text(self.view, interrupted))
            self.closed = True


def _table(rows: list[dict[str, Any]], view: RunView | None) -> list[str]:
    """The summary table, its columns as wide as their widest cell."""
    def status(r: dict[str, Any]) -> str:
        return view.status_of(r["recipe"], r["status"]) if view else str(r["status"])

    cells = [("package", "version", "result", "time")] + [
        (r["recipe"], r["version"], status(r), fmt_seconds(r["seconds"])) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(3)]
    lines = []
    for i, c in enumerate(cells):
        lines.append("  ".join(f"{text:<{w}}" for text, w in zip(c[:3], widths))
                     + f"  {c[3]}")
        name = rows[i - 1]["recipe"] if i else ""
        if view is not None and name in view.checks:
            lines += [f"    {line}" for line in view.checks[name].lines()]
    return lines


def summary_text(event: Event, view: RunView | None = None) -> str:
    """The table of what this run built, with what each check passed and skipped; '' when
    it built nothing (the command then says why, target by target)."""
    rows = event.get("packages", [])
    if not rows:
        return "" if event.get("ok") else "Failed."
    lines = ["", *_table(rows, view)]
    lines += [f"warning: {w}" for w in event.get("warnings", [])]
    return "\n".join(lines)


def interrupted_text(view: RunView, signal_name: str = "SIGINT") -> str:
    """What a run stopped by a signal says last: which signal, then each package finished,
    stopped or not started."""
    now = time.time()
    rows = view.interrupted_rows(now)
    what = STOPPED_BY.get(signal_name, f"Stopped by {signal_name}")
    head = f"\n{what} after {fmt_seconds(now - view.start)}."
    if not rows:
        return head + " Nothing had started building."
    stopped = [r["recipe"] for r in rows if str(r["status"]).startswith("interrupted")]
    them = "it" if len(stopped) == 1 else "them"
    tail = [f"Stopped: {', '.join(stopped)}; nothing of {them} was merged."] if stopped else []
    where = f"The prefix {view.prefix}" if view.prefix else "The prefix"
    return "\n".join([head, *_table(rows, view), *tail,
                      f"{where} holds only the packages that finished."])


class RichReporter:
    """A live display on a terminal: [done/total] and the run's elapsed time, then per
    running package its phase, that phase's elapsed time and its last meaningful line.
    Finished packages, messages and the summary are printed above it, once."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        # highlight=False: rich would colour version numbers and paths as it guesses
        self.console = Console(stderr=True, highlight=False)
        self.view = RunView()
        self._shown: tuple[float, int, int, tuple[tuple[str, str, float, str], ...]] = (
            self.view.start, 0, 0, ())
        self.live = Live(console=self.console, refresh_per_second=4, transient=True,
                         get_renderable=self._render)
        self.started = False
        self.closed = False
        self._lock = threading.RLock()  # events come from build threads, close from main

    def _print(self, text: str, style: str = "") -> None:
        from rich.text import Text

        self.console.print(Text(printable(text), style=style))

    def _snapshot(self) -> None:
        """What the refresh thread draws, as one immutable value: it reads it without a
        lock (taking ours under rich's own would deadlock with a print under ours)."""
        v = self.view
        self._shown = (v.start, len(v.ended), len(v.to_build), tuple(
            (name, r.phase, r.phase_start, r.line) for name, r in v.running.items()))

    def _render(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        start, done, total, running = self._shown
        now = time.time()
        t = Table.grid(padding=(0, 1))
        t.add_row(Text(f"[{done}/{total}]", style="bold"),
                  Text(f"total {fmt_seconds(now - start)}"), Text(""), Text(""))
        for name, phase, since, line in running:
            width = max(self.console.width - len(name) - 30, 20)
            line = printable(line)  # escaped first, so that the cut counts what is shown
            if len(line) > width:
                line = "…" + line[-width + 1:]
            t.add_row(Text(f"  {name}"), Text(phase, style="cyan"),
                      Text(fmt_seconds(now - since)), Text(line, style="dim"))
        return t

    def __call__(self, event: Event) -> None:
        with self._lock:
            if self.closed:
                return
            self.view.feed(event)
            self._snapshot()
            self._show(event)

    def _show(self, event: Event) -> None:
        from rich.text import Text

        kind = event["event"]
        if kind == EventKind.PLAN:
            for w in event.get("warnings", []):
                self._print(f"warning: {w}", "yellow")
            for s in event["steps"]:
                color = {Action.BUILD: "yellow", Action.INSTALLED: "green",
                         Action.SKIP: "blue"}[s["action"]]
                self.console.print(Text.assemble(
                    "  ", (f"{s['action']:<9}", color),
                    printable(f" {s['recipe']} {s['version']}: {s['reason']}")))
        elif kind == EventKind.PACKAGE_START and not self.started:
            self.live.start()
            self.started = True
        elif kind == EventKind.PACKAGE_END:
            name, status = event["recipe"], self.view.ended[event["recipe"]][0]
            ok = status in (Status.BUILT, Status.RESTORED)
            self._print(f"  {name}: {self.view.status_of(name, status)} in "
                        f"{fmt_seconds(event['seconds'])}", "green" if ok else "red")
        elif kind == EventKind.MESSAGE:
            self._print(event["text"])
        elif kind == EventKind.FETCH_PROGRESS and not event.get("recipe"):
            self._print(event["text"])  # a fetch outside a package (srcbuild fetch)
        elif kind == EventKind.SUMMARY:
            self._stop()
            text = summary_text(event, self.view)
            if text:
                self._print(text)

    def _stop(self) -> None:
        if self.started:
            self.live.stop()  # transient: the live lines go; the cursor comes back
            self.started = False

    def close(self, interrupted: str = "") -> None:
        with self._lock:
            if self.closed:
                return
            self._stop()
            if interrupted:
                self._print(interrupted_text(self.view, interrupted))
            self.closed = True


def make_reporter(json_mode: bool, quiet: bool) -> Reporter:
    if json_mode:
        return JsonReporter()
    if not quiet and sys.stderr.isatty():
        return RichReporter()
    return PlainReporter(quiet=quiet)
