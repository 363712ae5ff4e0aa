from __future__ import annotations

from srcbuild.builders.base import Builder
from srcbuild.recipe import Step


class Kbuild(Builder):
    """The Linux kernel's kbuild: ``make -C SRC O=BUILD ARCH=...``; the tree stays clean."""

    name = "kbuild"

    def _make(self) -> list[str]:
        c = self.ctx
        argv = ["make", "-C", str(c.source_dir), f"O={c.build_dir}"]
        if "arch" in c.options:
            argv.append(f"ARCH={c.options['arch']}")
        return argv

    def build(self) -> list[Step]:
        return [[*self._make(), f"-j{self.ctx.jobs}", *self.ctx.args("make_args")]]

    def install(self) -> list[Step]:
        args = self.ctx.args("install_args")
        return [[*self._make(), *args]] if args else []
