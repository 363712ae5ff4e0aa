"""Guards at srcbuild's boundaries: names that become path components. Pure functions;
nothing here touches the file system."""

from __future__ import annotations

import re

# a recipe name is a file name and a path component of the cache, the logs and the state
# record: no "/", no leading "." (".." would be the parent folder), nothing a shell expands
NAME_PATTERN = "[a-z0-9][a-z0-9+._-]*"
_NAME = re.compile(NAME_PATTERN)


def is_valid_name(name: object) -> bool:
    """True for a name that may be a recipe's (and so a folder or file name)."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None
