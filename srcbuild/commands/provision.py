"""mirror, verify-repro: what CI provisioning needs beyond install --locked."""

from __future__ import annotations

import argparse
import dataclasses
import json

from srcbuild.commands.common import reporter_events, request
from srcbuild.errors import EXIT_FAILED, EXIT_OK
from srcbuild.events import Events
from srcbuild.ui import make_reporter


def mirror(args: argparse.Namespace) -> int:
    from srcbuild.provision import mirror as copy_sources

    copy_sources(request(args), args.dir, reporter_events(args), args.every_alternative)
    return EXIT_OK


def verify_repro(args: argparse.Namespace) -> int:
    from srcbuild.provision import verify_repro as build_twice

    events = Events()
    events.subscribe(make_reporter(False, True) if not args.json else (lambda e: None))
    results = build_twice(request(args), events)
    if args.json:
        print(json.dumps([dataclasses.asdict(r) for r in results], indent=1))
    else:
        for r in results:
            state = "identical" if not r.differ else f"{len(r.differ)} file(s) differ"
            print(f"{r.recipe}: {r.files} staged file(s), {state}")
            for f in r.differ:
                print(f"  differs: {f}")
    return EXIT_OK if all(not r.differ for r in results) else EXIT_FAILED
