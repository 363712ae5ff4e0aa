"""install (and its spelling install-locked FILE), fetch."""

from __future__ import annotations

import argparse

from srcbuild import api
from srcbuild.commands.common import reporter_events, request
from srcbuild.errors import EXIT_OK


def install(args: argparse.Namespace) -> int:
    """`srcbuild install NAME...`, `install --locked FILE`, `install-locked FILE`."""
    api.install(request(args), reporter_events(args))
    return EXIT_OK


def fetch(args: argparse.Namespace) -> int:
    api.fetch(request(args), reporter_events(args))
    return EXIT_OK
