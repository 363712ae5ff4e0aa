"""env, uninstall, run: work on an installed prefix."""

from __future__ import annotations

import argparse
import json
import sys

from srcbuild import api
from srcbuild.commands.common import request
from srcbuild.errors import EXIT_OK


def env(args: argparse.Namespace) -> int:
    from srcbuild.buildenv import prefix_dirs, shell_exports

    prefix = (args.prefix or api.default_prefix()).resolve()
    if args.json:
        print(json.dumps(prefix_dirs(prefix), indent=1))
    else:
        sys.stdout.write(shell_exports(prefix, "fish" if args.shell == "fish" else "sh"))
    return EXIT_OK


def uninstall(args: argparse.Namespace) -> int:
    prefix = args.prefix or api.default_prefix()
    removed = api.uninstall(prefix, args.name)
    print(f"Removed {args.name}: {len(removed)} file(s) from {prefix.resolve()}.")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Arguments after `--` (args.extra) are appended to the launch command."""
    req = request(args)
    req.targets = [args.name]
    return api.launch(req, args.name, args.extra)
