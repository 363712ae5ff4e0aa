from __future__ import annotations

from srcbuild.builders.base import Builder
from srcbuild.kinds import BuildSystem


class Custom(Builder):
    """Only the steps the recipe writes; each runs in the build folder."""

    name = BuildSystem.CUSTOM
