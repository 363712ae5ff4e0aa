"""`srcbuild report`: the last run (CACHE/runs/last.jsonl) as a self-contained HTML timeline.

One row per package, one bar per step placed by wall-clock time, so packages that ran at
the same time simply overlap in time on their own rows.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from srcbuild.ui import fmt_seconds

Event = dict[str, Any]

STEP_COLOURS = {"fetch": "#8da0cb", "configure": "#a07cc5", "build": "#f0a030",
                "install": "#3aa6a0", "check": "#7fbf5a", "merge": "#9a9a9a"}
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
        if kind == "plan":
            tl.prefix = str(e.get("prefix", ""))
            tl.targets = list(e.get("targets", []))
            tl.not_built = [(s["recipe"], s["action"]) for s in e.get("steps", [])
                            if s.get("action") != "build"]
        elif kind == "package_start":
            rows[recipe] = Row(recipe, str(e.get("version", "")), t)
        elif kind == "step_start":
            open_steps[recipe] = (str(e["step"]), t)
        elif kind == "step_end":
            step, start = open_steps.pop(recipe, (str(e["step"]), t - float(e["seconds"])))
            row = rows.setdefault(recipe, Row(recipe, "", start))
            row.bars.append(Bar(recipe, str(e["step"]), start, t, bool(e.get("ok", True)),
                                str(e.get("log", ""))))
        elif kind == "package_end":
            row = rows.setdefault(recipe, Row(recipe, "", t - float(e.get("seconds", 0))))
            row.end, row.status = t, str(e.get("status", ""))
            if recipe in open_steps:  # a step that raised before its step_end (a fetch error)
                step, start = open_steps.pop(recipe)
                row.bars.append(Bar(recipe, step, start, t,
                                    False if row.status == "failed" else None))
        elif kind == "summary":
            tl.ok = bool(e.get("ok"))
        elif kind == "message":
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


def timeline_svg(tl: Timeline) -> str:
    """The rows and bars, as inline SVG with a hover title on every bar."""
    total = max(tl.seconds, 0.001)
    scale = PLOT_W / total
    width, height = LABEL_W + PLOT_W + 20, AXIS_H + ROW_H * max(len(tl.rows), 1) + 10
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" '
            'role="img" aria-label="timeline of the last run">')]
    step = _tick_step(total)
    n = 0
    while n * step <= total + 1e-9:
        x = LABEL_W + n * step * scale
        out.append(f'<line x1="{x:.1f}" y1="{AXIS_H - 6}" x2="{x:.1f}" y2="{height - 10}" '
                   f'stroke="#e4e4e4"/><text x="{x:.1f}" y="{AXIS_H - 10}" '
                   f'text-anchor="middle" fill="#666">{_tick_label(n * step)}</text>')
        n += 1
    for i, row in enumerate(tl.rows):
        y = AXIS_H + i * ROW_H
        failed = row.status == "failed"
        label = f"{row.recipe} {row.version}".strip()
        out.append(f'<text x="{LABEL_W - 8}" y="{y + ROW_H / 2 + 4:.1f}" text-anchor="end" '
                   f'fill="{FAILED_COLOUR if failed else "#222"}">{escape(label)}'
                   f"<title>{escape(row.recipe)}: {escape(row.status)}</title></text>")
        x0 = LABEL_W + (row.start - tl.start) * scale
        span = ((row.end or tl.end) - row.start) * scale
        out.append(f'<rect class="package" x="{x0:.1f}" y="{y + 3}" width="{max(span, 1):.1f}"'
                   f' height="{ROW_H - 6}" fill="#f3f3f3" stroke="#dddddd"/>')
        for bar in row.bars:
            bx = LABEL_W + (bar.start - tl.start) * scale
            bw = max(bar.seconds * scale, 1.5)
            hover = f"{bar.recipe} {bar.step}: {fmt_seconds(bar.seconds)} ({bar.result})"
            hover += f"\nlog: {bar.log}" if bar.log else ""
            dim = ' fill-opacity="0.5"' if bar.ok is None else ""
            out.append(f'<rect class="step {escape(bar.step)}{" failed" if bar.ok is False else ""}'
                       f'" x="{bx:.1f}" y="{y + (ROW_H - BAR_H) / 2:.1f}" width="{bw:.1f}" '
                       f'height="{BAR_H}" fill="{bar_colour(bar)}"{dim}>'
                       f"<title>{escape(hover)}</title></rect>")
            if bw > 7 * len(bar.step) + 6:
                out.append(f'<text x="{bx + bw / 2:.1f}" y="{y + ROW_H / 2 + 4:.1f}" '
                           f'text-anchor="middle" fill="#fff" font-size="11" '
                           f'pointer-events="none">{escape(bar.step)}</text>')
    out.append("</svg>")
    return "\n".join(out)


CSS = """
body { font-family: sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; margin-bottom: 4px; }
.sub { color: #555; margin-top: 0; }
.ok { color: #2e7d32; } .failed { color: #c62828; } .stopped { color: #9a6700; }
.legend span { display: inline-block; margin-right: 14px; font-size: 13px; }
.legend i { display: inline-block; width: 14px; height: 10px; margin-right: 4px;
            border-radius: 2px; vertical-align: baseline; }
.timeline { overflow-x: auto; border: 1px solid #ddd; padding: 8px; margin: 12px 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 3px 10px; border-bottom: 1px solid #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.share { display: inline-block; height: 8px; background: #f0a030; }
code { font-size: 12px; }
"""


def render_html(tl: Timeline, source: Path) -> str:
    """The whole page: summary line, legend, timeline and where the time went."""
    built = sum(1 for r in tl.rows if r.status in ("built", "restored"))
    failed = [r.recipe for r in tl.rows if r.status == "failed"]
    if tl.ok is None:
        verdict = '<b class="stopped">stopped before its summary</b>'
    elif tl.ok:
        verdict = '<b class="ok">succeeded</b>'
    else:
        verdict = '<b class="failed">failed</b>'
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(tl.start))
    title = f"srcbuild run: {' '.join(tl.targets) or '(no plan)'}"
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">into <code>{escape(tl.prefix)}</code>, started {started}, '
        f"total wall time <b>{fmt_seconds(tl.seconds)}</b>; {verdict}: {built} built"
        + (f", failed: {escape(', '.join(failed))}" if failed else "")
        + f'. Read from <code>{escape(str(source))}</code>.</p>',
    ]
    legend = "".join(f'<span><i style="background:{c}"></i>{escape(s)}</span>'
                     for s, c in STEP_COLOURS.items())
    legend += f'<span><i style="background:{FAILED_COLOUR}"></i>failed step</span>'
    parts.append(f'<div class="legend">{legend}</div>')
    if tl.rows:
        parts.append(f'<div class="timeline">{timeline_svg(tl)}</div>')
    else:
        parts.append("<p>No package was built in this run.</p>")
    if tl.not_built:
        items = ", ".join(f"{escape(n)} ({escape(a)})" for n, a in tl.not_built)
        parts.append(f"<p>Not built (already installed or provided by the system): {items}</p>")
    parts.append(_time_table(tl))
    if tl.messages:
        msgs = "\n".join(escape(m) for m in tl.messages)
        parts.append(f"<details><summary>Messages ({len(tl.messages)})</summary>"
                     f"<pre>{msgs}</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _time_table(tl: Timeline) -> str:
    bars = sorted((b for r in tl.rows for b in r.bars), key=lambda b: -b.seconds)
    if not bars:
        return ""
    total = max(tl.seconds, 0.001)
    rows = ["<h2>Where the time went</h2>",
            ("<table><tr><th>package</th><th>step</th><th>time</th><th>share of the run</th>"
             "<th>result</th><th>log</th></tr>")]
    for b in bars:
        share = b.seconds / total
        cls = ' class="failed"' if b.ok is False else ""
        rows.append(f"<tr{cls}><td>{escape(b.recipe)}</td><td>{escape(b.step)}</td>"
                    f'<td class="num">{fmt_seconds(b.seconds)}</td>'
                    f'<td><span class="share" style="width:{share * 120:.0f}px"></span> '
                    f"{share:.0%}</td><td>{escape(b.result)}</td>"
                    f"<td><code>{escape(b.log)}</code></td></tr>")
    rows.append("</table>")
    return "\n".join(rows)
