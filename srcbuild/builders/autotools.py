from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from srcbuild.builders.base import Builder, PhaseTools, has_make_target
from srcbuild.errors import BuildError
from srcbuild.kinds import BuildSystem, Phase
from srcbuild.recipe import Recipe
from srcbuild.templates import Command

# what `autoreconf -fi` runs: autoconf (autoreconf, autom4te on m4), automake (aclocal),
# libtool (libtoolize); declared only with `[build] autoreconf = true`, since a plan cannot
# see whether a source it has not fetched ships a configure script
AUTORECONF_TOOLS = ("program:autoreconf", "program:autoconf", "program:automake",
                    "program:aclocal", "program:libtoolize", "program:m4")


def _lacks_configure(source_dir: Path) -> bool:
    return not (source_dir / "configure").exists() and any(
        (source_dir / f).exists() for f in ("configure.ac", "configure.in"))


def _autoreconf(recipe: Recipe, source_dir: Path) -> bool:
    """True when the default configure step starts with ``autoreconf -fi``: asked for with
    ``autoreconf = true``, or a source with configure.ac and no configure script."""
    if recipe.build.get(Phase.CONFIGURE) is not None:
        return False  # the recipe's own configure commands are in charge
    return bool(recipe.build.get("autoreconf", False)) or _lacks_configure(source_dir)


class Autotools(Builder):
    """``configure --prefix && make && make install DESTDIR=``, from a separate build folder;
    ``make check`` is the test suite."""

    name = BuildSystem.AUTOTOOLS
    phase_tools: ClassVar[PhaseTools] = {Phase.BUILD: ("program:make",),
                                         Phase.INSTALL: ("program:make",)}

    @classmethod
    def default_tools(cls, recipe: Recipe) -> tuple[str, ...]:
        tools = super().default_tools(recipe)
        if recipe.build.get("autoreconf", False) and recipe.build.get(Phase.CONFIGURE) is None:
            tools += tuple(t for t in AUTORECONF_TOOLS if t not in tools)
        return tools

    @classmethod
    def needs_copy(cls, recipe: Recipe, source_dir: Path) -> bool:
        # autoreconf writes into the source tree: it gets a private copy
        return super().needs_copy(recipe, source_dir) or _autoreconf(recipe, source_dir)

    def configure(self) -> list[Command]:
        c = self.ctx
        steps: list[Command] = []
        script = Path(c.source_dir, "configure")
        if _autoreconf(c.recipe, c.source_dir):
            steps.append(["autoreconf", "-fi", str(c.source_dir)])
        steps.append([str(script), f"--prefix={c.prefix}", *c.args("configure_args")])
        return steps

    def preflight(self, env: Mapping[str, str]) -> None:
        """A source without configure, in a recipe that does not say ``autoreconf = true``:
        the plan could not see autoreconf's tools, so a machine without them is told how."""
        c = self.ctx
        if c.recipe.build.get("autoreconf", False) or not _autoreconf(c.recipe, c.source_dir):
            return
        if shutil.which("autoreconf", path=env.get("PATH", os.defpath)) is not None:
            return
        raise BuildError(
            f"{c.recipe.name} {c.recipe.version}: its source has configure.ac but no configure "
            "script, so srcbuild would generate one with `autoreconf -fi`, and autoreconf is "
            "not on PATH.",
            f"Recipe: {c.recipe.path}.",
            to_resolve=[
                ("Add `autoreconf = true` to its [build] table: the plan then shows autoreconf, "
                "automake, libtoolize and m4, and builds them from the autoconf, automake, "
                "libtool and m4 recipes when the system lacks them."),
                "Or install them: apt-get install autoconf automake libtool."])

    def build(self) -> list[Command]:
        return [["make", f"-j{self.ctx.jobs}", *self.ctx.args("make_args")]]

    def test(self) -> list[Command]:
        return [["make", f"-j{self.ctx.jobs}", "check", *self.ctx.args("make_args")]]

    def missing_test_suite(self, env: Mapping[str, str]) -> str:
        if has_make_target(self.ctx.build_dir, "check", env):
            return ""
        return "its Makefile has no `check` target"

    def install(self) -> list[Command]:
        c = self.ctx
        return [["make", "install", f"DESTDIR={c.destdir}", *c.args("make_args"),
                 *c.args("install_args")]]
