from __future__ import annotations

from typing import ClassVar

from srcbuild.builders.base import Builder, PhaseTools
from srcbuild.kinds import BuildSystem, Phase
from srcbuild.templates import Command


class Meson(Builder):
    """``meson setup`` with ``--libdir=lib`` so every distribution lays the prefix out alike."""

    name = BuildSystem.MESON
    phase_tools: ClassVar[PhaseTools] = {Phase.CONFIGURE: ("program:meson", "program:ninja"),
                                         Phase.BUILD: ("program:meson", "program:ninja"),
                                         Phase.INSTALL: ("program:meson",)}
    no_tests_marker = "No tests defined."

    def configure(self) -> list[Command]:
        c = self.ctx
        return [["meson", "setup", str(c.build_dir), str(c.source_dir), f"--prefix={c.prefix}",
                 "--libdir=lib", "--buildtype=release", "--wrap-mode=nodownload",
                 f"-Dpkg_config_path={c.prefix}/lib/pkgconfig",
                 *c.args("configure_args")]]

    def build(self) -> list[Command]:
        c = self.ctx
        return [["meson", "compile", "-C", str(c.build_dir), "-j", str(c.jobs),
                 *c.args("make_args")]]

    def test(self) -> list[Command]:
        c = self.ctx
        return [["meson", "test", "-C", str(c.build_dir), "--print-errorlogs", "-j",
                 str(c.jobs)]]

    def install(self) -> list[Command]:
        c = self.ctx
        return [["meson", "install", "-C", str(c.build_dir), "--no-rebuild", "--destdir",
                 str(c.destdir), *c.args("install_args")]]
