"""The reporters of a run's events: rich live progress on a terminal, plain lines, or JSON.

rich is imported only when a terminal gets the live display.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from srcbuild.events import Event, Listener
from srcbuild.kinds import Action, EventKind, Status
from srcbuild.safety import printable


class JsonReporter:
    """One JSON object per line on stdout: what a CI system parses."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def __call__(self, event: Event) -> None:
        if event["event"] == EventKind.LINE:
            return
        self.out.write(json.dumps(event, sort_keys=True) + "\n")
        self.out.flush()


def fmt_seconds(s: float) -> str:
    """A duration for people: 2.35s, 12.3s, 3m04.5s."""
    if s < 10:
        return f"{s:.2f}s"
    return f"{s:.1f}s" if s < 60 else f"{int(s // 60)}m{s % 60:04.1f}s"


class PlainReporter:
    """Plain progress lines, for CI logs and --quiet (which keeps only outcomes)."""

    def __init__(self, out: TextIO | None = None, quiet: bool = False) -> None:
        self.out = out or sys.stderr
        self.quiet = quiet
        self.total = 0

    def say(self, text: str) -> None:
        self.out.write(printable(text) + "\n")
        self.out.flush()

    def __call__(self, event: Event) -> None:
        kind = event["event"]
        if kind == EventKind.PLAN:
            self.total = sum(1 for s in event["steps"] if s["action"] == Action.BUILD)
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
            self.say(f"  {event['recipe']}: {event['status']} in "
                     f"{fmt_seconds(event['seconds'])}")
        elif kind == EventKind.MESSAGE or (kind == EventKind.FETCH_PROGRESS and not self.quiet):
            self.say(event["text"])
        elif kind == EventKind.SUMMARY:
            self.say(summary_text(event))


def summary_text(event: Event) -> str:
    rows = event.get("packages", [])
    if not rows:
        return "Nothing to do: everything is installed." if event.get("ok") else "Failed."
    width = max(len(r["recipe"]) for r in rows)
    lines = ["", f"{'package':<{width}}  {'version':<12} {'result':<10} time"]
    for r in rows:
        lines.append(f"{r['recipe']:<{width}}  {r['version']:<12} {r['status']:<10} "
                     f"{fmt_seconds(r['seconds'])}")
    for w in event.get("warnings", []):
        lines.append(f"warning: {w}")
    return "\n".join(lines)


class RichReporter:
    """A live display on a terminal: package i/N, step, elapsed, last log line."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self.live = Live(console=self.console, refresh_per_second=8, transient=True)
        self.running: dict[str, dict[str, Any]] = {}
        self.total = 0
        self.started = False

    def _table(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        t = Table.grid(padding=(0, 1))
        now = time.time()
        for name, r in self.running.items():
            t.add_row(f"[bold][{r['index']}/{r['total']}][/] {name}",
                      f"[cyan]{r.get('step', 'fetch')}[/]",
                      fmt_seconds(now - r["start"]),
                      Text(printable(r.get("line") or "")[-80:]))
        return t

    def __call__(self, event: Event) -> None:
        from rich.text import Text  # plain text: build output may hold [markup] and escapes

        kind = event["event"]
        if kind == EventKind.PLAN:
            for w in event.get("warnings", []):
                self.console.print(Text("warning: ", style="yellow") + Text(printable(w)))
            for s in event["steps"]:
                color = {Action.BUILD: "yellow", Action.INSTALLED: "green",
                         Action.SKIP: "blue"}[s["action"]]
                self.console.print(Text(f"  {s['action']:<9}", style=color) + Text(printable(
                    f" {s['recipe']} {s['version']}: {s['reason']}")))
        elif kind == EventKind.PACKAGE_START:
            if not self.started:
                self.live.start()
                self.started = True
            self.running[event["recipe"]] = {"index": event["index"], "total": event["total"],
                                             "start": event["time"]}
        elif kind == EventKind.STEP_START:
            r = self.running.get(event["recipe"])
            if r:
                r["step"] = event["step"]
        elif kind == EventKind.LINE:
            r = self.running.get(event["recipe"])
            if r:
                r["line"] = event["text"]
        elif kind == EventKind.PACKAGE_END:
            self.running.pop(event["recipe"], None)
            color = "green" if event["status"] in (Status.BUILT, Status.RESTORED) else "red"
            self.console.print(f"  [{color}]{event['status']}[/] {event['recipe']} in "
                               f"{fmt_seconds(event['seconds'])}")
        elif kind in (EventKind.MESSAGE, EventKind.FETCH_PROGRESS):
            self.console.print(Text(printable(event["text"])))
        elif kind == EventKind.SUMMARY:
            if self.started:
                self.live.stop()
            self.console.print(Text(printable(summary_text(event))))
            return
        if self.started:
            self.live.update(self._table())


def make_reporter(json_mode: bool, quiet: bool) -> Listener:
    if json_mode:
        return JsonReporter()
    if not quiet and sys.stderr.isatty():
        return RichReporter()
    return PlainReporter(quiet=quiet)


