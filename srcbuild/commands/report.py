"""report: the last run as an HTML timeline."""

from __future__ import annotations

import argparse
from pathlib import Path

from srcbuild import api
from srcbuild.errors import EXIT_OK, UsageError
from srcbuild.report import read_events, render_html, timeline


def report(args: argparse.Namespace) -> int:
    cache = args.cache_dir or api.default_cache_dir()
    source = cache / "runs" / "last.jsonl"
    if not source.is_file():
        raise UsageError(f"There is no last run to report on: {source} does not exist.",
                         "Run `srcbuild install NAME...` with the same --cache-dir first; "
                         "it records its events there.")
    events = read_events(source)
    if not events:
        raise UsageError(f"The last run recorded in {source} has no events: it stopped before "
                         "its plan (a recipe or option error?).",
                         "Fix what `srcbuild install` reported and run it again.")
    tl = timeline(events)
    if args.prefix is not None and tl.prefix and Path(tl.prefix) != args.prefix.resolve():
        print(f"note: the last run in {cache} was for the prefix {tl.prefix}, "
              f"not {args.prefix.resolve()}.")
    out = args.output or cache / "runs" / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(tl, source), encoding="utf-8")
    print(out)
    return EXIT_OK
