"""Commands that live in their own modules.

Each module named in MODULES defines ``COMMANDS``: a list of
(name, help, add_arguments(parser), run(args) -> exit code). cli.py adds them to its parser.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

Command = tuple[str, str, Callable[[argparse.ArgumentParser], None],
                Callable[[argparse.Namespace], int]]

MODULES: list[str] = ["srcbuild.graphview", "srcbuild.report", "srcbuild.provision"]


def extra_commands() -> list[Command]:
    out: list[Command] = []
    for name in MODULES:
        out.extend(importlib.import_module(name).COMMANDS)
    return out


EXTRA = extra_commands()
