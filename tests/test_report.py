"""`srcbuild report`: the HTML timeline of a real last run."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pkgfactory import broken, chain

from srcbuild.report import FAILED_COLOUR, render_html, timeline

STEPS = ("fetch", "configure", "build", "install", "audit", "check", "merge")


class Page(HTMLParser):
    """Every tag with its attributes, and the text of the page and of the <title>s."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.stack: list[str] = []
        self.cells: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag not in ("rect", "line", "meta", "i", "br"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.stack and self.stack[-1] == "td" and self.tags[-1][1].get("class") == "num":
            self.cells.append(data)

    def bars(self) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == "rect" and "step" in a.get("class", "")]


@pytest.fixture
def two(tmp_path: Path) -> Path:
    """alpha (autotools) and delta (make) of the shared chain; delta needs alpha."""
    return chain(tmp_path)


def test_report_of_a_real_run(sb, two):
    sb("delta", "--recipes", str(two), "--quiet")
    cp = sb("report")
    # the page of the last run, beside its events: CACHE/runs/RUN.html
    out = (sb.cache / "runs" / "last").resolve().with_suffix(".html")
    assert cp.stdout.strip() == str(out)
    html = out.read_text()
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no network
    assert "<script" not in html
    page = Page(html)
    text = "".join(page.text)
    for name in ("alpha", "delta"):
        assert name in text
    bars = page.bars()
    for step in STEPS:
        assert any(step in b["class"].split() for b in bars), step
        assert f"alpha {step}: " in text  # the hover <title> of the bar
    assert not any("failed" in b["class"] for b in bars)
    assert "Where the time went" in text and "total wall time" in text
    seconds = [float(c.rstrip("s")) for c in page.cells]
    assert len(seconds) == len(bars) and seconds == sorted(seconds, reverse=True)
    # bars are placed by time: this run was sequential, so each starts after the previous
    xs = [float(b["x"]) for b in bars]
    assert xs == sorted(xs) and xs[0] < xs[-1]


def test_failed_build_shows_a_red_step(sb, tmp_path):
    recipes, _ = broken(tmp_path)
    sb("broken", "--recipes", str(recipes), check=1)
    out = tmp_path / "elsewhere" / "r.html"
    sb("report", "-O", str(out))
    page = Page(out.read_text())
    failed = [b for b in page.bars() if "failed" in b["class"].split()]
    assert [b["class"] for b in failed] == ["step build failed"]
    assert failed[0]["fill"] == FAILED_COLOUR
    text = "".join(page.text)
    assert "broken build: " in text and "(failed)" in text and "build.log" in text


def test_no_last_run_is_a_clear_error(sb):
    cp = sb("report", check=2)
    assert str(sb.cache / "runs" / "last") in cp.stderr
    assert "srcbuild install" in cp.stderr


def test_packages_running_at_once_get_their_own_rows():
    t = 1000.0
    events = [{"event": "plan", "time": t, "prefix": "/p", "targets": ["a", "b"],
               "steps": [{"recipe": "c", "action": "installed"}]}]
    for name, offset in (("a", 0.0), ("b", 1.0)):
        events += [{"event": "package_start", "time": t + offset, "recipe": name,
                    "version": "1"},
                   {"event": "step_start", "time": t + offset, "recipe": name, "step": "build"}]
    events += [{"event": "step_end", "time": t + 3, "recipe": "a", "step": "build", "ok": True,
                "seconds": 3.0},
               {"event": "step_end", "time": t + 4, "recipe": "b", "step": "build", "ok": False,
                "seconds": 3.0},
               {"event": "package_end", "time": t + 3, "recipe": "a", "status": "built",
                "seconds": 3.0},
               {"event": "package_end", "time": t + 4, "recipe": "b", "status": "failed",
                "seconds": 3.0},
               {"event": "summary", "time": t + 4, "ok": False, "packages": []}]
    events.sort(key=lambda e: e["time"])
    tl = timeline(json.loads(json.dumps(events)))
    assert [r.recipe for r in tl.rows] == ["a", "b"]
    (a,), (b,) = tl.rows[0].bars, tl.rows[1].bars
    assert a.start < b.start < a.end < b.end  # they overlap in time
    assert (a.ok, b.ok) == (True, False) and tl.seconds == 4.0
    page = Page(render_html(tl, Path("/c/runs/last.jsonl")))
    ys = [float(r["y"]) for r in page.bars()]
    assert ys[0] != ys[1]
    assert "c (installed)" in "".join(page.text)
