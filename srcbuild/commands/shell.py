"""completion, manpage: generated from the command line's own parser, every subcommand with
every option, so that they cannot drift from it.

shtab writes the completion scripts (static scripts: a TAB costs the shell nothing, except a
recipe name, which asks `srcbuild list --names`); argparse-manpage writes the roff. Both are
imported only here: srcbuild runs without them (Debian's own python3 with only its
python3-jinja2, python3-rich and python3-pyelftools), and these two commands then say what
to install.
"""

from __future__ import annotations

import argparse
import sys

from srcbuild import __version__
from srcbuild.errors import EXIT_OK, UsageError

MAN_SECTIONS = """\
[environment]
.TP
.B SRCBUILD_PREFIX
the default prefix (else ~/.local/srcbuild)
.TP
.B SRCBUILD_CACHE
the default cache folder (else the checkout's cache/, else ~/.cache/srcbuild)
.TP
.B SRCBUILD_RECIPES
recipe folders searched before the built-in ones, separated by colons
.TP
.B SRCBUILD_BINARY_CACHE
binary caches (folders or oci:// URLs), separated by spaces

[exit status]
.TP
.B 0
success
.TP
.B 1
a build, fetch, check or file operation failed; a verification found a difference, or checked
nothing
.TP
.B 2
bad usage, a bad recipe, a drift from a lock
.TP
.B 3
a requirement that neither the system nor any recipe satisfies
.TP
.B 130, 143, 129
interrupted by Ctrl-C (SIGINT), SIGTERM or SIGHUP: the running commands were stopped and
the prefix holds only the packages that finished

[files]
.TP
.I PREFIX/activate, PREFIX/activate.fish
source one to use the prefix; deactivate undoes it
.TP
.I PREFIX/.srcbuild/packages/NAME.json
what each installed package put into the prefix
.TP
.I CACHE/sources/SHA256/FILE
verified source archives
.TP
.I CACHE/runs/RUN.jsonl, CACHE/logs/RUN/NAME/PHASE.log
each run's events and phase logs (srcbuild report --list, srcbuild log NAME; srcbuild clean
prunes old ones)

[see also]
The recipe contract: docs/recipes.md; the words: docs/glossary.md.
"""


def full_parser() -> argparse.ArgumentParser:
    from srcbuild.cli import parser

    return parser(every=True)


def missing(command: str, requirement: str, error: ImportError) -> UsageError:
    """The error for a command whose package this python cannot import."""
    return UsageError(
        f"`srcbuild {command}` needs the Python package {requirement.split('>')[0]}, which "
        f"{sys.executable} cannot import ({error}).",
        f"Run srcbuild through bin/srcbuild (the venv it makes has it), or install "
        f"{requirement} where {sys.executable} finds it.")


def completion(args: argparse.Namespace) -> int:
    try:
        import shtab
    except ImportError as e:
        raise missing("completion", "shtab>=1.13", e) from None

    sys.stdout.write(shtab.complete(full_parser(), shell=args.shell))
    return EXIT_OK


def manpage(args: argparse.Namespace) -> int:
    import os
    import tempfile

    try:
        from argparse_manpage.manpage import Manpage
    except ImportError as e:
        raise missing("manpage", "argparse-manpage>=4", e) from None

    with tempfile.NamedTemporaryFile("w", suffix=".man", delete=False) as include:
        include.write(MAN_SECTIONS)
    # usage lines in one piece: man fills the lines itself, to the reader's width
    os.environ["COLUMNS"] = "10000"
    try:
        page = str(Manpage(full_parser(), _data={
            "project_name": "srcbuild", "version": __version__,
            "manual_title": "srcbuild manual", "include": include.name,
            "description": "build software from source into a prefix, reproducibly"}))
    finally:
        os.unlink(include.name)
    if args.output is None:
        sys.stdout.write(page)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(page, encoding="utf-8")
        print(args.output)
    return EXIT_OK
