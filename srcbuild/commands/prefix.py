"""env, uninstall, run: work on an installed prefix."""

from __future__ import annotations

import argparse
import json
import sys

from srcbuild import api
from srcbuild.commands.common import request
from srcbuild.errors import EXIT_FAILED, EXIT_OK, UsageError


def env(args: argparse.Namespace) -> int:
    from srcbuild.buildenv import prefix_dirs, shell_exports

    prefix = (args.prefix or api.default_prefix()).resolve()
    if args.json:
        print(json.dumps(prefix_dirs(prefix), indent=1))
    else:
        sys.stdout.write(shell_exports(prefix, "fish" if args.shell == "fish" else "sh"))
    return EXIT_OK


def uninstall(args: argparse.Namespace) -> int:
    """With --with-dependents, what was built against the package goes first, once the list
    has been shown and agreed to (--yes, or an interactive yes)."""
    prefix = (args.prefix or api.default_prefix()).resolve()
    names = [args.name]
    if args.with_dependents:
        users = api.dependents_of(prefix, args.name)
        if users:
            print(f"Built against {args.name} in {prefix}, removed first: {', '.join(users)}.")
            if not args.assume_yes and not _agreed(f"uninstall {args.name} --with-dependents"):
                print("Nothing was removed.")
                return EXIT_FAILED
        names = users + names
    for name in names:
        removed = api.uninstall(prefix, name)
        print(f"Removed {name}: {len(removed)} file(s) from {prefix}.")
    return EXIT_OK


def _agreed(what: str) -> bool:
    if not sys.stdin.isatty():
        raise UsageError(f"`srcbuild {what}` asks before it removes them, and standard input "
                         "is not a terminal.", "Add --yes to remove them without asking.")
    return input("Remove them all? [y/N] ").strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    """Arguments after `--` (args.extra) are appended to the launch command."""
    req = request(args)
    req.targets = [args.name]
    return api.launch(req, args.name, args.extra)
