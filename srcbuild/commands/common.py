"""What the handlers share: the api.Request a command line describes, and its reporter."""

from __future__ import annotations

import argparse
import dataclasses

from srcbuild import api
from srcbuild.errors import UsageError
from srcbuild.events import Events
from srcbuild.ui import make_reporter

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


def reporter_events(args: argparse.Namespace) -> Events:
    """An event stream reported as --json events, --quiet lines, or live progress."""
    events = Events()
    events.subscribe(make_reporter(getattr(args, "json", False), getattr(args, "quiet", False)))
    return events
