"""Every error a user sees: what failed and where (the message), what to do next (the hint,
and optionally a numbered "To resolve:" list), and the exit code it maps to.

Only the command line formats them (cli.report_error); the library raises them.
"""

from __future__ import annotations

from collections.abc import Sequence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNSATISFIED = 3


class SrcbuildError(Exception):
    """Base error: a one-paragraph message, an optional hint and ways to resolve it."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str = "", to_resolve: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.to_resolve = tuple(to_resolve)

    def __str__(self) -> str:
        """One line (for events and logs); the CLI prints the parts on lines of their own."""
        return " ".join(part for part in (self.message, self.hint, *self.to_resolve) if part)

    def lines(self) -> list[str]:
        """The message, the hint, then "To resolve:" and its numbered items."""
        out = [self.message]
        if self.hint:
            out.append(self.hint)
        if self.to_resolve:
            out.append("To resolve:")
            out += [f"  {i}. {item}" for i, item in enumerate(self.to_resolve, 1)]
        return out


class UsageError(SrcbuildError):
    """A command line, lock file or option that cannot work as given."""

    exit_code = EXIT_USAGE


class RecipeError(SrcbuildError):
    """A recipe file that does not parse or does not follow the contract."""

    exit_code = EXIT_USAGE


class UnknownName(RecipeError):
    """A name that is no recipe (or no installed package); ``name`` is the word as given, so
    the command line can add what else it might have meant (a subcommand)."""

    def __init__(self, message: str, hint: str = "", name: str = "") -> None:
        super().__init__(message, hint)
        self.name = name


class PathError(SrcbuildError):
    """A folder or file the run needs that the machine refuses (permissions, a read-only or
    full file system); the message names the path and what it is for (boundary.py)."""


class UnsatisfiedError(SrcbuildError):
    """A requirement that neither the prefix, the system nor any recipe satisfies."""

    exit_code = EXIT_UNSATISFIED


class FetchError(SrcbuildError):
    """A source that cannot be downloaded, verified or extracted."""


class BuildError(SrcbuildError):
    """A configure/build/install/check command failed; carries the log path and its tail."""

    def __init__(self, message: str, hint: str = "", log_path: str = "", tail: str = "",
                 diagnosis: str = "", to_resolve: Sequence[str] = ()) -> None:
        super().__init__(message, hint, to_resolve)
        self.log_path = log_path
        self.tail = tail
        self.diagnosis = diagnosis  # what the tool's own logs say is missing


class InstallError(SrcbuildError):
    """Staging or merging into the prefix went wrong, or its state record is damaged."""


class LinkageError(SrcbuildError):
    """A staged ELF file loads a library the recipe does not declare, or one the loader
    cannot find: the merge is refused (the audit phase)."""


class DriftError(UsageError):
    """The resolution differs from the lock and --allow-drift was not given (exit 2)."""


class RequirementSyntaxError(ValueError):
    """A requirement text that is not KIND:NAME [OP VERSION]; recipe.py turns it into a
    RecipeError naming the file and key."""


# -- the binary cache -----------------------------------------------------------------------
class CorruptEntry(SrcbuildError):
    """A binary cache entry that does not match its manifest or its digests; nothing of it is
    unpacked (a folder cache removes it) and the package is built from source."""


class UntrustedEntry(CorruptEntry):
    """An entry refused by the signature checks (unsigned under --require-signed, signed only
    by a key not trusted, or a signature that does not match)."""


class TamperedEntry(UntrustedEntry):
    """An entry whose signature by a trusted key does not verify: changed after signing. A
    folder cache moves it aside; merely unsigned entries are only skipped."""


class CacheUnavailable(SrcbuildError):
    """A binary cache that cannot be used now (down, refusing, failing): said once, then the
    run goes on without it. ``read_only``: it may be read, but these credentials may not
    store."""

    def __init__(self, message: str, hint: str = "", read_only: bool = False) -> None:
        super().__init__(message, hint)
        self.read_only = read_only


class CacheMiss(SrcbuildError):
    """With --binary-cache-only: a package that no binary cache can restore."""


class NotStored(OSError):
    """No binary cache took an entry; the chain has already said why, once for the run.
    (An OSError, as every failed store is: the store phase only warns about those.)"""


class RegistryUnavailable(SrcbuildError):
    """An OCI registry that cannot be used now: unreachable, overloaded, or failing."""

    def __init__(self, message: str, hint: str = "", status: int | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


class RegistryDenied(RegistryUnavailable):
    """401 or 403: these credentials may not do this (often: may read but not push)."""


class DigestMismatch(SrcbuildError):
    """A registry's blob or manifest whose content does not hash to the digest it was asked
    by (the cache turns it into a CorruptEntry naming the entry)."""


class MissingCryptography(UsageError):
    """Signing or checking signatures without the ``cryptography`` package installed."""
