from __future__ import annotations

from srcbuild.builders.base import Builder


class Custom(Builder):
    """Only the steps the recipe writes; each runs in the build folder."""

    name = "custom"
