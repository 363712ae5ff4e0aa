"""report: a run the cache keeps (the last that built something, or --run ID) as an HTML
timeline; --list: the runs kept, one a line."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from srcbuild import api
from srcbuild.errors import EXIT_OK, UsageError
from srcbuild.report import read_events, render_html, timeline
from srcbuild.runs import events_path, is_run_id, last_run, list_runs, report_page
from srcbuild.safety import say


def last_events(cache: Path) -> Path:
    """The events file of the cache's last run (runs.last_run; a cache written before run
    ids has runs/last.jsonl)."""
    run_id = last_run(cache)
    source = events_path(cache, run_id) if run_id else cache / "runs" / "last.jsonl"
    if not source.is_file():
        missing = source if run_id else cache / "runs" / "last"
        raise UsageError(f"There is no last run to report on: {missing} does not exist.",
                         "Run `srcbuild install NAME...` with the same --cache-dir first; "
                         "it records its events there.")
    return source


def run_events(cache: Path, run_id: str) -> Path:
    """The events file of a run given by its id (--run); a usage error names the runs kept."""
    source = events_path(cache, run_id) if is_run_id(run_id) else None
    if source is None or not source.is_file():
        kept = [r.run_id for r in list_runs(cache)]
        what = "is not a run id (YYYYMMDD-HHMMSS-PID)" if source is None else \
            f"is not kept in {cache / 'runs'}"
        raise UsageError(f"--run {run_id} {what}.",
                         (f"The newest runs kept: {', '.join(kept[-3:][::-1])}; "
                          "`srcbuild report --list` lists them all." if kept else
                          "This cache keeps no run yet (srcbuild clean prunes old ones)."))
    return source


def report(args: argparse.Namespace) -> int:
    cache = args.cache_dir or api.default_cache_dir()
    if args.list:
        return list_kept(cache, args.json)
    if args.json:
        raise UsageError("report --json goes with --list (the page itself is HTML).",
                         "srcbuild report --list --json lists the runs as JSON.")
    source = run_events(cache, args.run) if args.run else last_events(cache)
    events = read_events(source)
    if not events:
        raise UsageError(f"The run recorded in {source} has no events: it stopped before "
                         "its plan (a recipe or option error?).",
                         "Fix what `srcbuild install` reported and run it again.")
    tl = timeline(events)
    if args.prefix is not None and tl.prefix and Path(tl.prefix) != args.prefix.resolve():
        say(f"note: the run {source.stem} in {cache} was for the prefix {tl.prefix}, "
            f"not {args.prefix.resolve()}.")
    say(write_report(source, args.output or page_for(cache, source)))
    return EXIT_OK


def page_for(cache: Path, source: Path) -> Path:
    """CACHE/runs/RUN.html beside the run's events (runs.report_page); report.html for a
    cache written before run ids."""
    run_id = source.name.removesuffix(".jsonl")
    return report_page(cache, run_id) if is_run_id(run_id) else cache / "runs" / "report.html"


def write_report(source: Path, out: Path) -> Path:
    """Render the run recorded in ``source`` as the page ``out``."""
    page = render_html(timeline(read_events(source)), source)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def list_kept(cache: Path, as_json: bool) -> int:
    """The runs the cache keeps, oldest first: id, local start time, prefix, what it did."""
    from srcbuild.runindex import summaries

    runs = summaries(cache)
    if as_json:
        print(json.dumps([{"run": r.info.run_id, "started": r.info.started, "last": r.info.last,
                           "prefix": r.prefix, "targets": r.targets, "built": r.built,
                           "failed": r.failed, "unfinished": r.unfinished,
                           "ended": r.ended, "ok": r.ok, "running": r.running,
                           "events": str(r.info.events), "logs": str(r.info.logs)}
                          for r in runs], indent=1))
        return EXIT_OK
    if not runs:
        say(f"{cache / 'runs'} keeps no run yet.")
        return EXIT_OK
    for r in runs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.info.started))
        mark = "  (last)" if r.info.last else ""
        targets = " ".join(r.targets) or "-"
        say(f"{r.info.run_id}  {when}  {targets} -> {r.prefix or '-'}: {r.outcome}{mark}")
    say("`srcbuild report --run ID` draws one; `srcbuild log NAME --run ID` prints its logs.")
    return EXIT_OK
