"""Errors that carry what a user needs: what failed, where, and what to do next."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNSATISFIED = 3


class SrcbuildError(Exception):
    """Base error: a one-paragraph message plus an optional hint, mapped to an exit code."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class UsageError(SrcbuildError):
    exit_code = EXIT_USAGE


class RecipeError(SrcbuildError):
    """A recipe file that does not parse or does not follow the contract."""

    exit_code = EXIT_USAGE


class UnsatisfiedError(SrcbuildError):
    """A requirement that neither the prefix, the system nor any recipe satisfies."""

    exit_code = EXIT_UNSATISFIED


class FetchError(SrcbuildError):
    exit_code = EXIT_FAILED


class BuildError(SrcbuildError):
    """A configure/build/install/check step failed; carries the log path and its tail."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str = "", log_path: str = "", tail: str = "",
                 diagnosis: str = "") -> None:
        super().__init__(message, hint)
        self.log_path = log_path
        self.tail = tail
        self.diagnosis = diagnosis  # what the tool's own logs say is missing


class InstallError(SrcbuildError):
    exit_code = EXIT_FAILED
