"""Guards at srcbuild's boundaries: paths from the command line, names that become path
components, and untrusted text (from recipes, archives, build output) on its way to a
terminal. Pure functions; nothing here touches the file system."""

from __future__ import annotations

import os
import re
from pathlib import Path

from srcbuild.errors import UsageError

# a recipe name is a file name and a path component of the cache, the logs and the state
# record: no "/", no leading "." (".." would be the parent folder), nothing a shell expands
NAME_PATTERN = "[a-z0-9][a-z0-9+._-]*"
_NAME = re.compile(NAME_PATTERN)

# characters that make (``$(...)``) or a shell reading a Makefile's unquoted ``$(DESTDIR)``
# would interpret in a folder name; autoconf refuses the same in its build folders
BUILD_PATH_SPECIALS = " \t\n\r$`\"'\\#&;|<>()*?[]{}"


def is_valid_name(name: object) -> bool:
    """True for a name that may be a recipe's (and so a folder or file name)."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def absolute(path: Path | str) -> Path:
    """``path`` made absolute against the current folder, ``~`` expanded, ``..`` folded
    (what every path from the command line becomes before anything uses it)."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def check_build_path(path: Path, option: str) -> Path:
    """Refuse a prefix or cache folder that a build system would expand or split.

    Those folders reach make and configure unquoted (``DESTDIR=CACHE/work/...``,
    ``--prefix=PREFIX``): make runs ``$(shell ...)`` in a variable's value, and a Makefile's
    ``cp x $(DESTDIR)$(prefix)/lib`` hands a space or a backquote to the shell.
    """
    bad = sorted({c for c in str(path) if c in BUILD_PATH_SPECIALS})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise UsageError(f"{option} {printable(str(path))} contains {shown}, which make and "
                         "the shell would expand or split when a build uses the folder.",
                         f"Choose a folder whose path has none of: {BUILD_PATH_SPECIALS!r}.")
    return path


# C0 controls but tab and newline, DEL, C1 controls: what moves a cursor, retitles a window or
# starts an escape sequence (ESC, CSI)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``), so that a file
    name, a link target or a line of build output cannot drive the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def say(text: object = "") -> None:
    """print() for text that holds recipe or machine data (versions, summaries, paths)."""
    print(printable(str(text)))
