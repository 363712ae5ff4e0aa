"""What the handlers share: the api.Request a command line describes, and its reporter."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

from srcbuild import api
from srcbuild.errors import UsageError
from srcbuild.events import Events
from srcbuild.ui import Reporter, make_reporter

REQUEST_FIELDS = {f.name for f in dataclasses.fields(api.Request)}


def parse_options(items: list[str]) -> dict[str, str]:
    """``-o NAME=VALUE`` (or ``RECIPE.NAME=VALUE``) items as a dict."""
    options = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"-o {item!r} is not NAME=VALUE.",
                             "For example -o targets=x86_64-softmmu.")
        k, v = item.split("=", 1)
        options[k.strip()] = v
    return options


def request(args: argparse.Namespace) -> api.Request:
    """The Request of a command line: every option whose dest names a Request field and that
    was given (None means not given: the Request's default applies)."""
    given = {k: v for k, v in vars(args).items() if k in REQUEST_FIELDS and v is not None}
    given["targets"] = list(given.get("targets", []))
    given["options"] = parse_options(given.get("options", []))
    given["from_source"] = set(given.get("from_source", []))
    return api.Request(**given)


@contextmanager
def reporting(args: argparse.Namespace, quiet: bool | None = None) -> Iterator[Events]:
    """An event stream reported as --json events, --quiet lines, or live progress; the
    reporter is closed however the command ends: the live display goes and the cursor
    comes back, and after a signal (Ctrl-C, SIGTERM, SIGHUP) it says which one and what was
    finished, stopped and not started."""
    from srcbuild.interrupts import signal_name

    events = Events()
    reporter = make_reporter(getattr(args, "json", False),
                             getattr(args, "quiet", False) if quiet is None else quiet)
    events.subscribe(reporter)
    try:
        yield events
    except KeyboardInterrupt as e:
        _close(reporter, signal_name(e))
        raise
    finally:
        _close(reporter, "")


def _close(reporter: Reporter, interrupted: str) -> None:
    """Close the reporter; a terminal that is gone (SIGHUP: writes fail with EIO) must not
    turn the signal's exit status into a traceback."""
    try:
        reporter.close(interrupted)
    except OSError:
        pass
