"""A build system is a short list of phases with overridable arguments (the Spack model).

A recipe's ``[build]`` table states only what differs: extra ``configure_args``, ``make_args``
and ``install_args``, or whole ``configure`` / ``build`` / ``install`` step lists.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from srcbuild.recipe import Recipe, Step, render

PHASES = ("configure", "build", "install")


@dataclass(frozen=True)
class BuildContext:
    recipe: Recipe
    options: dict[str, str]
    prefix: Path
    source_dir: Path
    build_dir: Path
    destdir: Path
    jobs: int

    @property
    def stage(self) -> Path:
        """The prefix inside the staging DESTDIR."""
        return Path(str(self.destdir) + str(self.prefix))

    def template_vars(self) -> dict[str, Any]:
        return {"name": self.recipe.name, "version": self.recipe.version,
                "prefix": str(self.prefix), "jobs": self.jobs, "options": dict(self.options),
                "source_dir": str(self.source_dir), "build_dir": str(self.build_dir),
                "destdir": str(self.destdir), "stage": str(self.stage),
                "recipe_dir": str(self.recipe.path.parent), "python": sys.executable}

    def render(self, text: str, key: str) -> str:
        return render(text, self.template_vars(), f"{self.recipe.path} [build] {key}")

    def args(self, key: str) -> list[str]:
        return [self.render(a, key) for a in self.recipe.build.get(key, [])]


class Builder:
    """Default phases of one build system; subclasses fill in the three step lists."""

    name: ClassVar[str] = ""

    def __init__(self, ctx: BuildContext) -> None:
        self.ctx = ctx

    @classmethod
    def needs_copy(cls, recipe: Recipe, source_dir: Path) -> bool:
        """True when this package must build in a private copy of its source."""
        return bool(recipe.build.get("in_source", False))

    def configure(self) -> list[Step]:
        return []

    def build(self) -> list[Step]:
        return []

    def install(self) -> list[Step]:
        return []

    def env(self) -> dict[str, str]:
        """Variables this build system needs on top of the common prefix environment."""
        return {}

    def steps(self, phase: str) -> list[Step]:
        """The recipe's own steps for ``phase`` when it gives them, else the defaults."""
        given = self.ctx.recipe.build.get(phase)
        if given is not None:
            out: list[Step] = []
            for step in given:
                if isinstance(step, dict):
                    out.append({"shell": self.ctx.render(step["shell"], phase)})
                else:
                    out.append([self.ctx.render(a, phase) for a in step])
            return out
        steps: list[Step] = getattr(self, phase)()
        return steps


def copy_source(source_dir: Path, build_dir: Path) -> None:
    """For packages that cannot build out of tree: a private copy, never the cache's tree."""
    if build_dir.exists():
        shutil.rmtree(build_dir)
    shutil.copytree(source_dir, build_dir, symlinks=True)
