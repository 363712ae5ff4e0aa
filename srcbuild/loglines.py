"""What a person wants to see of a build's output, line by line (pure): the last meaningful
line for the live display (a compiler command shortened to the file it compiles), and the
``PASS:``/``SKIP:`` lines that a check prints as its verdicts.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field

SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".c++", ".m", ".s", ".S", ".f90", ".rs")
COMPILERS = re.compile(r"^(?:.*-)?(?:gcc|g\+\+|cc|c\+\+|clang|clang\+\+|ccache|distcc|as)"
                       r"(?:-\d+(?:\.\d+)*)?$")
# lines that say nothing new: make's directory changes, libtool's echo, blank progress
NOISE = re.compile(r"^(?:make(?:\[\d+\])?: (?:Entering|Leaving|Nothing to be done)|"
                   r"libtool: (?:link|install): (?:warning: )?(?:rm|mv|ln|chmod|ranlib)\b|"
                   r"\s*$|#|\$ )")


def meaningful(line: str) -> str | None:
    """The line as the live display shows it, or None to keep showing the previous one.

    ``gcc -DHAVE_CONFIG_H -I. ... -c -o x.o ../src/x.c`` -> ``compiling src/x.c``;
    ``gcc ... -o libz.so.1.2.13 ...`` -> ``linking libz.so.1.2.13``; other lines as they are.
    """
    text = line.strip()
    if NOISE.match(text):
        return None
    for marker in ("libtool: compile: ", "libtool: link: "):
        if text.startswith(marker):
            text = text[len(marker):].strip()
    short = _compiler_line(text)
    return short if short is not None else text


def _compiler_line(text: str) -> str | None:
    if " -" not in text:
        return None
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    # a libtool wrapper (`/bin/bash ../libtool --mode=compile gcc ...`): look past it
    while words and (words[0].endswith("libtool") or words[0].startswith("--")
                     or os.path.basename(words[0]) in ("sh", "bash")):
        words = words[1:]
    if not words or not COMPILERS.match(os.path.basename(words[0])):
        return None
    if "-c" in words or "-S" in words or "-E" in words:
        sources = [w for w in words[1:] if w.endswith(SOURCE_SUFFIXES) and not w.startswith("-")]
        if sources:
            return f"compiling {_short_path(sources[-1])}"
    if "-o" in words[:-1]:
        return f"linking {os.path.basename(words[words.index('-o') + 1])}"
    return None


def _short_path(path: str) -> str:
    """The last two parts of a path, without leading ../ and ./ (enough to place a file)."""
    parts = [p for p in path.split("/") if p not in ("", ".", "..")]
    return "/".join(parts[-2:])


@dataclass
class CheckLines:
    """What a check printed as its verdicts: ``PASS: ...`` and ``SKIP: ...`` lines, without
    the marker."""

    passed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        text = line.strip()
        for marker, into in (("PASS:", self.passed), ("SKIP:", self.skipped)):
            if text.startswith(marker):
                into.append(text[len(marker):].strip())

    def __bool__(self) -> bool:
        return bool(self.passed or self.skipped)

    def note(self) -> str:
        """``1 skipped check`` (for a summary row), or ''."""
        n = len(self.skipped)
        return f"{n} skipped check{'s' if n != 1 else ''}" if n else ""

    def lines(self) -> list[str]:
        return [f"PASS: {t}" for t in self.passed] + [f"SKIP: {t}" for t in self.skipped]


def check_lines(lines: Iterable[str]) -> CheckLines:
    out = CheckLines()
    for line in lines:
        out.add(line)
    return out
