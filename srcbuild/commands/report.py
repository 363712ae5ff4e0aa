"""report: the last run that built something, as an HTML timeline."""

from __future__ import annotations

import argparse
from pathlib import Path

from srcbuild import api
from srcbuild.errors import EXIT_OK, UsageError
from srcbuild.report import read_events, render_html, timeline
from srcbuild.runs import events_path, last_run


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


def report(args: argparse.Namespace) -> int:
    cache = args.cache_dir or api.default_cache_dir()
    source = last_events(cache)
    events = read_events(source)
    if not events:
        raise UsageError(f"The last run recorded in {source} has no events: it stopped before "
                         "its plan (a recipe or option error?).",
                         "Fix what `srcbuild install` reported and run it again.")
    tl = timeline(events)
    if args.prefix is not None and tl.prefix and Path(tl.prefix) != args.prefix.resolve():
        print(f"note: the last run in {cache} was for the prefix {tl.prefix}, "
              f"not {args.prefix.resolve()}.")
    print(write_report(source, args.output or cache / "runs" / "report.html"))
    return EXIT_OK


def write_report(source: Path, out: Path) -> Path:
    """Render the run recorded in ``source`` as the page ``out``."""
    page = render_html(timeline(read_events(source)), source)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
