"""Build systems, one class per file; ``for_recipe`` picks the class a recipe names."""

from __future__ import annotations

from srcbuild.builders.autotools import Autotools
from srcbuild.builders.base import BuildContext, Builder
from srcbuild.builders.cmake import CMake
from srcbuild.builders.custom import Custom
from srcbuild.builders.kbuild import Kbuild
from srcbuild.builders.make import Make
from srcbuild.builders.meson import Meson

BUILDERS: dict[str, type[Builder]] = {
    cls.name: cls for cls in (Autotools, Meson, CMake, Make, Kbuild, Custom)
}


def for_context(ctx: BuildContext) -> Builder:
    return BUILDERS[ctx.recipe.system](ctx)


__all__ = ["BUILDERS", "BuildContext", "Builder", "for_context"]
