"""Build systems, one class per file; ``BUILDERS`` maps a recipe's ``[build] system`` to it.

A new build system is a Builder subclass in a file here and one entry in BUILDERS (and a
member of kinds.BuildSystem).
"""

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

__all__ = ["BUILDERS", "BuildContext", "Builder"]
