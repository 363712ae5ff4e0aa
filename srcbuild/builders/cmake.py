from __future__ import annotations

from typing import ClassVar

from srcbuild.builders.base import Builder, PhaseTools
from srcbuild.kinds import BuildSystem, Phase
from srcbuild.templates import Command


class CMake(Builder):
    """cmake with the prefix as install prefix and rpath, lib/ as libdir."""

    name = BuildSystem.CMAKE
    # make: CMake's default generator on Linux writes Makefiles (configure looks for make)
    phase_tools: ClassVar[PhaseTools] = {Phase.CONFIGURE: ("program:cmake", "program:make"),
                                         Phase.BUILD: ("program:cmake", "program:make"),
                                         Phase.INSTALL: ("program:cmake",)}
    no_tests_marker = "No tests were found!!!"

    def configure(self) -> list[Command]:
        c = self.ctx
        return [["cmake", "-S", str(c.source_dir), "-B", str(c.build_dir),
                 f"-DCMAKE_INSTALL_PREFIX={c.prefix}", "-DCMAKE_BUILD_TYPE=Release",
                 "-DCMAKE_INSTALL_LIBDIR=lib", f"-DCMAKE_INSTALL_RPATH={c.prefix}/lib",
                 f"-DCMAKE_PREFIX_PATH={c.prefix}", *c.args("configure_args")]]

    def build(self) -> list[Command]:
        c = self.ctx
        return [["cmake", "--build", str(c.build_dir), "-j", str(c.jobs), *c.args("make_args")]]

    def test(self) -> list[Command]:
        """ctest in the build folder; a project without tests (no enable_testing) passes."""
        return [["ctest", "--output-on-failure", "-j", str(self.ctx.jobs)]]

    def install(self) -> list[Command]:
        c = self.ctx
        return [["cmake", "--install", str(c.build_dir), *c.args("install_args")]]

    def env(self) -> dict[str, str]:
        return {"DESTDIR": str(self.ctx.destdir)}
