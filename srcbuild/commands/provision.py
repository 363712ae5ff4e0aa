"""mirror, verify-repro: what CI provisioning needs beyond install --locked. Both end with
one verdict line and an exit status that says whether everything asked for was done."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from srcbuild.commands.common import reporting, request
from srcbuild.errors import EXIT_FAILED, EXIT_OK
from srcbuild.kinds import EventKind
from srcbuild.safety import printable, say

FIRST_PATHS = 5  # differing paths shown per package (--json lists them all)


def mirror(args: argparse.Namespace) -> int:
    """Exit 1 when an alternative could not be mirrored (--every-alternative), or when
    nothing of the graph needs mirroring: a mirror that holds nothing verifies nothing."""
    from srcbuild.provision import mirror as copy_sources

    skipped: list[str] = []

    def listen(event: dict[str, object]) -> None:
        if event["event"] == EventKind.MESSAGE and "skipped an alternative" in str(event["text"]):
            skipped.append(str(event["text"]))

    with reporting(args) as events:
        events.subscribe(listen)
        copied = copy_sources(request(args), args.dir, events, args.every_alternative)
    if not copied:
        verdict(args, "mirror: nothing mirrored: every source of the graph is a local path "
                      "(they travel with the recipes)")
        return EXIT_FAILED
    sources = f"{len(copied)} source{'s' if len(copied) != 1 else ''}"
    if skipped:
        verdict(args, f"mirror: incomplete: {sources} verified in {args.dir}, "
                      f"{len(skipped)} alternative(s) could not be fetched (above)")
        return EXIT_FAILED
    verdict(args, f"mirror: ok: {sources} verified in {args.dir}")
    return EXIT_OK


def verify_repro(args: argparse.Namespace) -> int:
    """One verdict line per package, then one for the run; exit 1 when a package differs
    or when nothing was compared."""
    from srcbuild.provision import nothing_compared
    from srcbuild.provision import verify_repro as build_twice

    with reporting(args, quiet=True) as events:
        graph, results = build_twice(request(args), events)
    if args.json:
        print(json.dumps([dataclasses.asdict(r) for r in results], indent=1))
    for r in results if not args.json else []:
        if not r.differ:
            say(f"{r.recipe} {r.version}: identical ({r.files} staged file(s))")
            continue
        shown = ", ".join(r.differ[:FIRST_PATHS]) + (", ..." if len(r.differ) > FIRST_PATHS
                                                       else "")
        say(f"{r.recipe} {r.version}: {len(r.differ)} of {r.files} staged file(s) differ: "
              f"{shown}")
    if not results:
        for line in nothing_compared(graph):
            verdict(args, line)
        verdict(args, "verify-repro: nothing was compared")
        return EXIT_FAILED
    differ = [r.recipe for r in results if r.differ]
    if differ:
        verdict(args, f"verify-repro: NOT reproducible: {len(differ)} of {len(results)} "
                      f"package(s) differ ({', '.join(differ)})")
        return EXIT_FAILED
    verdict(args, f"verify-repro: reproducible: {len(results)} package(s) built twice from "
                  "source, identical")
    return EXIT_OK


def verdict(args: argparse.Namespace, text: str) -> None:
    """A line of the verdict (the exit status says the same): on stdout for a person, on
    stderr under --json, so that stdout stays JSON; file names are shown escaped."""
    print(printable(text), file=sys.stderr if getattr(args, "json", False) else sys.stdout)
