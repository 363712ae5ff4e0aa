from __future__ import annotations

from typing import ClassVar

from srcbuild.builders.base import Builder, PhaseTools
from srcbuild.kinds import BuildSystem, Phase
from srcbuild.templates import Command


class Kbuild(Builder):
    """The Linux kernel's kbuild: ``make -C SRC O=BUILD ARCH=...``; the tree stays clean."""

    name = BuildSystem.KBUILD
    compiler_flags = False  # the host's CPPFLAGS/LDFLAGS must not reach a kernel build
    phase_tools: ClassVar[PhaseTools] = {Phase.BUILD: ("program:make",)}

    def _make(self) -> list[str]:
        c = self.ctx
        argv = ["make", "-C", str(c.source_dir), f"O={c.build_dir}"]
        if "arch" in c.options:
            argv.append(f"ARCH={c.options['arch']}")
        return argv

    def build(self) -> list[Command]:
        return [[*self._make(), f"-j{self.ctx.jobs}", *self.ctx.args("make_args")]]

    def install(self) -> list[Command]:
        args = self.ctx.args("install_args")
        return [[*self._make(), *args]] if args else []

    def env(self) -> dict[str, str]:
        """kbuild stamps time, user and host into the image: fixed, for reproducible kernels."""
        return {"KBUILD_BUILD_TIMESTAMP": f"@{self.ctx.epoch}",
                "KBUILD_BUILD_USER": "srcbuild", "KBUILD_BUILD_HOST": "srcbuild"}
