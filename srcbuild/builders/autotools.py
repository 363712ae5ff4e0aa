from __future__ import annotations

from pathlib import Path

from srcbuild.builders.base import Builder
from srcbuild.kinds import BuildSystem
from srcbuild.recipe import Recipe
from srcbuild.templates import Command


def _needs_autoreconf(source_dir: Path) -> bool:
    return not (source_dir / "configure").exists() and any(
        (source_dir / f).exists() for f in ("configure.ac", "configure.in"))


class Autotools(Builder):
    """``configure --prefix && make && make install DESTDIR=``, from a separate build folder."""

    name = BuildSystem.AUTOTOOLS

    @classmethod
    def needs_copy(cls, recipe: Recipe, source_dir: Path) -> bool:
        # autoreconf writes into the source tree: it gets a private copy
        return super().needs_copy(recipe, source_dir) or _needs_autoreconf(source_dir)

    def configure(self) -> list[Command]:
        c = self.ctx
        steps: list[Command] = []
        script = Path(c.source_dir, "configure")
        if _needs_autoreconf(c.source_dir):
            steps.append(["autoreconf", "-fi", str(c.source_dir)])
        steps.append([str(script), f"--prefix={c.prefix}", *c.args("configure_args")])
        return steps

    def build(self) -> list[Command]:
        return [["make", f"-j{self.ctx.jobs}", *self.ctx.args("make_args")]]

    def install(self) -> list[Command]:
        c = self.ctx
        return [["make", "install", f"DESTDIR={c.destdir}", *c.args("make_args"),
                 *c.args("install_args")]]
