"""cc: requirements name a capability (a C compiler that links static programs for a target),
and the probe proves it by compiling and linking a real program with each candidate.

The candidates are stand-ins on PATH: wrappers around the host's gcc, which is real. One
fails the way Debian's aarch64-linux-gnu-gcc fails without libc6-dev-arm64-cross (no C
library headers); one links static programs, but for x86-64, so it is rejected for
aarch64 and accepted for cc:x86_64-linux (plumbing: the same code path as a real cross
compiler, with the host's own machine as the target).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from pkgfactory import recipe

from srcbuild import ccprobe
from srcbuild.probes import SystemProbe
from srcbuild.requirement import parse

HOST_TOOLS = ("as", "ld", "ar", "objcopy", "strip", "readelf")

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None or not os.path.exists(
    "/usr/lib/x86_64-linux-gnu/libc.a"), reason="needs the host gcc and a static libc.a "
    "(libc6-dev) on x86-64")


def fake_toolchain(bindir: Path, triplet: str, gcc_args: str) -> Path:
    """TRIPLET-gcc running the host gcc with ``gcc_args`` (and logging each run), and
    TRIPLET-as, -ld, ... as links to the host's binutils."""
    bindir.mkdir(parents=True, exist_ok=True)
    gcc = bindir / f"{triplet}-gcc"
    gcc.write_text(f'#!/bin/sh\necho "$@" >> "{bindir}/runs"\nexec gcc {gcc_args} "$@"\n')
    gcc.chmod(0o755)
    for tool in HOST_TOOLS:
        host = shutil.which(tool)
        assert host, tool
        (bindir / f"{triplet}-{tool}").symlink_to(host)
    return gcc


def plan_json(sb, env: dict[str, str], *args: str) -> dict:
    return json.loads(sb("plan", *args, "--json", env=env, check=None).stdout)


def runs(bindir: Path) -> int:
    log = bindir / "runs"
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A PATH with the stand-ins first and a private verdict cache."""
    return {"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
            "SRCBUILD_CACHE": str(tmp_path / "verdicts")}


def without_c_library(tmp_path: Path) -> str:
    """gcc arguments for a compiler that fails like Debian's aarch64-linux-gnu-gcc without
    libc6-dev-arm64-cross: it reads a stdio.h whose libc part is missing."""
    include = tmp_path / "include"
    include.mkdir()
    (include / "stdio.h").write_text("#include <bits/wordsize.h>\n")
    return f"-nostdinc -I{include}"


def test_a_compiler_without_a_c_library_is_rejected_and_doctor_says_why(sb, tmp_path, env):
    fake_toolchain(tmp_path / "bin", "aarch64-linux-gnu", without_c_library(tmp_path))
    plan = plan_json(sb, env, "kvm-sample-arm64")
    res = [r for r in plan["requirements"] if r["requirement"] == "cc:aarch64-linux"]
    assert res and all(r["recipe"] == "cross-toolchain" and r["satisfied_by"] == "recipe"
                       for r in res), res
    # a group has no version of its own: not "the recipe cross-toolchain provides 0"
    assert res[0]["reason"] == ("no compiler here links a static program for it (`srcbuild "
                                "doctor` says why); the group cross-toolchain provides it"), res[0]
    assert "cross-toolchain" in [s["recipe"] for s in plan["steps"]]
    text = sb("plan", "kvm-sample-arm64", env=env, check=None).stdout
    assert "  kvm-sample-arm64: cc:aarch64-linux -> recipe cross-toolchain\n" in text, text

    doctor = sb("doctor", "kvm-sample-arm64", env=env, check=None)
    text = doctor.stdout + doctor.stderr
    assert (f"aarch64-linux-gnu-gcc ({tmp_path / 'bin' / 'aarch64-linux-gnu-gcc'}) cannot link "
            "a static program: bits/wordsize.h: No such file or directory" in text), text
    assert "gcc-aarch64-linux-gnu libc6-dev-arm64-cross (apt)" in text, text
    assert "srcbuild cross-toolchain" in text, text


def test_the_verdict_is_cached_by_the_compiler_and_asked_again_when_it_changes(tmp_path, env):
    gcc = fake_toolchain(tmp_path / "bin", "aarch64-linux-gnu", without_c_library(tmp_path))
    cache = tmp_path / "verdicts"
    first = ccprobe.probe("aarch64-linux", tmp_path / "prefix", env, cache, fresh=True)
    assert [a.ok for a in first] == [False] and runs(tmp_path / "bin") == 1
    again = ccprobe.probe("aarch64-linux", tmp_path / "prefix", env, cache, fresh=True)
    assert again == first and runs(tmp_path / "bin") == 1  # from the cache: not run
    # a new compiler (same path, new contents): asked again
    gcc.write_text(gcc.read_text().replace("-nostdinc", "-nostdinc "))
    ccprobe.probe("aarch64-linux", tmp_path / "prefix", env, cache, fresh=True)
    assert runs(tmp_path / "bin") == 2


def test_a_static_compiler_for_another_machine_is_rejected(tmp_path, env):
    # links static programs, but x86-64 ones: not an aarch64 compiler whatever its name
    fake_toolchain(tmp_path / "bin", "aarch64-linux-gnu", "")
    probe = SystemProbe(tmp_path / "prefix", environ=env)
    assert probe.lookup(parse("cc:aarch64-linux")) is None
    (attempt,) = probe.cc_attempts("aarch64-linux")
    assert "makes programs for ELF machine 62, not aarch64" in attempt.reason


def test_a_compiler_without_its_binutils_is_rejected(tmp_path, env):
    gcc = fake_toolchain(tmp_path / "bin", "x86_64-linux-gnu", "")
    (tmp_path / "bin" / "x86_64-linux-gnu-objcopy").unlink()
    attempts = ccprobe.probe("x86_64-linux", tmp_path / "prefix", env, None, fresh=True)
    assert attempts[0].compiler == str(gcc)
    assert attempts[0].reason == "has no x86_64-linux-gnu-objcopy beside it"


def test_a_capable_compiler_is_chosen_and_given_to_the_build_as_cross_compile(
        sb, tmp_path, env):
    # plumbing with the host as the target: a wrapper around the host gcc links static
    # x86-64 programs, so it is a capable compiler for cc:x86_64-linux
    fake_toolchain(tmp_path / "bin", "x86_64-linux-gnu", "")
    recipe(tmp_path / "r", "static-hello", """
        version = "1"
        tools = ["cc:x86_64-linux"]
        [[source]]
        path = "."
        [build]
        system = "custom"
        build = [{shell = "printf 'int main(void){return 0;}' > h.c && {{ cross_compile }}gcc -static -o h h.c && echo {{ cross_compile }} > cc.txt"}]
        install = [["install", "-D", "h", "{{ stage }}/bin/static-hello"],
                   ["install", "-D", "cc.txt", "{{ stage }}/share/cross_compile"]]
        """)
    plan = plan_json(sb, env, "static-hello", "--recipes", str(tmp_path / "r"))
    (res,) = [r for r in plan["requirements"] if r["requirement"] == "cc:x86_64-linux"]
    assert res["satisfied_by"] == "system" and res["where"] == str(tmp_path / "bin" /
                                                                   "x86_64-linux-gnu-gcc")
    sb("static-hello", "--recipes", str(tmp_path / "r"), env=env)
    assert (sb.prefix / "share" / "cross_compile").read_text().strip() == \
        str(tmp_path / "bin" / "x86_64-linux-gnu-")
    assert runs(tmp_path / "bin") >= 2  # the probe's hello world, then the build's


def test_from_source_cross_toolchain_wins_over_a_capable_system_compiler(sb, tmp_path, env):
    fake_toolchain(tmp_path / "bin", "x86_64-linux-gnu", "")
    recipe(tmp_path / "r", "needs-cc", """
        version = "1"
        kind = "group"
        requires = ["cc:x86_64-linux"]
        """)
    # cross-toolchain for x86_64-linux-musl provides cc:x86_64-linux
    args = ("needs-cc", "--recipes", str(tmp_path / "r"), "-o", "target=x86_64-linux-musl")
    plain = plan_json(sb, env, *args)
    forced = plan_json(sb, env, *args, "--from-source", "cross-toolchain")

    def by(plan: dict) -> dict:
        (r,) = [r for r in plan["requirements"] if r["requirement"] == "cc:x86_64-linux"]
        return r

    assert by(plain)["satisfied_by"] == "system"
    assert by(forced)["recipe"] == "cross-toolchain"
    assert "cross-toolchain" in [s["recipe"] for s in forced["steps"]]


def test_cc_names_a_target_not_a_program():
    from srcbuild.errors import RequirementSyntaxError

    assert parse("cc:aarch64-linux").name == "aarch64-linux"
    for bad in ("cc:aarch64-linux-gnu-gcc", "cc:/usr/bin/gcc", "cc:gcc"):
        with pytest.raises(RequirementSyntaxError, match="ARCH-OS"):
            parse(bad)


def test_system_packages_install_the_compiler_and_its_c_library_together():
    # what --system-packages runs when nothing (no recipe either) satisfies cc:aarch64-linux:
    # both packages, as separate words (Debian's Recommends are not installed)
    from types import SimpleNamespace

    from srcbuild.doctor import system_package_command
    from srcbuild.graph import Resolution
    from srcbuild.kinds import Satisfier

    graph = SimpleNamespace(resolutions=[
        Resolution(parse("cc:aarch64-linux"), "busybox", Satisfier.MISSING),
        Resolution(parse("cc:aarch64-linux"), "linux-kernel", Satisfier.MISSING)])
    assert system_package_command(graph, "apt") == [  # type: ignore[arg-type]
        "apt-get", "install", "-y", "--no-install-recommends", "gcc-aarch64-linux-gnu",
        "libc6-dev-arm64-cross"]
