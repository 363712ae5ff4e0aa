"""A build system is a short list of phases with overridable arguments (the Spack model).

A recipe's ``[build]`` table states only what differs: extra ``configure_args``, ``make_args``
and ``install_args``, or whole ``configure`` / ``build`` / ``install`` command lists. What a
build system needs beyond its commands (variables, no host compiler flags, a private copy
of the source) is said here too, never in the engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from srcbuild import ccprobe
from srcbuild.errors import UnsatisfiedError
from srcbuild.install import staged_prefix
from srcbuild.kinds import Phase
from srcbuild.recipe import Recipe
from srcbuild.templates import (
    Command,
    Folders,
    cc_requirement,
    render,
    render_command,
    template_context,
)


@dataclass(frozen=True)
class BuildContext:
    """Everything a builder may use: the recipe, its options, the folders, the job count and
    the source's SOURCE_DATE_EPOCH."""

    recipe: Recipe
    options: dict[str, str]
    prefix: Path
    source_dir: Path
    build_dir: Path
    destdir: Path
    jobs: int
    epoch: int = 0

    @property
    def stage(self) -> Path:
        """The prefix inside the staging DESTDIR."""
        return staged_prefix(self.destdir, self.prefix)

    def template_vars(self) -> dict[str, Any]:
        ctx = template_context(self.recipe, self.options, self.prefix, self.jobs,
                               Folders(self.source_dir, self.build_dir, self.destdir))
        if self.cross_compile:
            ctx["cross_compile"] = self.cross_compile
        return ctx

    @cached_property
    def cross_compile(self) -> str:
        """``{{ cross_compile }}`` for a recipe with a ``cc:`` requirement: the CROSS_COMPILE
        prefix of the compiler chosen now, with the prefix as it is after the merges of the
        packages before this one (cross-toolchain's), else ""."""
        ctx = template_context(self.recipe, self.options, self.prefix, self.jobs)
        target = cc_requirement(self.recipe, ctx)
        return cross_compile_for(target, self.prefix) if target else ""

    def render(self, text: str, key: str) -> str:
        return render(text, self.template_vars(), f"{self.recipe.path} [build] {key}")

    def args(self, key: str) -> list[str]:
        return [self.render(a, key) for a in self.recipe.build.get(key, [])]


def cross_compile_for(target: str, prefix: Path) -> str:
    """The CROSS_COMPILE prefix of the first compiler that links static programs for
    ``target`` (the prefix's toolchains first); an error naming each failure when none does."""
    environ = dict(os.environ)
    attempts = ccprobe.probe(target, prefix, environ, ccprobe.default_cache_dir(environ),
                             fresh=True)
    good = ccprobe.chosen(attempts)
    if good is None:
        why = "; ".join(f"{a.compiler} {a.reason}" for a in attempts) or "none on PATH"
        raise UnsatisfiedError(f"No C compiler links static programs for {target}: {why}.",
                               "srcbuild doctor says why and what to install; or build "
                               "recipe cross-toolchain (--from-source cross-toolchain).")
    return good.cross_compile


# the programs of each phase's default commands, as requirement texts
PhaseTools = Mapping[Phase, tuple[str, ...]]
# the phases whose commands a recipe may give in [build] (test only runs with --test)
COMMAND_PHASES = (Phase.CONFIGURE, Phase.BUILD, Phase.TEST, Phase.INSTALL)


class Builder:
    """Default phases of one build system; subclasses fill in the command lists."""

    name: ClassVar[str] = ""
    # CPPFLAGS/LDFLAGS with the prefix's include and lib folders (and an rpath): wrong for
    # a kernel, which is not a program of the host
    compiler_flags: ClassVar[bool] = True
    # the programs each phase's default commands run, as requirement texts: the resolver
    # adds them to a recipe's tools, so that plan and doctor see them
    phase_tools: ClassVar[PhaseTools] = {}
    # what the default test command prints when the project defines no test at all
    no_tests_marker: ClassVar[str] = ""

    def __init__(self, ctx: BuildContext) -> None:
        self.ctx = ctx

    @classmethod
    def needs_copy(cls, recipe: Recipe, source_dir: Path) -> bool:
        """True when this package must build in a private copy of its source."""
        return bool(recipe.build.get("in_source", False))

    @classmethod
    def default_tools(cls, recipe: Recipe) -> tuple[str, ...]:
        """The tools of the default commands this recipe keeps (a phase whose commands the
        recipe gives needs none of its defaults' tools). The test phase's are left out: its
        programs are those of the build."""
        out: list[str] = []
        for phase in (Phase.CONFIGURE, Phase.BUILD, Phase.INSTALL):
            if recipe.build.get(phase) is None:
                out += [t for t in cls.phase_tools.get(phase, ()) if t not in out]
        return tuple(out)

    def configure(self) -> list[Command]:
        return []

    def build(self) -> list[Command]:
        return []

    def test(self) -> list[Command]:
        """The package's own test suite (run only with --test); none by default."""
        return []

    def install(self) -> list[Command]:
        return []

    def missing_test_suite(self, env: Mapping[str, str]) -> str:
        """Why the default test commands have nothing to run here (a Makefile without the
        target), or '' when they do."""
        return ""

    def preflight(self, env: Mapping[str, str]) -> None:
        """Raise, saying what to do, when a default command cannot run in ``env``; called
        before the configure phase."""

    def env(self) -> dict[str, str]:
        """Variables this build system needs on top of the common prefix environment."""
        return {}

    def commands(self, phase: Phase) -> list[Command]:
        """The recipe's own commands for ``phase`` when it gives them, else the defaults."""
        given = self.ctx.recipe.build.get(phase)
        if given is not None:
            where = f"{self.ctx.recipe.path} [build] {phase}"
            return [render_command(c, self.ctx.template_vars(), where) for c in given]
        defaults = {Phase.CONFIGURE: self.configure, Phase.BUILD: self.build,
                    Phase.TEST: self.test, Phase.INSTALL: self.install}
        return defaults[phase]()

    def gives(self, phase: Phase) -> bool:
        """True when the recipe gives this phase's commands itself."""
        return self.ctx.recipe.build.get(phase) is not None


def has_make_target(build_dir: Path, target: str, env: Mapping[str, str]) -> bool:
    """Whether the Makefile in ``build_dir`` has ``target``: ``make -n TARGET`` (a dry run)
    and GNU make's "No rule to make target" on stderr, the way Spack's MakefilePackage asks
    (a grep for ``TARGET:`` would miss included and generated makefiles)."""
    if not any((build_dir / f).is_file() for f in ("GNUmakefile", "makefile", "Makefile")):
        return False
    try:
        cp = subprocess.run(["make", "-n", target], cwd=build_dir, env=dict(env), check=False,
                            capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return True  # let the real command run and say what is wrong
    missing = (f"No rule to make target '{target}'", f"No rule to make target `{target}'")
    return not (cp.returncode != 0 and any(m in cp.stderr for m in missing))


def copy_source(source_dir: Path, build_dir: Path) -> None:
    """For packages that cannot build out of tree: a private copy, never the cache's tree."""
    if build_dir.exists():
        shutil.rmtree(build_dir)
    shutil.copytree(source_dir, build_dir, symlinks=True)
