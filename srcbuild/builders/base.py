"""A build system is a short list of phases with overridable arguments (the Spack model).

A recipe's ``[build]`` table states only what differs: extra ``configure_args``, ``make_args``
and ``install_args``, or whole ``configure`` / ``build`` / ``install`` command lists. What a
build system needs beyond its commands (variables, no host compiler flags, a private copy
of the source) is said here too, never in the engine.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from srcbuild.install import staged_prefix
from srcbuild.kinds import Phase
from srcbuild.recipe import Recipe
from srcbuild.templates import Command, Folders, render, render_command, template_context


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
        return template_context(self.recipe, self.options, self.prefix, self.jobs,
                                Folders(self.source_dir, self.build_dir, self.destdir))

    def render(self, text: str, key: str) -> str:
        return render(text, self.template_vars(), f"{self.recipe.path} [build] {key}")

    def args(self, key: str) -> list[str]:
        return [self.render(a, key) for a in self.recipe.build.get(key, [])]


class Builder:
    """Default phases of one build system; subclasses fill in the three command lists."""

    name: ClassVar[str] = ""
    # CPPFLAGS/LDFLAGS with the prefix's include and lib folders (and an rpath): wrong for
    # a kernel, which is not a program of the host
    compiler_flags: ClassVar[bool] = True

    def __init__(self, ctx: BuildContext) -> None:
        self.ctx = ctx

    @classmethod
    def needs_copy(cls, recipe: Recipe, source_dir: Path) -> bool:
        """True when this package must build in a private copy of its source."""
        return bool(recipe.build.get("in_source", False))

    def configure(self) -> list[Command]:
        return []

    def build(self) -> list[Command]:
        return []

    def install(self) -> list[Command]:
        return []

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
                    Phase.INSTALL: self.install}
        return defaults[phase]()


def copy_source(source_dir: Path, build_dir: Path) -> None:
    """For packages that cannot build out of tree: a private copy, never the cache's tree."""
    if build_dir.exists():
        shutil.rmtree(build_dir)
    shutil.copytree(source_dir, build_dir, symlinks=True)
