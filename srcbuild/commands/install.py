"""install (and its spelling install-locked FILE), fetch."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from srcbuild import api
from srcbuild.commands.common import reporting, request
from srcbuild.errors import EXIT_OK
from srcbuild.kinds import Status
from srcbuild.safety import printable


def install(args: argparse.Namespace) -> int:
    """`srcbuild install NAME...`, `install --locked FILE`, `install-locked FILE`; then, in
    words, why nothing was built, or where things went and how to use them."""
    from srcbuild.explain import how_to_use, why_nothing

    req = request(args)
    with reporting(args) as events:
        graph, outcomes = api.install(req, events)
    if args.json:
        return EXIT_OK
    if not any(o.status in (Status.BUILT, Status.RESTORED) for o in outcomes):
        say(["Nothing to do:", *(f"  {line}" for line in why_nothing(graph))])
    elif not args.quiet:
        built = [o.recipe for o in outcomes if o.status in (Status.BUILT, Status.RESTORED)]
        say(["", *how_to_use(graph, report(req, graph.prefix, built[0]))])
    return EXIT_OK


def report(req: api.Request, prefix: Path, built: str) -> Path | None:
    """This run's HTML timeline, written now; None when it cannot be (it is only a report).
    The run is the one the state record of a package it built names (runs.py)."""
    from srcbuild.commands.report import write_report
    from srcbuild.runs import events_path, report_page
    from srcbuild.state import PrefixState

    pkg = PrefixState(prefix).get(built)
    try:
        if pkg is None or not pkg.run:
            return None
        return write_report(events_path(req.cache_dir, pkg.run),
                            report_page(req.cache_dir, pkg.run))
    except (OSError, ValueError):
        return None


def say(lines: list[str]) -> None:
    sys.stderr.write("".join(f"{printable(line)}\n" for line in lines))


def fetch(args: argparse.Namespace) -> int:
    with reporting(args) as events:
        api.fetch(request(args), events)
    return EXIT_OK
