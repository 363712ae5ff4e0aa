"""`srcbuild test NAME`: an installed package's check, run again against the prefix (the way
`brew test` runs a formula's test block), with a verdict that never calls a skip a pass.

The check is the recipe's current ``check``, rendered with the options the package was
built with; the prefix stands where the build had its stage (``{{ stage }}`` is the prefix,
``{{ destdir }}`` is empty), and a temporary folder where it had its build folder.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from srcbuild.buildenv import check_env
from srcbuild.errors import UnknownName
from srcbuild.loglines import CheckLines, check_lines
from srcbuild.runner import Sessions, describe, run
from srcbuild.state import PrefixState
from srcbuild.templates import Folders, command_argvs, template_context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from srcbuild.api import Request


@dataclass
class Recheck:
    """How one package's check went: ``ok`` only when it ran and something was checked."""

    name: str
    ok: bool
    verdict: str  # one line, after "NAME: "
    lines: CheckLines = field(default_factory=CheckLines)
    output_on_failure: str = ""  # the failed command's last lines


def recheck(req: Request, name: str, prefix: Path) -> Recheck:
    pkg = PrefixState(prefix).get(name)
    if pkg is None:
        from srcbuild.suggest import close, did_you_mean

        installed = sorted(PrefixState(prefix).packages())
        near = close(name, installed)
        raise UnknownName(f"{name} is not installed in {prefix}.",
                          did_you_mean(near) if near else
                          f"Install it first: srcbuild {name} --prefix {prefix}", name)
    book = req.book()
    if not book.has(name):
        return Recheck(name, False, f"FAILED: no recipe {name} in {', '.join(map(str, book.dirs))}"
                                    ": its check cannot be run (--recipes DIR?)")
    recipe = book.get(name)
    if not recipe.check:
        return Recheck(name, False, f"nothing tested: the recipe {recipe.path} has no check")
    known = {o.name for o in recipe.options}
    options = recipe.option_values({k: v for k, v in pkg.options.items() if k in known})
    older = "" if recipe.version == pkg.version else \
        f" (note: {pkg.version} is installed, the recipe is now {recipe.version})"
    with tempfile.TemporaryDirectory(prefix=f"srcbuild-test-{name}-") as tmp:
        work = Path(tmp)
        context = template_context(recipe, options, prefix, os.cpu_count() or 1,
                                   Folders(work, work, work))
        context.update(stage=str(prefix), destdir="")
        commands = command_argvs(recipe, recipe.check, context, "check")
        env = check_env(prefix, prefix, dict(os.environ))
        return _run_all(name, commands, work, env, prefix, older)


def _run_all(name: str, commands: list[list[str]], work: Path, env: dict[str, str],
             prefix: Path, older: str) -> Recheck:
    sessions = Sessions()
    found = CheckLines()
    skipped = 0
    for i, argv in enumerate(commands, 1):
        log = work / f"check-{i}.log"
        try:
            result = run(argv, work, env, log, sessions=sessions)
        except KeyboardInterrupt:
            sessions.stop()  # and wait for them: nothing of the check outlives srcbuild
            raise
        lines = check_lines(log.read_text(encoding="utf-8", errors="replace").splitlines())
        found.passed += lines.passed
        found.skipped += lines.skipped
        if result.returncode != 0:
            return Recheck(name, False, f"FAILED: check command {i} of {len(commands)} "
                                        f"`{describe(argv)}` exited {result.returncode}{older}",
                           found, result.tail)
        skipped += bool(lines.skipped and not lines.passed)
    n = len(commands)
    if skipped == n:
        return Recheck(name, False, f"checked nothing: every check command skipped (the SKIP "
                                    f"lines say why){older}", found)
    ran = f"{n - skipped} of {n} check commands ran" if skipped else \
        f"{n} check command{'s' if n != 1 else ''} ran"
    return Recheck(name, True, f"passed: {ran} against {prefix}"
                               + (f", {skipped} skipped" if skipped else "") + older, found)
