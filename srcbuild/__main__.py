"""``python3 -m srcbuild``: refuse an interpreter older than supported in one line, then run.

This file (and srcbuild/__init__.py, imported before it) must parse and run on old Pythons
(3.6 syntax: string annotations only, no walrus, no match) so that an old python3 gets a
sentence naming the version needed instead of a SyntaxError or ImportError from deeper down.
Everything else is imported only after the check.
"""

import sys

# the same bound as requires-python in pyproject.toml (tests/test_python_version.py checks)
MIN_PYTHON = (3, 11)


def python_too_old(version: "tuple[int, ...]", executable: "str | None") -> "str | None":
    """The one-line complaint about an interpreter older than MIN_PYTHON, else None.

    ``version`` is (major, minor, micro). The annotations are strings so that old
    interpreters, which cannot evaluate ``str | None``, never try.
    """
    if version[:2] >= MIN_PYTHON:
        return None
    need = ".".join(str(n) for n in MIN_PYTHON)
    have = ".".join(str(n) for n in version[:3])
    return ("srcbuild: error: srcbuild needs Python {0} or newer; {1} is Python {2}. Run it with "
            "a newer one, for example python{0} -m srcbuild (or python{0} bin/srcbuild)."
            .format(need, executable or "this interpreter", have))


def run() -> None:
    message = python_too_old(sys.version_info[:3], sys.executable)
    if message:
        sys.stderr.write(message + "\n")
        sys.exit(2)
    from srcbuild.cli import main

    sys.exit(main())


if __name__ == "__main__":
    run()
