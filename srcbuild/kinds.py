"""The closed sets of srcbuild's vocabulary, as types (docs/glossary.md says what each word means).

Every value is a ``StrEnum`` member, so it compares equal to its string, prints as it, and
``json.dumps`` writes it as that string: the JSON forms are the strings they always were.
A new member here (a requirement kind, a phase, an event) is where a feature starts.
"""

from __future__ import annotations

from enum import StrEnum


class RequirementKind(StrEnum):
    """What a requirement names; each kind has a lookup in probes.SystemProbe."""

    PKGCONFIG = "pkgconfig"
    LIBRARY = "library"
    PROGRAM = "program"
    PYTHON = "python"  # a module the build's python3 imports (pyprobe.py)
    CC = "cc"  # a C compiler that links static programs for ARCH-OS (ccprobe.py)
    RECIPE = "recipe"


class Satisfier(StrEnum):
    """What satisfies a requirement (``satisfied_by`` in plan --json and doctor --json)."""

    PREFIX = "prefix"
    SYSTEM = "system"
    RECIPE = "recipe"
    MISSING = "missing"


class Action(StrEnum):
    """What a plan step does with its recipe (``action`` in plan --json)."""

    BUILD = "build"
    INSTALLED = "installed"
    SKIP = "skip"


class Phase(StrEnum):
    """A named phase of a package's build (the ``step`` of step_start/step_end events).

    phases.PHASES runs them in this order; STORE emits cache_* events instead of its own
    step events, and a package restored from the binary cache runs only AUDIT, CHECK and
    MERGE.
    """

    FETCH = "fetch"
    CONFIGURE = "configure"
    BUILD = "build"
    TEST = "test"  # the package's own test suite (make check, meson test, ctest); --test
    INSTALL = "install"
    AUDIT = "audit"  # the linkage audit of the stage (linkage.py)
    CHECK = "check"
    STORE = "store"
    MERGE = "merge"


class Status(StrEnum):
    """How a package of a run ended (``status`` of package_end and summary events)."""

    BUILT = "built"
    RESTORED = "restored"
    INSTALLED = "installed"
    SKIPPED = "skipped"
    FAILED = "failed"
    NOT_STARTED = "not started"


class EventKind(StrEnum):
    """The ``event`` field of the JSON event stream (install --json, CACHE/runs/RUN.jsonl)."""

    PLAN = "plan"
    PACKAGE_START = "package_start"
    STEP_START = "step_start"
    STEP_END = "step_end"
    PACKAGE_END = "package_end"
    SUMMARY = "summary"
    MESSAGE = "message"
    FETCH_PROGRESS = "fetch_progress"
    LINE = "line"  # one line of a running command's output; never written to JSON
    CACHE_HIT = "cache_hit"
    CACHE_CORRUPT = "cache_corrupt"
    CACHE_STORE = "cache_store"
    CACHE_UNAVAILABLE = "cache_unavailable"  # a binary cache left alone for the rest of a run
    DRIFT = "drift"
    MIRRORED = "mirrored"
    CHECK_LINES = "check_lines"  # the PASS: and SKIP: lines a package's check printed


class ChangeKind(StrEnum):
    """What a transaction on the prefix does (``kind`` of PREFIX/.srcbuild/txn/journal.json)."""

    MERGE = "merge"
    UNINSTALL = "uninstall"


class DiagnosisCase(StrEnum):
    """Which explanation `srcbuild doctor` gives for a requirement (``case`` in doctor --json)."""

    FOUND = "found"
    RECIPE = "recipe"
    TOO_OLD = "too-old"
    PC_OUTSIDE_PATH = "pc-outside-path"
    DEV_FILES_MISSING = "dev-files-missing"
    NOT_INSTALLED = "not-installed"
    PROGRAM_MISSING = "program-missing"
    LOADER_PATH = "loader-path"  # an installed binary whose library the loader cannot find
    LIBRARY_MISSING = "library-missing"
    MODULE_MISSING = "module-missing"  # the build's python3 cannot import a python: module
    MODULE_OTHER_PYTHON = "module-other-python"  # ... but another python3 here can
    CC_INCAPABLE = "cc-incapable"  # cross compilers are here, none links a static program
    CC_MISSING = "cc-missing"  # no cross compiler for the target at all


class DriftKind(StrEnum):
    """How a resolution differs from its srcbuild.lock."""

    RECIPE = "recipe"
    VERSION = "version"
    OPTIONS = "options"
    PACKAGE_ADDED = "package-added"
    PACKAGE_REMOVED = "package-removed"
    SYSTEM = "system"
    COMPILER = "compiler"
    ARCHITECTURE = "architecture"


class SourceKind(StrEnum):
    """Where a recipe's ``[[source]]`` comes from."""

    URL = "url"
    DEBIAN = "debian"
    PYPI = "pypi"
    PATH = "path"


class RecipeKind(StrEnum):
    PACKAGE = "package"
    GROUP = "group"  # only requires (and a check): a named set, like a lab


class BuildSystem(StrEnum):
    """``[build] system`` of a recipe; builders.BUILDERS has one class per member."""

    AUTOTOOLS = "autotools"
    MESON = "meson"
    CMAKE = "cmake"
    MAKE = "make"
    KBUILD = "kbuild"
    CUSTOM = "custom"
