from __future__ import annotations

from srcbuild.builders.base import Builder
from srcbuild.kinds import BuildSystem
from srcbuild.templates import Command


class CMake(Builder):
    """cmake with the prefix as install prefix and rpath, lib/ as libdir."""

    name = BuildSystem.CMAKE

    def configure(self) -> list[Command]:
        c = self.ctx
        return [["cmake", "-S", str(c.source_dir), "-B", str(c.build_dir),
                 f"-DCMAKE_INSTALL_PREFIX={c.prefix}", "-DCMAKE_BUILD_TYPE=Release",
                 "-DCMAKE_INSTALL_LIBDIR=lib", f"-DCMAKE_INSTALL_RPATH={c.prefix}/lib",
                 f"-DCMAKE_PREFIX_PATH={c.prefix}", *c.args("configure_args")]]

    def build(self) -> list[Command]:
        c = self.ctx
        return [["cmake", "--build", str(c.build_dir), "-j", str(c.jobs), *c.args("make_args")]]

    def install(self) -> list[Command]:
        c = self.ctx
        return [["cmake", "--install", str(c.build_dir), *c.args("install_args")]]

    def env(self) -> dict[str, str]:
        return {"DESTDIR": str(self.ctx.destdir)}
