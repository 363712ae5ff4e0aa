"""env, uninstall, run, test: work on an installed prefix."""

from __future__ import annotations

import argparse
import json
import sys

from srcbuild import api
from srcbuild.commands.common import request
from srcbuild.errors import EXIT_FAILED, EXIT_OK, InstallError, UsageError
from srcbuild.safety import say


def env(args: argparse.Namespace) -> int:
    from srcbuild.buildenv import prefix_dirs, shell_exports

    prefix = (args.prefix or api.default_prefix()).resolve()
    if not prefix.is_dir():
        sys.stderr.write(f"warning: the prefix {prefix} does not exist: nothing is installed "
                         "there yet (these lines point at it anyway).\n")
    if args.json:
        print(json.dumps(prefix_dirs(prefix), indent=1))
    else:
        sys.stdout.write(shell_exports(prefix, "fish" if args.shell == "fish" else "sh"))
    return EXIT_OK


def uninstall(args: argparse.Namespace) -> int:
    """Several names: every one must be installed (else nothing is removed), and they go
    dependents first, so that `uninstall libpng zlib` works whatever the order given. With
    --with-dependents, what was built against them goes first too, once the list has been
    shown and agreed to (--yes, or an interactive yes)."""
    from srcbuild.state import PrefixState

    prefix = (args.prefix or api.default_prefix()).resolve()
    names = list(dict.fromkeys(args.names))
    api.recover(prefix)
    state = PrefixState(prefix)
    packages = state.packages()
    missing = [n for n in names if n not in packages]
    if missing:
        from srcbuild.suggest import close, did_you_mean

        near = [c for n in missing for c in close(n, packages)]
        installed = ", ".join(sorted(packages)) or "nothing"
        raise InstallError(f"Not installed in {prefix}: {', '.join(missing)}; nothing was "
                           "removed.",
                           did_you_mean(near) if near else f"Installed there: {installed}.")
    if args.with_dependents:
        users = list(dict.fromkeys(u for n in names for u in api.dependents_of(prefix, n)
                                   if u not in names))
        if users:
            say(f"Built against {', '.join(names)} in {prefix}, removed first: "
                f"{', '.join(users)}.")
            if not args.assume_yes and not _agreed(
                    f"uninstall {' '.join(names)} --with-dependents"):
                say("Nothing was removed.")
                return EXIT_FAILED
        names = users + names
    for name in reverse_dependency_order(names, {n: list(packages[n].requires) for n in names}):
        removed = api.uninstall(prefix, name)
        say(f"Removed {name}: {len(removed)} file(s) from {prefix}.")
    return EXIT_OK


def _agreed(what: str) -> bool:
    if not sys.stdin.isatty():
        raise UsageError(f"`srcbuild {what}` asks before it removes them, and standard input "
                         "is not a terminal.", "Add --yes to remove them without asking.")
    return input("Remove them all? [y/N] ").strip().lower() in ("y", "yes")


def reverse_dependency_order(names: list[str], requires: dict[str, list[str]]) -> list[str]:
    """``names`` with every package before the packages it was built against."""
    out: list[str] = []

    def visit(name: str, seen: tuple[str, ...]) -> None:
        if name in out or name in seen:
            return
        for user in names:  # what was built against it goes first
            if name in requires.get(user, []):
                visit(user, seen + (name,))
        out.append(name)

    for name in names:
        visit(name, ())
    return out


def run(args: argparse.Namespace) -> int:
    """Arguments after `--` (args.extra) are appended to the launch command."""
    req = request(args)
    req.targets = [args.name]
    return api.launch(req, args.name, args.extra)


def test(args: argparse.Namespace) -> int:
    """Each package's check against the prefix: its PASS:/SKIP: lines, a verdict line per
    package, and one for the whole; exit 1 when a check failed or checked nothing."""
    from srcbuild.recheck import recheck

    req = request(args)
    prefix = req.prefix.resolve()
    api.recover(prefix)
    results = [recheck(req, name, prefix) for name in dict.fromkeys(args.names)]
    for r in results:  # the check's output is the build's: escaped on its way to the terminal
        if r.output_on_failure:
            say(f"--- {r.name}: last lines of its check ---\n{r.output_on_failure}\n---")
        for line in r.lines.lines():
            say(f"  {r.name}: {line}")
        say(f"{r.name}: {r.verdict}")
    bad = [r.name for r in results if not r.ok]
    if len(results) > 1:
        say(f"test: {len(results) - len(bad)} of {len(results)} passed"
            + (f"; not passed: {', '.join(bad)}" if bad else ""))
    return EXIT_FAILED if bad else EXIT_OK
