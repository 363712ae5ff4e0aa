from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from srcbuild.builders.base import Builder, PhaseTools, has_make_target
from srcbuild.kinds import BuildSystem, Phase
from srcbuild.recipe import Recipe
from srcbuild.templates import Command


class Make(Builder):
    """Plain make: built in a private copy of the source (most Makefiles cannot build out of tree)."""

    name = BuildSystem.MAKE
    phase_tools: ClassVar[PhaseTools] = {Phase.BUILD: ("program:make",),
                                         Phase.INSTALL: ("program:make",)}

    @classmethod
    def needs_copy(cls, recipe: Recipe, source_dir: Path) -> bool:
        return bool(recipe.build.get("in_source", True))

    def build(self) -> list[Command]:
        c = self.ctx
        return [["make", f"-j{c.jobs}", f"PREFIX={c.prefix}", *c.args("make_args")]]

    def test(self) -> list[Command]:
        c = self.ctx
        return [["make", f"-j{c.jobs}", "test", f"PREFIX={c.prefix}", *c.args("make_args")]]

    def missing_test_suite(self, env: Mapping[str, str]) -> str:
        if has_make_target(self.ctx.build_dir, "test", env):
            return ""
        return "its Makefile has no `test` target"

    def install(self) -> list[Command]:
        c = self.ctx
        return [["make", "install", f"PREFIX={c.prefix}", f"DESTDIR={c.destdir}",
                 *c.args("make_args"), *c.args("install_args")]]
