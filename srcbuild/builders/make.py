from __future__ import annotations

from pathlib import Path

from srcbuild.builders.base import Builder
from srcbuild.kinds import BuildSystem
from srcbuild.recipe import Recipe
from srcbuild.templates import Command


class Make(Builder):
    """Plain make: built in a private copy of the source (most Makefiles cannot build out of tree)."""

    name = BuildSystem.MAKE

    @classmethod
    def needs_copy(cls, recipe: Recipe, source_dir: Path) -> bool:
        return bool(recipe.build.get("in_source", True))

    def build(self) -> list[Command]:
        c = self.ctx
        return [["make", f"-j{c.jobs}", f"PREFIX={c.prefix}", *c.args("make_args")]]

    def install(self) -> list[Command]:
        c = self.ctx
        return [["make", "install", f"PREFIX={c.prefix}", f"DESTDIR={c.destdir}",
                 *c.args("make_args"), *c.args("install_args")]]
