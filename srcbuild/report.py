"""`srcbuild report`: a run (the last: CACHE/runs/last) as a self-contained HTML timeline.

One row per package, one bar per step placed by wall-clock time, so packages that ran at
the same time simply overlap in time on their own rows.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srcbuild.events import Event
from srcbuild.kinds import Action, EventKind, Phase, Status
from srcbuild.ui import fmt_seconds

if TYPE_CHECKING:
    import jinja2

# the page's markup is the template data/report.html.j2 (Jinja2, autoescaped)
STEP_COLOURS: dict[str, str] = {Phase.FETCH: "#8da0cb", Phase.CONFIGURE: "#a07cc5", Phase.BUILD: "#f0a030",
                Phase.TEST: "#e377c2", Phase.INSTALL: "#3aa6a0", Phase.AUDIT: "#e07b91",
                Phase.CHECK: "#7fbf5a", Phase.MERGE: "#9a9a9a"}
OTHER_COLOUR = "#c8c8c8"
FAILED_COLOUR = "#d62728"


@dataclass
class Bar:
    """One step of one package: when it started and ended, and whether it passed."""

    recipe: str
    step: str
    start: float
    end: float
    ok: bool | None  # None: the run stopped before the step ended
    log: str = ""

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 0.0)

    @property
    def result(self) -> str:
        return {True: "ok", False: "failed", None: "did not finish"}[self.ok]


@dataclass
class Row:
    recipe: str
    version: str
    start: float
    end: float | None = None
    status: str = "running"
    bars: list[Bar] = field(default_factory=list)


@dataclass
class Timeline:
    start: float
    end: float
    rows: list[Row]
    prefix: str = ""
    targets: list[str] = field(default_factory=list)
    not_built: list[tuple[str, str]] = field(default_factory=list)  # (recipe, action)
    ok: bool | None = None  # None: no summary, the run stopped early
    messages: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 0.0)


def read_events(path: Path) -> list[Event]:
    """The events of a run; a torn last line (a killed run) is skipped."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and "event" in event and "time" in event:
            out.append(event)
    return out


def timeline(events: list[Event]) -> Timeline:
    """Rows and bars from a run's events (pure); steps left open end with their package."""
    times = [float(e["time"]) for e in events]
    tl = Timeline(min(times), max(times), [])
    rows: dict[str, Row] = {}
    open_steps: dict[str, tuple[str, float]] = {}
    for e in events:
        kind, t = e["event"], float(e["time"])
        recipe = str(e.get("recipe", ""))
        if kind == EventKind.PLAN:
            tl.prefix = str(e.get("prefix", ""))
            tl.targets = list(e.get("targets", []))
            tl.not_built = [(s["recipe"], s["action"]) for s in e.get("steps", [])
                            if s.get("action") != Action.BUILD]
        elif kind == EventKind.PACKAGE_START:
            rows[recipe] = Row(recipe, str(e.get("version", "")), t)
        elif kind == EventKind.STEP_START:
            open_steps[recipe] = (str(e["step"]), t)
        elif kind == EventKind.STEP_END:
            step, start = open_steps.pop(recipe, (str(e["step"]), t - float(e["seconds"])))
            row = rows.setdefault(recipe, Row(recipe, "", start))
            row.bars.append(Bar(recipe, str(e["step"]), start, t, bool(e.get("ok", True)),
                                str(e.get("log", ""))))
        elif kind == EventKind.PACKAGE_END:
            row = rows.setdefault(recipe, Row(recipe, "", t - float(e.get("seconds", 0))))
            row.end, row.status = t, str(e.get("status", ""))
            if recipe in open_steps:  # a step that raised before its step_end (a fetch error)
                step, start = open_steps.pop(recipe)
                row.bars.append(Bar(recipe, step, start, t,
                                    False if row.status == Status.FAILED else None))
        elif kind == EventKind.SUMMARY:
            tl.ok = bool(e.get("ok"))
        elif kind == EventKind.MESSAGE:
            tl.messages.append(str(e.get("text", "")))
    for recipe, (step, start) in open_steps.items():
        rows[recipe].bars.append(Bar(recipe, step, start, tl.end, None))
    for row in rows.values():
        if row.end is None:
            row.end, row.status = tl.end, "did not finish"
    tl.rows = list(rows.values())
    return tl


def _tick_step(total: float) -> float:
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if total / step <= 10:
            return step
    return 7200.0


def _tick_label(s: float) -> str:
    return f"{s:g}s" if s < 60 else fmt_seconds(s)


LABEL_W, PLOT_W, ROW_H, BAR_H, AXIS_H = 200, 860, 28, 18, 26


def bar_colour(bar: Bar) -> str:
    return FAILED_COLOUR if bar.ok is False else STEP_COLOURS.get(bar.step, OTHER_COLOUR)


def timeline_geometry(tl: Timeline) -> dict[str, Any]:
    """Where the template draws each tick, row and bar (numbers already formatted)."""
    total = max(tl.seconds, 0.001)
    scale = PLOT_W / total
    height = AXIS_H + ROW_H * max(len(tl.rows), 1) + 10
    step = _tick_step(total)
    ticks = []
    n = 0
    while n * step <= total + 1e-9:
        ticks.append({"x": f"{LABEL_W + n * step * scale:.1f}", "label": _tick_label(n * step)})
        n += 1
    rows = []
    for i, row in enumerate(tl.rows):
        y = AXIS_H + i * ROW_H
        bars = []
        for bar in row.bars:
            bx = LABEL_W + (bar.start - tl.start) * scale
            bw = max(bar.seconds * scale, 1.5)
            hover = f"{bar.recipe} {bar.step}: {fmt_seconds(bar.seconds)} ({bar.result})"
            bars.append({
                "css": f"step {bar.step}" + (" failed" if bar.ok is False else ""),
                "x": f"{bx:.1f}", "y": f"{y + (ROW_H - BAR_H) / 2:.1f}", "width": f"{bw:.1f}",
                "height": BAR_H, "colour": bar_colour(bar), "dim": bar.ok is None,
                "hover": hover + (f"\nlog: {bar.log}" if bar.log else ""),
                "label": bar.step if bw > 7 * len(bar.step) + 6 else "",
                "label_x": f"{bx + bw / 2:.1f}"})
        rows.append({
            "recipe": row.recipe, "status": row.status,
            "label": f"{row.recipe} {row.version}".strip(),
            "colour": FAILED_COLOUR if row.status == Status.FAILED else "#222",
            "text_y": f"{y + ROW_H / 2 + 4:.1f}",
            "x": f"{LABEL_W + (row.start - tl.start) * scale:.1f}", "y": y + 3,
            "width": f"{max(((row.end or tl.end) - row.start) * scale, 1):.1f}",
            "height": ROW_H - 6, "bars": bars})
    return {"width": LABEL_W + PLOT_W + 20, "height": height, "axis_y": AXIS_H - 6,
            "label_x": LABEL_W - 8, "ticks": ticks, "rows": rows}


@cache
def _template() -> jinja2.Template:
    import jinja2

    text = resources.files("srcbuild").joinpath("data", "report.html.j2").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(text)


def render_html(tl: Timeline, source: Path) -> str:
    """The whole page: summary line, legend, timeline and where the time went."""
    total = max(tl.seconds, 0.001)
    return _template().render(
        tl=tl, source=str(source), title=f"srcbuild run: {' '.join(tl.targets) or '(no plan)'}",
        started=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(tl.start)),
        built=sum(1 for r in tl.rows if r.status in (Status.BUILT, Status.RESTORED)),
        failed=[r.recipe for r in tl.rows if r.status == Status.FAILED],
        colours=STEP_COLOURS, failed_colour=FAILED_COLOUR, svg=timeline_geometry(tl),
        bars=sorted((b for r in tl.rows for b in r.bars), key=lambda b: -b.seconds),
        share=lambda b: b.seconds / total, fmt_seconds=fmt_seconds) + "\n"
